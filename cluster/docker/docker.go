// Package docker is the cluster driver that runs nodes as Docker
// containers, managed with testcontainers-go, wired to each other through a
// Toxiproxy container: the same faults as the process driver
// (cluster/process), fault for fault.
//
// What one cluster is:
//
//   - An image FROM scratch holding a static faultline-node binary (the
//     node-only program of cmd/faultline-node: found beside Spec.Command[0],
//     else built from the module source with CGO_ENABLED=0), tagged
//     faultline:<hash of the binary> and reused while the binary is
//     unchanged. Nothing is pulled.
//   - One bridge network for the run. Each node is a container on it with
//     the alias n<id>, running the node's command line with its data dir at
//     /data inside the container (kept across restarts of the same
//     container). Its client and admin ports are published on 127.0.0.1
//     only, on ports fixed for the cluster's life, so restarts keep its
//     endpoints.
//   - One container running `faultline-node toxiproxy` (alias toxiproxy):
//     the pinned Toxiproxy server with faultline's partition gate toxic. The
//     harness drives it through Toxiproxy's HTTP API client (cluster/mesh,
//     Connect), with one proxy per ordered pair of nodes; node i's peer
//     address for node j is toxiproxy:<port of proxy i->j>.
//   - Kill is SIGKILL to the container (docker kill), a restart starts the
//     same container again, pause and resume are docker pause and unpause
//     (the cgroup freezer).
//   - Each container's output is attached before every start and appended
//     to RunDir/nodes/<name>.log; the proxy's to RunDir/nodes/toxiproxy.log.
//
// testcontainers' reaper is turned off (TESTCONTAINERS_RYUK_DISABLED=true):
// Close removes every container and the network, and the runner calls it
// at the end, on Ctrl-C and when the run panics. A reaper child process
// (this very binary, re-executed; see reaper.go) removes them when the
// harness dies without closing (a panic in another goroutine, SIGKILL).
// Everything carries labels (LabelManaged, LabelRun, LabelOwner,
// LabelCluster ...), so Clean (`faultline clean`) removes what is left when
// even the reaper was killed.
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
	"path"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/cluster/mesh"
	"github.com/faultline/faultline/internal/freeport"
	"github.com/faultline/faultline/systems"
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
	// proxyTimeout caps the wait for the Toxiproxy container's API.
	proxyTimeout = 60 * time.Second
	proxyPoll    = 50 * time.Millisecond
	// closeTimeout bounds Close's removal of containers and network.
	closeTimeout = 60 * time.Second
	// engineTimeout bounds a container start asked of the engine. The
	// call is not cut short by the caller's context: a start the engine
	// carries out after its caller gave up would leave a node running
	// that the core counts as stopped. (The core bounds signals the same
	// way.) Two minutes, because a busy engine shared with other runs
	// has taken over 30 s to start one container.
	engineTimeout = 2 * time.Minute
)

// Driver runs a cluster's nodes as containers. It implements
// cluster.Driver; use it for one cluster.
type Driver struct {
	logger *slog.Logger
	runDir string
	cli    *testcontainers.DockerClient
	http   *http.Client
	labels map[string]string
	name   string // prefix of container names: faultline-<random>
	image  string // the node image's reference

	ports  *freeport.Ports
	net    *testcontainers.DockerNetwork
	proxy  *box // the Toxiproxy container
	reaper *reaper
	// nodePorts are the host ports of the nodes: client and admin of
	// node i at [2(i-1)] and [2(i-1)+1].
	nodePorts []string
	// sidecars are the Toxiproxy sidecars of an Advertised system's
	// nodes, and hosts the host entries each node's container gets (by
	// alias), which send its peers' names to its sidecar.
	sidecars []*box
	hosts    map[string][]string

	foreign bool // nodes are a foreign program: run each in its data dir

	mu    sync.Mutex
	nodes map[int]*box // node containers, made on their first start
}

var (
	_ cluster.Driver      = (*Driver)(nil)
	_ cluster.LinkFaulter = (*Driver)(nil)
)

// New returns a driver for one cluster.
func New() *Driver { return &Driver{nodes: map[int]*box{}} }

// Start starts spec's cluster as containers (cluster.Start with a new
// Driver).
func Start(ctx context.Context, spec cluster.Spec) (*cluster.Cluster, error) {
	return cluster.Start(ctx, spec, New())
}

// Name is "docker".
func (*Driver) Name() string { return "docker" }

// Prepare connects to the engine, finds the node image (building it when
// needed), and makes the run's network and Toxiproxy container with the
// mesh on it. On error, Close removes whatever was made.
func (d *Driver) Prepare(ctx context.Context, spec cluster.Spec) (*cluster.Layout, error) {
	d.logger, d.runDir = spec.Logger, spec.RunDir
	program := []string{nodeBinaryInImage}
	if d.foreign = spec.Foreign != nil; d.foreign {
		if why := notStatic(spec.Program); why != "" {
			return nil, fmt.Errorf("system %s: the docker runtime needs a static Linux node program: %s", spec.System, why)
		}
		program = []string{programDir + "/" + filepath.Base(spec.Program)}
	}
	bin, err := d.connect(ctx, spec.Command, spec.Program)
	if err != nil {
		return nil, err
	}
	d.label(filepath.Base(spec.RunDir))
	// Before anything exists that could be left behind.
	d.reaper = startReaper(d.name, reaperLog(spec.RunDir), d.logger)
	if err := d.makeNetwork(ctx); err != nil {
		return nil, err
	}
	// Host ports come from below the ephemeral range, as for the process
	// driver, reserved until Close: a stopped container's host port is
	// free to bind until it starts again, but no other faultline run
	// takes it. One for the proxy's API (one per sidecar), two per node.
	apis := 1
	if spec.Addressing == systems.Advertised {
		apis = spec.Nodes
	}
	if d.ports, err = freeport.Reserve(apis + 2*spec.Nodes); err != nil {
		return nil, err
	}
	d.nodePorts = d.ports.Addrs[apis:]
	l := &cluster.Layout{Program: program}
	if spec.Addressing == systems.Advertised {
		if l.Mesh, err = d.startSidecars(ctx, spec.Nodes, d.ports.Addrs[:apis]); err != nil {
			return nil, err
		}
	} else {
		if err := d.startProxy(ctx, d.ports.Addrs[0]); err != nil {
			return nil, err
		}
		if l.Mesh, err = d.connectMesh(ctx, spec.Nodes, d.ports.Addrs[0]); err != nil {
			return nil, err
		}
	}
	d.logger.Info("cluster laid out", "image", d.image, "binary", bin, "network", d.net.Name)
	for i := range spec.Nodes {
		l.Nodes = append(l.Nodes, cluster.Place{
			PeerListen:   net.JoinHostPort("0.0.0.0", strconv.Itoa(peerPort)),
			ClientListen: net.JoinHostPort("0.0.0.0", strconv.Itoa(clientPort)),
			AdminListen:  net.JoinHostPort("0.0.0.0", strconv.Itoa(adminPort)),
			Client:       d.nodePorts[2*i],
			Admin:        d.nodePorts[2*i+1],
			DataDir:      dataDir,
		})
		if spec.Addressing == systems.Advertised {
			l.Nodes[i].PeerListen = net.JoinHostPort("0.0.0.0", strconv.Itoa(advertisedPort(i+1)))
			l.Nodes[i].Advertise = advertisedAddr(i + 1)
		}
	}
	return l, nil
}

// peerAddr is node id's peer address on the run's network.
func peerAddr(id int) string {
	return net.JoinHostPort(systems.NodeName(id), strconv.Itoa(peerPort))
}

// LinkMechanism: the Toxiproxy container's mesh for PerLink systems; a
// Toxiproxy sidecar beside each node for Advertised ones (sidecar.go).
func (*Driver) LinkMechanism(a systems.Addressing) (string, string) {
	if a == systems.Advertised {
		return mesh.SidecarMechanism, ""
	}
	return MeshMechanism, ""
}

// MeshMechanism is how the docker runtime's links are cut and slowed
// (test.json's link_mechanism).
const MeshMechanism = "toxiproxy mesh (container), one proxy per ordered pair"

// connect connects to the engine and finds or builds the node image; it
// returns the node binary the image holds.
func (d *Driver) connect(ctx context.Context, command []string, program string) (string, error) {
	var err error
	if d.cli, err = engine(ctx); err != nil {
		return "", err
	}
	var candidate string
	if len(command) > 0 {
		candidate = command[0]
	}
	bin, err := nodeBinary(ctx, d.logger, candidate)
	if err != nil {
		return "", err
	}
	if d.image, err = ensureImage(ctx, d.cli, d.logger, bin, program); err != nil {
		return "", err
	}
	return bin, nil
}

// label names the cluster and sets the labels everything it makes carries.
func (d *Driver) label(run string) {
	suffix := make([]byte, 4)
	rand.Read(suffix)
	d.name = "faultline-" + hex.EncodeToString(suffix)
	d.labels = map[string]string{
		LabelManaged: "true",
		LabelRun:     run,
		LabelOwner:   owner(),
		LabelCluster: d.name,
	}
	d.http = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}

// makeNetwork creates the run's bridge network.
func (d *Driver) makeNetwork(ctx context.Context) error {
	var err error
	d.net, err = tcnetwork.New(ctx, tcnetwork.WithLabels(d.labels), tcnetwork.WithDriver("bridge"))
	if err != nil {
		return fmt.Errorf("create network: %w", err)
	}
	d.logger.Debug("network created", "network", d.net.Name)
	return nil
}

// startProxy creates and starts the Toxiproxy container, its API published
// at api, and waits until the API answers.
func (d *Driver) startProxy(ctx context.Context, api string) error {
	var err error
	d.proxy, err = d.startToxiproxy(ctx, proxyAlias, "toxiproxy", api)
	return err
}

// startToxiproxy creates and starts a container running the Toxiproxy
// server (alias alias, role label role), its API published at api, and
// waits until the API answers. The container is returned as soon as it
// exists, so Close removes it whatever happens next.
func (d *Driver) startToxiproxy(ctx context.Context, alias, role, api string) (*box, error) {
	b := &box{name: d.name + "-" + alias}
	var err error
	b.c, err = d.create(ctx, b.name, alias, map[string]string{LabelRole: role},
		[]string{nodeBinaryInImage, "toxiproxy", "--listen", net.JoinHostPort("0.0.0.0", strconv.Itoa(apiPort))},
		map[int]string{apiPort: api}, nil, false)
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(d.runDir, "nodes", alias+".log")
	log, err := cluster.OpenLog(logPath, "starting container "+b.name, "")
	if err != nil {
		return b, fmt.Errorf("start %s: %w", b.name, err)
	}
	r, err := d.start(ctx, b, log)
	if err != nil {
		return b, err
	}
	return b, d.waitProxy(ctx, b.name, api, r, logPath)
}

// waitProxy waits for the API of the Toxiproxy container name to answer.
func (d *Driver) waitProxy(ctx context.Context, name, api string, r *run, logPath string) error {
	ctx, cancel := context.WithTimeout(ctx, proxyTimeout)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+api+"/version", nil)
		resp, err := d.http.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /version: %s", resp.Status)
		}
		last = err
		select {
		case <-r.Exited():
			return fmt.Errorf("%s exited (%s); last lines of %s:\n%s",
				name, r.ExitStatus(), logPath, cluster.LogTail(logPath, cluster.LogTailLines))
		case <-ctx.Done():
			return fmt.Errorf("toxiproxy API of %s at %s not up: %w (last: %v)", name, api, ctx.Err(), last)
		case <-time.After(proxyPoll):
		}
	}
}

// connectMesh creates the proxies of an n-node mesh on the Toxiproxy
// container whose API is at api.
func (d *Driver) connectMesh(ctx context.Context, n int, api string) (*mesh.Mesh, error) {
	upstreams := make(map[int]string, n)
	for id := 1; id <= n; id++ {
		upstreams[id] = peerAddr(id)
	}
	ports := make([]int, mesh.ProxyCount(n))
	for i := range ports {
		ports[i] = proxyBase + i
	}
	return mesh.Connect(ctx, d.logger, mesh.RemoteConfig{
		API: api, Upstreams: upstreams,
		ListenHost: "0.0.0.0", DialHost: proxyAlias, Ports: ports,
	})
}

// Spawn starts a node's container, creating it on the node's first start
// (alias n<id>, its client and admin ports published).
func (d *Driver) Spawn(ctx context.Context, l cluster.Launch) (cluster.Handle, error) {
	d.mu.Lock()
	b := d.nodes[l.Config.ID]
	d.mu.Unlock()
	if b == nil {
		b = &box{name: d.name + "-" + l.Config.Name}
		p := l.Config
		var err error
		b.c, err = d.create(ctx, b.name, p.Name, map[string]string{LabelRole: "node", LabelNode: p.Name},
			l.Command, d.published(p.ID), l.Env, d.foreign)
		if err != nil {
			l.Log.Close()
			return nil, err
		}
		d.mu.Lock()
		d.nodes[p.ID] = b
		d.mu.Unlock()
	}
	for rel, content := range l.Files {
		if err := cluster.CheckFilePath(rel); err != nil {
			l.Log.Close()
			return nil, err
		}
		if err := b.c.CopyToContainer(ctx, content, path.Join(l.Config.DataDir, rel), 0o644); err != nil {
			l.Log.Close()
			return nil, fmt.Errorf("copy %s into %s: %w", rel, b.name, err)
		}
	}
	return d.start(ctx, b, l.Log)
}

// published maps node id's client and admin ports to their host ports.
func (d *Driver) published(id int) map[int]string {
	return map[int]string{clientPort: d.nodePorts[2*(id-1)], adminPort: d.nodePorts[2*(id-1)+1]}
}

// ContainerID returns the Docker ID of a node's container, once made.
func (d *Driver) ContainerID(id int) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.nodes[id]
	if b == nil {
		return "", false
	}
	return b.c.GetContainerID(), true
}

// Network returns the name of the run's Docker network.
func (d *Driver) Network() string { return d.net.Name }

// Close removes every container and the network. The core has killed
// every node by then.
func (d *Driver) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	d.mu.Lock()
	boxes := make([]*box, 0, len(d.nodes)+1+len(d.sidecars))
	if d.proxy != nil {
		boxes = append(boxes, d.proxy)
	}
	boxes = append(boxes, d.sidecars...)
	for _, b := range d.nodes {
		boxes = append(boxes, b)
	}
	d.mu.Unlock()
	errs := make([]error, len(boxes), len(boxes)+2)
	var wg sync.WaitGroup
	for i, b := range boxes {
		wg.Go(func() { errs[i] = d.remove(ctx, b) })
	}
	wg.Wait()
	if d.net != nil {
		if err := d.cli.NetworkRemove(ctx, d.net.ID); err != nil && !client.IsErrNotFound(err) {
			errs = append(errs, fmt.Errorf("remove network %s: %w", d.net.Name, err))
		}
	}
	if d.ports != nil {
		errs = append(errs, d.ports.Release())
	}
	d.reaper.stop()
	if d.cli != nil {
		d.cli.Close()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w (run `faultline clean` to remove leftovers)", err)
	}
	return nil
}

// remove force-removes b's container (SIGKILLing it if it still runs) and
// waits, bounded by ctx, until its output is in its log.
func (d *Driver) remove(ctx context.Context, b *box) error {
	err := d.cli.ContainerRemove(ctx, b.c.GetContainerID(), container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !client.IsErrNotFound(err) {
		return fmt.Errorf("remove container %s: %w", b.name, err)
	}
	if r := b.last(); r != nil {
		select {
		case <-r.exited:
		case <-ctx.Done():
		}
	}
	return nil
}
