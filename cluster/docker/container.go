package docker

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"
	"github.com/testcontainers/testcontainers-go"

	"github.com/faultline/faultline/cluster"
)

// box is one container: a node's (kept across its restarts) or the
// proxy's.
type box struct {
	name string
	c    testcontainers.Container

	mu  sync.Mutex
	run *run // the latest start, nil before the first
}

func (b *box) last() *run {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.run
}

// run is one start of a container, the docker driver's cluster.Handle: it
// ends when the container stops.
type run struct {
	cli    *testcontainers.DockerClient
	id     string        // the container's
	exited chan struct{} // closed once it stopped and its output is logged
	status int64         // exit status, set before exited is closed
}

var _ cluster.Handle = (*run)(nil)

// Exited is closed once the container has stopped and its output is in
// its log (or a second after it stopped, if the stream lags).
func (r *run) Exited() <-chan struct{} { return r.exited }

// ExitStatus is the container's exit status, e.g. "exit status 137".
func (r *run) ExitStatus() string { return fmt.Sprintf("exit status %d", r.status) }

// Signal is docker kill (SIGKILL; the engine thaws a paused container
// for it), pause or unpause. A conflict means the container stopped on its
// own meanwhile (or is already in the state asked for).
func (r *run) Signal(ctx context.Context, sig cluster.Signal) error {
	var err error
	switch sig {
	case cluster.Kill:
		err = r.cli.ContainerKill(ctx, r.id, "KILL")
	case cluster.Stop:
		err = r.cli.ContainerPause(ctx, r.id)
	case cluster.Cont:
		err = r.cli.ContainerUnpause(ctx, r.id)
	}
	if err != nil && !client.IsErrNotFound(err) && !errdefs.IsConflict(err) {
		return err
	}
	return nil
}

// create makes (without starting) a container of the node image on the
// run's network, running command (its first element the entrypoint).
// publish maps container ports to "127.0.0.1:port" on the host.
// env ("KEY=VALUE") is the container's environment; inData runs it in
// the data dir.
func (d *Driver) create(ctx context.Context, name, alias string, labels map[string]string, command []string, publish map[int]string, env []string, inData bool) (testcontainers.Container, error) {
	all := make(map[string]string, len(d.labels)+len(labels))
	for k, v := range d.labels {
		all[k] = v
	}
	for k, v := range labels {
		all[k] = v
	}
	bindings := nat.PortMap{}
	var exposed []string
	for cport, hostAddr := range publish {
		host, hport, err := net.SplitHostPort(hostAddr)
		if err != nil {
			return nil, err
		}
		p := nat.Port(fmt.Sprintf("%d/tcp", cport))
		bindings[p] = []nat.PortBinding{{HostIP: host, HostPort: hport}}
		exposed = append(exposed, string(p))
	}
	envMap := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		envMap[k] = v
	}
	req := testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:          d.image,
			Name:           name,
			Entrypoint:     command[:1],
			Cmd:            command[1:],
			Env:            envMap,
			Labels:         all,
			ExposedPorts:   exposed,
			Networks:       []string{d.net.Name},
			NetworkAliases: map[string][]string{d.net.Name: {alias}},
			ConfigModifier: func(c *container.Config) {
				if inData {
					c.WorkingDir = dataDir
				}
			},
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.PortBindings = bindings
				hc.ExtraHosts = d.hosts[alias]
			},
		},
		Started: false,
	}
	ctr, err := testcontainers.GenericContainer(ctx, req)
	if err != nil {
		// A container created before the failure still needs removing.
		if ctr != nil {
			_ = ctr.Terminate(context.WithoutCancel(ctx))
		}
		return nil, fmt.Errorf("create container %s: %w", name, err)
	}
	d.logger.Debug("container created", "container", name, "cmd", command)
	return ctr, nil
}

// start attaches b's output to log and starts b. It owns log.
func (d *Driver) start(ctx context.Context, b *box, log *os.File) (*run, error) {
	if err := ctx.Err(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", b.name, err)
	}
	id := b.c.GetContainerID()
	// Attach before the start, so not a line is missed; the stream ends
	// when the container stops.
	att, err := d.cli.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: attach: %w", b.name, err)
	}
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		defer log.Close()
		defer att.Close()
		_, _ = stdcopy.StdCopy(log, log, att.Reader)
	}()
	sctx, cancel := engineCtx(ctx)
	defer cancel()
	if err := b.c.Start(sctx); err != nil {
		att.Close()
		return nil, fmt.Errorf("start %s: %w", b.name, err)
	}
	r := &run{cli: d.cli, id: id, exited: make(chan struct{})}
	// Wait from a context of its own: the wait must outlive ctx, and
	// Close ends it by removing the container.
	waitc, errc := d.cli.ContainerWait(context.Background(), id, container.WaitConditionNotRunning)
	go func() {
		defer close(r.exited)
		select {
		case res := <-waitc:
			r.status = res.StatusCode
		case <-errc:
			r.status = -1
		}
		select {
		case <-logged:
		case <-time.After(time.Second):
		}
	}()
	b.mu.Lock()
	b.run = r
	b.mu.Unlock()
	d.logger.Info("container started", "container", b.name)
	return r, nil
}

// engineCtx is the context of one state change asked of the engine: ctx's
// values without its end, bounded by engineTimeout (see there).
func engineCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), engineTimeout)
}
