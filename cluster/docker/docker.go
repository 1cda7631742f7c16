// Package docker runs a cluster's nodes as Docker containers, managed with
// testcontainers-go, wired to each other through a Toxiproxy container: the
// same faults as the process runtime (cluster/process), fault for fault.
//
// What one cluster is:
//
//   - An image FROM scratch holding a static faultline binary (the harness's
//     own executable when it is static, else one built from the module
//     source with CGO_ENABLED=0), tagged faultline:<hash of the binary> and
//     reused while the binary is unchanged. Nothing is pulled.
//   - One bridge network for the run. Each node is a container on it with
//     the alias n<id>, running `faultline node` with its data dir at /data
//     inside the container (kept across restarts of the same container).
//     Its client and admin ports are published on 127.0.0.1 only, on ports
//     fixed for the cluster's life, so restarts keep its endpoints.
//   - One container running `faultline toxiproxy` (alias toxiproxy): the
//     pinned Toxiproxy server with faultline's partition gate toxic. The
//     harness drives it through Toxiproxy's HTTP API client (cluster/mesh,
//     Connect), with one proxy per ordered pair of nodes; node i's peer
//     address for node j is toxiproxy:<port of proxy i->j>.
//   - Kill is SIGKILL to the container (docker kill), Start restarts the same
//     container, Pause and Resume are docker pause and unpause (the cgroup
//     freezer), clocks go through the admin endpoint. Power loss (lazy
//     storage) is SIGKILL as in the process runtime.
//   - Each node's output is attached before every start and appended to
//     RunDir/nodes/<name>.log; the proxy's to RunDir/nodes/toxiproxy.log.
//
// testcontainers' reaper is turned off (TESTCONTAINERS_RYUK_DISABLED=true):
// Close removes every container and the network, and the runner calls it
// at the end, on Ctrl-C and when the run panics. A reaper child process
// (`faultline docker-reap`) removes them when the harness dies without
// closing (a panic in another goroutine, SIGKILL). Everything carries labels
// (LabelManaged, LabelRun, LabelOwner, LabelCluster ...), so Clean
// (`faultline clean`) removes what is left when even the reaper was killed.
package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/cluster/mesh"
	"github.com/faultline/faultline/internal/freeport"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/admin"
)

// Ports inside the containers. Each container has its own network
// namespace, so they are the same for every node.
const (
	peerPort   = 7000
	clientPort = 7001
	adminPort  = 7002
	apiPort    = 8474  // Toxiproxy's API
	proxyBase  = 10000 // first proxy port in the Toxiproxy container
	proxyAlias = "toxiproxy"
	dataDir    = "/data"
)

const (
	// readyTimeout caps how long Start waits for a node to become ready.
	readyTimeout = 60 * time.Second
	readyPoll    = 50 * time.Millisecond
	// statusTimeout bounds one admin request (a paused node never answers).
	statusTimeout = 5 * time.Second
	// closeTimeout bounds Close's removal of containers and network.
	closeTimeout = 60 * time.Second
	// engineTimeout bounds one state change asked of the engine (start,
	// kill, pause, unpause). Such a call is not cut short by the caller's
	// context: a kill the engine carries out after its caller gave up would
	// leave the node's state unknown, and a later Start would see a node
	// that is about to die as running.
	engineTimeout = 30 * time.Second
	logTailLines  = 20
)

// Cluster is a cluster of node containers. It implements cluster.Cluster;
// its methods are safe for concurrent use.
type Cluster struct {
	mesh.Links // partitions, link toxics and heal, through the mesh

	spec   cluster.Spec
	logger *slog.Logger
	cli    *testcontainers.DockerClient
	http   *http.Client
	labels map[string]string
	name   string // prefix of container names: faultline-<random>
	image  string // the node image's reference

	ports  *freeport.Ports
	net    *testcontainers.DockerNetwork
	proxy  *box // the Toxiproxy container
	reaper *reaper
	ids    []int
	nodes  map[int]*node

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ cluster.Cluster = (*Cluster)(nil)

// box is one container and the log its output goes to.
type box struct {
	name    string
	c       testcontainers.Container
	logPath string

	// mu serialises starting, signalling and removing the container.
	mu  sync.Mutex
	run *run // the current start, nil before the first
}

// run is one start of a container: it ends when the container stops.
type run struct {
	exited chan struct{} // closed when the container is no longer running
	status int64         // exit status, set before exited is closed
	logged chan struct{} // closed when its output is all in the log
	paused bool          // guarded by box.mu
}

func (r *run) running() bool {
	if r == nil {
		return false
	}
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

type node struct {
	box
	cfg                   systems.NodeConfig // as the node sees itself
	clientAddr, adminAddr string             // as the harness reaches it
}

// Start starts spec.Nodes node containers wired through a Toxiproxy
// container on a new network and returns once every node reports ready
// (or fails, when it has removed everything it created). Spec.Command[0]
// is used as the containers' binary when it is a static faultline; the
// node flags come from systems.NodeConfig.Args.
func Start(ctx context.Context, spec cluster.Spec) (_ *Cluster, err error) {
	if spec.Nodes < 1 {
		return nil, fmt.Errorf("docker runtime: need at least one node, got %d", spec.Nodes)
	}
	if spec.RunDir == "" {
		return nil, errors.New("docker runtime: no run directory")
	}
	logger := spec.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("runtime", "docker")
	if err := os.MkdirAll(filepath.Join(spec.RunDir, "nodes"), 0o755); err != nil {
		return nil, fmt.Errorf("docker runtime: %w", err)
	}
	cli, err := engine(ctx)
	if err != nil {
		return nil, err
	}
	var candidate string
	if len(spec.Command) > 0 {
		candidate = spec.Command[0]
	}
	bin, err := staticBinary(ctx, logger, candidate)
	if err != nil {
		cli.Close()
		return nil, err
	}
	img, err := ensureImage(ctx, cli, logger, bin)
	if err != nil {
		cli.Close()
		return nil, err
	}

	suffix := make([]byte, 4)
	rand.Read(suffix)
	c := &Cluster{
		spec:   spec,
		logger: logger,
		cli:    cli,
		http: &http.Client{
			Timeout:   statusTimeout,
			Transport: &http.Transport{DisableKeepAlives: true},
		},
		name: "faultline-" + hex.EncodeToString(suffix),
		labels: map[string]string{
			LabelManaged: "true",
			LabelRun:     filepath.Base(spec.RunDir),
			LabelOwner:   owner(),
		},
		nodes: make(map[int]*node, spec.Nodes),
		image: img,
	}
	c.labels[LabelCluster] = c.name
	// Before anything exists that could be left behind.
	c.reaper = startReaper(bin, c.name, reaperLog(spec.RunDir), logger)
	// From here on every failure removes what was made, also when ctx ends.
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Close())
		}
	}()

	c.net, err = tcnetwork.New(ctx, tcnetwork.WithLabels(c.labels), tcnetwork.WithDriver("bridge"))
	if err != nil {
		return nil, fmt.Errorf("docker runtime: create network: %w", err)
	}
	logger.Debug("network created", "network", c.net.Name)

	// Host ports come from below the ephemeral range, as in the process
	// runtime: one for the proxy's API, two per node.
	// Reserved until Close: a stopped container's host port is free to
	// bind until it starts again, but no other faultline run takes it.
	c.ports, err = freeport.Reserve(1 + 2*spec.Nodes)
	if err != nil {
		return nil, fmt.Errorf("docker runtime: %w", err)
	}
	hostPorts := c.ports.Addrs

	c.proxy = &box{name: c.name + "-" + proxyAlias, logPath: filepath.Join(spec.RunDir, "nodes", proxyAlias+".log")}
	c.proxy.c, err = c.create(ctx, img, c.proxy.name, proxyAlias, map[string]string{LabelRole: "toxiproxy"},
		[]string{"toxiproxy", "--listen", net.JoinHostPort("0.0.0.0", strconv.Itoa(apiPort))},
		map[int]string{apiPort: hostPorts[0]})
	if err != nil {
		return nil, err
	}
	if err := c.startBox(ctx, c.proxy); err != nil {
		return nil, err
	}
	if err := c.waitProxy(ctx, hostPorts[0]); err != nil {
		return nil, err
	}
	upstreams := make(map[int]string, spec.Nodes)
	for id := 1; id <= spec.Nodes; id++ {
		upstreams[id] = net.JoinHostPort(systems.NodeName(id), strconv.Itoa(peerPort))
	}
	ports := make([]int, mesh.ProxyCount(spec.Nodes))
	for i := range ports {
		ports[i] = proxyBase + i
	}
	c.Links.Mesh, err = mesh.Connect(ctx, logger, mesh.RemoteConfig{
		API: hostPorts[0], Upstreams: upstreams,
		ListenHost: "0.0.0.0", DialHost: proxyAlias, Ports: ports,
	})
	if err != nil {
		return nil, fmt.Errorf("docker runtime: %w", err)
	}

	for id := 1; id <= spec.Nodes; id++ {
		name := systems.NodeName(id)
		n := &node{
			box: box{name: c.name + "-" + name, logPath: filepath.Join(spec.RunDir, "nodes", name+".log")},
			cfg: systems.NodeConfig{
				System:       spec.System,
				ID:           id,
				Name:         name,
				PeerListen:   net.JoinHostPort("0.0.0.0", strconv.Itoa(peerPort)),
				ClientListen: net.JoinHostPort("0.0.0.0", strconv.Itoa(clientPort)),
				AdminListen:  net.JoinHostPort("0.0.0.0", strconv.Itoa(adminPort)),
				Peers:        c.Links.Mesh.PeersOf(id),
				DataDir:      dataDir,
				Bugs:         slices.Clone(spec.Bugs),
				Storage:      spec.Storage,
			},
			clientAddr: hostPorts[1+2*(id-1)],
			adminAddr:  hostPorts[2+2*(id-1)],
		}
		c.ids = append(c.ids, id)
		c.nodes[id] = n
	}
	// Create, start and wait for every node at once: the engine's work per
	// container is mostly waiting, and nodes of one cluster often wait for
	// each other before they call themselves ready.
	errs := make([]error, len(c.ids))
	var wg sync.WaitGroup
	for i, id := range c.ids {
		n := c.nodes[id]
		wg.Go(func() { errs[i] = c.bringUp(ctx, img, n) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("docker runtime: cluster did not come up: %w", err)
	}
	logger.Info("cluster ready", "system", spec.System, "nodes", spec.Nodes, "image", img, "network", c.net.Name)
	return c, nil
}

// bringUp creates n's container, starts it and waits until it is ready.
func (c *Cluster) bringUp(ctx context.Context, img string, n *node) error {
	n.mu.Lock()
	ctr, err := c.create(ctx, img, n.name, n.cfg.Name, map[string]string{LabelRole: "node", LabelNode: n.cfg.Name},
		append([]string{"node"}, n.cfg.Args()...),
		map[int]string{clientPort: n.clientAddr, adminPort: n.adminAddr})
	n.c = ctr
	if err == nil {
		err = c.startBox(ctx, &n.box)
	}
	r := n.run
	n.mu.Unlock()
	if err != nil {
		return err
	}
	return c.waitReady(ctx, n, r)
}

// create makes (without starting) a container of img on the run's
// network. publish maps container ports to "127.0.0.1:port" on the host.
func (c *Cluster) create(ctx context.Context, img, name, alias string, labels map[string]string, cmd []string, publish map[int]string) (testcontainers.Container, error) {
	all := make(map[string]string, len(c.labels)+len(labels))
	for k, v := range c.labels {
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
			return nil, fmt.Errorf("docker runtime: %w", err)
		}
		p := nat.Port(fmt.Sprintf("%d/tcp", cport))
		bindings[p] = []nat.PortBinding{{HostIP: host, HostPort: hport}}
		exposed = append(exposed, string(p))
	}
	req := testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:          img,
			Name:           name,
			Cmd:            cmd,
			Labels:         all,
			ExposedPorts:   exposed,
			Networks:       []string{c.net.Name},
			NetworkAliases: map[string][]string{c.net.Name: {alias}},
			HostConfigModifier: func(hc *container.HostConfig) {
				hc.PortBindings = bindings
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
		return nil, fmt.Errorf("docker runtime: create container %s: %w", name, err)
	}
	c.logger.Debug("container created", "container", name, "cmd", cmd)
	return ctr, nil
}

// startBox attaches b's output to its log and starts it; b.mu is held (or
// b is not shared yet).
func (c *Cluster) startBox(ctx context.Context, b *box) error {
	if c.closed.Load() {
		return errors.New("docker runtime: cluster is closed")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start %s: %w", b.name, err)
	}
	id := b.c.GetContainerID()
	logf, err := os.OpenFile(b.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("start %s: open log: %w", b.name, err)
	}
	// Attach before the start, so not a line is missed; the stream ends
	// when the container stops.
	att, err := c.cli.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		logf.Close()
		return fmt.Errorf("start %s: attach: %w", b.name, err)
	}
	fmt.Fprintf(logf, "--- faultline: starting container %s at %s\n", b.name, time.Now().Format(time.RFC3339Nano))
	r := &run{exited: make(chan struct{}), logged: make(chan struct{})}
	go func() {
		defer close(r.logged)
		defer logf.Close()
		defer att.Close()
		_, _ = stdcopy.StdCopy(logf, logf, att.Reader)
	}()
	sctx, cancel := engineCtx(ctx)
	defer cancel()
	if err := b.c.Start(sctx); err != nil {
		att.Close()
		return fmt.Errorf("start %s: %w", b.name, err)
	}
	// Wait from a context of its own: the wait must outlive ctx, and
	// Close ends it by removing the container.
	waitc, errc := c.cli.ContainerWait(context.Background(), id, container.WaitConditionNotRunning)
	go func() {
		defer close(r.exited)
		select {
		case res := <-waitc:
			r.status = res.StatusCode
		case <-errc:
			r.status = -1
		}
	}()
	b.run = r
	c.logger.Info("container started", "container", b.name)
	return nil
}

// waitProxy waits for the Toxiproxy container's API to answer.
func (c *Cluster) waitProxy(ctx context.Context, api string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+api+"/version", nil)
		resp, err := c.http.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /version: %s", resp.Status)
		}
		last = err
		select {
		case <-c.proxy.run.exited:
			return fmt.Errorf("docker runtime: %s exited (status %d); last lines of %s:\n%s",
				c.proxy.name, c.proxy.run.status, c.proxy.logPath, cluster.LogTail(c.proxy.logPath, logTailLines))
		case <-ctx.Done():
			return fmt.Errorf("docker runtime: toxiproxy API at %s not up: %w (last: %v)", api, ctx.Err(), last)
		case <-time.After(readyPoll):
		}
	}
}

// waitReady polls n's status until it is ready, r ends, or the wait ends.
func (c *Cluster) waitReady(ctx context.Context, n *node, r *run) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	var last string
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, time.Second)
		st, err := c.status(attempt, n)
		cancelAttempt()
		switch {
		case err == nil && st.Ready:
			return nil
		case err != nil:
			last = err.Error()
		default:
			last = fmt.Sprintf("status says not ready: %+v", st)
		}
		select {
		case <-r.exited:
			<-waitLogged(r)
			return fmt.Errorf("%s exited before it was ready (status %d); last lines of %s:\n%s",
				n.cfg.Name, r.status, n.logPath, cluster.LogTail(n.logPath, logTailLines))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last: %s); last lines of %s:\n%s",
				n.cfg.Name, ctx.Err(), last, n.logPath, cluster.LogTail(n.logPath, logTailLines))
		case <-tick.C:
		}
	}
}

// waitLogged is closed once r's output is in the log, or after a second.
func waitLogged(r *run) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-r.logged:
		case <-time.After(time.Second):
		}
	}()
	return done
}

// Nodes returns every node's endpoints, as the harness reaches them.
func (c *Cluster) Nodes() []systems.Endpoint {
	eps := make([]systems.Endpoint, 0, len(c.ids))
	for _, id := range c.ids {
		n := c.nodes[id]
		eps = append(eps, systems.Endpoint{ID: id, Name: n.cfg.Name, Client: n.clientAddr, Admin: n.adminAddr})
	}
	return eps
}

// ContainerID returns the Docker ID of a node's container.
func (c *Cluster) ContainerID(id int) (string, bool) {
	n, err := c.node(id)
	if err != nil {
		return "", false
	}
	return n.c.GetContainerID(), true
}

// Network returns the name of the run's Docker network.
func (c *Cluster) Network() string { return c.net.Name }

// Kill sends SIGKILL to a node's container (paused or not) and returns once
// it has stopped. Killing a stopped node is a no-op.
func (c *Cluster) Kill(ctx context.Context, id int) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return c.kill(ctx, &n.box)
}

// kill SIGKILLs b and waits until it is stopped; b.mu is held.
func (c *Cluster) kill(ctx context.Context, b *box) error {
	r := b.run
	if !r.running() {
		return nil
	}
	ectx, cancel := engineCtx(ctx)
	defer cancel()
	// The engine thaws a paused container for SIGKILL. A conflict means
	// it stopped on its own meanwhile.
	if err := c.cli.ContainerKill(ectx, b.c.GetContainerID(), "KILL"); err != nil && !client.IsErrNotFound(err) && !isConflict(err) {
		return fmt.Errorf("kill %s: %w", b.name, err)
	}
	select {
	case <-r.exited:
	case <-ectx.Done():
		return fmt.Errorf("kill %s: waiting for it to stop: %w", b.name, ectx.Err())
	}
	c.logger.Info("container killed", "container", b.name)
	return nil
}

// Start starts a stopped node's container again (same container, same data
// dir, same ports) and returns once it reports ready. Starting a running
// node is a no-op.
func (c *Cluster) Start(ctx context.Context, id int) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	if n.run.running() {
		n.mu.Unlock()
		return nil
	}
	if err := c.startBox(ctx, &n.box); err != nil {
		n.mu.Unlock()
		return err
	}
	r := n.run
	n.mu.Unlock()
	// Wait without the lock, so the nemesis can kill a node that is
	// still starting.
	return c.waitReady(ctx, n, r)
}

// Pause freezes a running node's container (docker pause). Pausing a
// paused node is a no-op.
func (c *Cluster) Pause(ctx context.Context, id int) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.run.running() {
		return fmt.Errorf("pause %s: %w", n.cfg.Name, errNotRunning)
	}
	if n.run.paused {
		return nil
	}
	// Set first: a pause whose call failed (the engine was slow and ctx
	// ended) may still happen, and Resume must then undo it.
	n.run.paused = true
	ectx, cancel := engineCtx(ctx)
	defer cancel()
	if err := c.cli.ContainerPause(ectx, n.c.GetContainerID()); err != nil && !isConflict(err) {
		return fmt.Errorf("pause %s: %w", n.cfg.Name, err)
	}
	c.logger.Info("node paused", "node", n.cfg.Name)
	return nil
}

// Resume thaws a paused node (docker unpause). Resuming a node that is not
// paused is a no-op.
func (c *Cluster) Resume(ctx context.Context, id int) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	// Paused state is tracked here, not asked of the engine: recovery
	// resumes every node, and must not wait on a busy engine for that.
	if !n.run.running() || !n.run.paused {
		return nil
	}
	ectx, cancel := engineCtx(ctx)
	defer cancel()
	if err := c.cli.ContainerUnpause(ectx, n.c.GetContainerID()); err != nil && !isConflict(err) {
		return fmt.Errorf("resume %s: %w", n.cfg.Name, err)
	}
	n.run.paused = false
	c.logger.Info("node resumed", "node", n.cfg.Name)
	return nil
}

// Status asks a node's admin endpoint. A paused node does not answer: the
// call fails when ctx ends, and after 5s at most.
func (c *Cluster) Status(ctx context.Context, id int) (systems.Status, error) {
	n, err := c.node(id)
	if err != nil {
		return systems.Status{}, err
	}
	return c.status(ctx, n)
}

func (c *Cluster) status(ctx context.Context, n *node) (systems.Status, error) {
	st, err := admin.GetStatus(ctx, c.http, n.adminAddr)
	if err != nil {
		c.logger.Debug("status failed", "node", n.cfg.Name, "err", err)
		return st, fmt.Errorf("status of %s: %w", n.cfg.Name, err)
	}
	return st, nil
}

// SetClock sets a node's clock offset through its admin endpoint.
func (c *Cluster) SetClock(ctx context.Context, id int, offset time.Duration) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	if err := admin.SetClock(ctx, c.http, n.adminAddr, offset); err != nil {
		return fmt.Errorf("set clock of %s: %w", n.cfg.Name, err)
	}
	return nil
}

// Close removes every container and the network. It is safe to call more
// than once; later calls return the first call's result.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		var mu sync.Mutex
		var errs []error
		add := func(err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}
		if c.Links.Mesh != nil {
			// Closes every connection through the proxies before the
			// nodes go; the proxies go with their container anyway.
			if err := c.Links.Mesh.Close(); err != nil {
				c.logger.Warn("closing mesh", "err", err)
			}
		}
		boxes := []*box{}
		if c.proxy != nil {
			boxes = append(boxes, c.proxy)
		}
		for _, id := range c.ids {
			boxes = append(boxes, &c.nodes[id].box)
		}
		var wg sync.WaitGroup
		for _, b := range boxes {
			wg.Go(func() {
				b.mu.Lock()
				defer b.mu.Unlock()
				if b.c == nil {
					return
				}
				// Force removal SIGKILLs a running (or paused) container.
				if err := c.cli.ContainerRemove(ctx, b.c.GetContainerID(), container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !client.IsErrNotFound(err) {
					add(fmt.Errorf("remove container %s: %w", b.name, err))
					return
				}
				if b.run != nil {
					select {
					case <-b.run.logged:
					case <-ctx.Done():
					}
				}
			})
		}
		wg.Wait()
		if c.net != nil {
			if err := c.cli.NetworkRemove(ctx, c.net.ID); err != nil && !client.IsErrNotFound(err) {
				add(fmt.Errorf("remove network %s: %w", c.net.Name, err))
			}
		}
		c.http.CloseIdleConnections()
		if c.ports != nil {
			add(c.ports.Release())
		}
		c.reaper.stop()
		c.closeErr = errors.Join(errs...)
		if c.closeErr != nil {
			c.closeErr = fmt.Errorf("docker runtime: close: %w (run `faultline clean` to remove leftovers)", c.closeErr)
		}
		c.cli.Close()
		c.logger.Info("cluster closed")
	})
	return c.closeErr
}

func (c *Cluster) node(id int) (*node, error) {
	n, ok := c.nodes[id]
	if !ok {
		return nil, fmt.Errorf("docker runtime: no node %d (nodes are 1..%d)", id, len(c.ids))
	}
	return n, nil
}

// engineCtx is the context of one state change asked of the engine: ctx's
// values without its end, bounded by engineTimeout (see there).
func engineCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), engineTimeout)
}

func isConflict(err error) bool { return errdefs.IsConflict(err) }
