// Package cluster starts and drives a cluster of nodes under test: one core
// (Cluster) over small runtime drivers (Driver). The core keeps the nodes'
// state, waits for readiness, asks the nodes' admin endpoints, writes their
// logs, applies the no-op rules of kill, start, pause and resume, drives the
// mesh between the nodes and closes everything once; a driver only lays the
// cluster out and spawns, signals and removes nodes. cluster/process runs
// nodes as child processes, cluster/docker as containers, cluster/inmem as
// goroutines (for unit tests of what sits on top). Faults and the runner
// see a *Cluster and never know which driver is behind it.
package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/systems"
)

// Spec says what cluster to start.
type Spec struct {
	System string   // registry name, passed to the node as --system
	Nodes  int      // number of nodes, IDs 1..Nodes
	Bugs   []string // named bugs every node starts with
	// Storage is passed to every node (systems.StorageDurable or
	// systems.StorageLazy); empty means durable.
	Storage string
	// RunDir is the run's results directory: node logs go to
	// RunDir/nodes/<name>.log; the process driver keeps node data in
	// RunDir/data/<name>.
	RunDir string
	// Command is the program and leading arguments that run one node on
	// this machine, usually {os.Executable(), "node", "--parent-watch"}.
	// The process driver runs it; the docker driver looks for its node
	// binary beside Command[0].
	Command []string
	// Admin asks nodes for their status and sets their clocks; nil means
	// the included nodes' admin endpoint (HTTPAdmin). AdminOf makes one
	// from a system's probes.
	Admin Admin
	// Foreign, when set, makes every node a program of its own: the
	// driver runs Program (Foreign.Executable, filled in by Start) with
	// the node's Foreign.Command instead of Command and the node flags.
	Foreign systems.Foreign
	// Program is the foreign node program on this machine; Start fills
	// it in from Foreign.Executable, checked to exist.
	Program string
	// Addressing is how nodes reach their peers; empty means PerLink.
	// For Advertised, the driver lays out one advertised peer address per
	// node (Place.Advertise) and hands those to every node as its Peers.
	Addressing systems.Addressing
	// ReadyTimeout bounds the wait for a starting node to become ready;
	// 0 means a minute.
	ReadyTimeout time.Duration
	Logger       *slog.Logger
}

// Grudge says, for each node, the nodes it must not hear from.
type Grudge map[int][]int

// Toxic is one Toxiproxy toxic on one direction of a link.
type Toxic struct {
	Name string // unique per link; "partition" is reserved
	// Type is a Toxiproxy toxic type: latency, bandwidth, slicer,
	// timeout, reset_peer, limit_data, slow_close.
	Type string
	// Attributes are the type's attributes as Toxiproxy documents them,
	// e.g. {"latency": 200, "jitter": 50} (milliseconds) for latency.
	Attributes map[string]any
	// Toxicity is the probability the toxic applies; 0 means 1. Toxiproxy
	// draws it per connection, not per byte.
	Toxicity float32
}

const (
	// readyTimeout caps how long a start waits for a node to become
	// ready, whatever the caller's context allows.
	readyTimeout = 60 * time.Second
	// readyPoll is how often a start asks a starting node for its status.
	readyPoll = 50 * time.Millisecond
	// signalTimeout bounds one signal and, for a kill, the wait for the
	// node to exit. A caller giving up does not cut either short: a kill
	// carried out after its caller returned would leave the node's state
	// unknown, and a later Start would take a node about to die for a
	// running one.
	signalTimeout = 30 * time.Second
	// LogTailLines is how much of a node's log a start failure quotes.
	LogTailLines = 20
)

// ErrNotRunning is wrapped by errors about a node that is not running
// (pausing a killed node).
var ErrNotRunning = errors.New("not running")

// Cluster is a running cluster: its nodes and the mesh between them.
// Methods are safe for concurrent use.
type Cluster struct {
	driver Driver
	// ready bounds the wait for a node to become ready (Spec.ReadyTimeout).
	ready  time.Duration
	mesh   Mesh
	admin  Admin
	logger *slog.Logger
	name   string // the driver's, for errors
	ids    []int
	nodes  map[int]*node

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// node is one node's fixed configuration and, while it runs, its handle.
type node struct {
	cfg     systems.NodeConfig
	ep      systems.Endpoint
	command []string
	env     []string          // on top of the runtime's (foreign nodes)
	files   map[string][]byte // written into the data dir before each start
	logPath string

	// mu serialises starting, signalling and reaping this node.
	mu     sync.Mutex
	h      Handle // nil before the first start and after a kill
	paused bool
}

// running reports whether n's process is up (paused or not); n.mu is held.
func (n *node) running() bool {
	if n.h == nil {
		return false
	}
	select {
	case <-n.h.Exited():
		return false
	default:
		return true
	}
}

// Start starts spec.Nodes nodes on d, wired through d's mesh, and returns
// once every node reports ready. On failure it has closed everything it
// started. Each node's wait for readiness is bounded by spec.ReadyTimeout
// (a minute by default) from its spawn; laying the cluster out and the
// spawns before it are bounded by ctx only, so a caller wanting a bound on
// the whole start gives ctx a deadline (the runner does: runner.StartBound,
// and it stops waiting for a Start that overruns it).
func Start(ctx context.Context, spec Spec, d Driver) (_ *Cluster, err error) {
	c, err := prepare(ctx, spec, d)
	if err != nil {
		return nil, err
	}
	// From here on every failure closes what was made, also when ctx ends.
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Close())
		}
	}()
	// Start and wait for every node at once: nodes of one cluster often
	// wait for each other before they call themselves ready.
	errs := make([]error, len(c.ids))
	var wg sync.WaitGroup
	for i, id := range c.ids {
		wg.Go(func() { errs[i] = c.start(ctx, c.nodes[id]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%s runtime: cluster did not come up: %w", c.name, err)
	}
	c.logger.Info("cluster ready", "system", spec.System, "nodes", spec.Nodes, "run_dir", spec.RunDir)
	return c, nil
}

// prepare checks spec, has d lay the cluster out and fills in every node's
// configuration; nothing runs yet.
func prepare(ctx context.Context, spec Spec, d Driver) (*Cluster, error) {
	switch {
	case spec.Nodes < 1:
		return nil, fmt.Errorf("%s runtime: need at least one node, got %d", d.Name(), spec.Nodes)
	case spec.RunDir == "":
		return nil, fmt.Errorf("%s runtime: no run directory", d.Name())
	}
	if spec.Logger == nil {
		spec.Logger = slog.New(slog.DiscardHandler)
	}
	spec.Logger = spec.Logger.With("runtime", d.Name())
	if spec.Addressing == "" {
		spec.Addressing = systems.PerLink
	}
	if spec.Foreign != nil {
		prog, err := foreignProgram(spec)
		if err != nil {
			return nil, fmt.Errorf("%s runtime: %w", d.Name(), err)
		}
		spec.Program = prog
	}
	if err := os.MkdirAll(filepath.Join(spec.RunDir, "nodes"), 0o755); err != nil {
		return nil, fmt.Errorf("%s runtime: %w", d.Name(), err)
	}
	layout, err := d.Prepare(ctx, spec)
	switch {
	case err != nil:
	case layout.Mesh == nil:
		err = errors.New("laid out no mesh")
	case len(layout.Nodes) != spec.Nodes:
		err = fmt.Errorf("laid out %d nodes, want %d", len(layout.Nodes), spec.Nodes)
	}
	if err != nil {
		if layout != nil && layout.Mesh != nil {
			err = errors.Join(err, layout.Mesh.Close())
		}
		return nil, errors.Join(fmt.Errorf("%s runtime: %w", d.Name(), err), d.Close())
	}
	c := &Cluster{
		driver: d,
		ready:  cmp.Or(spec.ReadyTimeout, readyTimeout),
		mesh:   layout.Mesh,
		admin:  spec.Admin,
		logger: spec.Logger,
		name:   d.Name(),
		nodes:  make(map[int]*node, spec.Nodes),
	}
	if c.admin == nil {
		c.admin = NewHTTPAdmin()
	}
	for i, p := range layout.Nodes {
		id := i + 1
		name := systems.NodeName(id)
		cfg := systems.NodeConfig{
			System:       spec.System,
			ID:           id,
			Name:         name,
			PeerListen:   p.PeerListen,
			ClientListen: p.ClientListen,
			AdminListen:  p.AdminListen,
			Peers:        layout.Mesh.PeersOf(id),
			Advertise:    p.Advertise,
			DataDir:      p.DataDir,
			Bugs:         slices.Clone(spec.Bugs),
			Storage:      spec.Storage,
		}
		n := &node{
			cfg:     cfg,
			ep:      systems.Endpoint{ID: id, Name: name, Client: p.Client, Admin: p.Admin},
			command: NodeCommand(layout.Program, cfg),
			logPath: filepath.Join(spec.RunDir, "nodes", name+".log"),
		}
		if spec.Foreign != nil {
			fc, err := spec.Foreign.Command(cfg)
			if err != nil {
				err = fmt.Errorf("%s runtime: system %s: command of node %s: %w", d.Name(), spec.System, name, err)
				return nil, errors.Join(err, layout.Mesh.Close(), d.Close())
			}
			n.command = append(slices.Clone(layout.Program), fc.Args...)
			n.env, n.files = fc.Env, fc.Files
		}
		c.ids = append(c.ids, id)
		c.nodes[id] = n
	}
	return c, nil
}

// foreignProgram asks spec's foreign system for its node program and
// checks that it is there to run.
func foreignProgram(spec Spec) (string, error) {
	prog, err := spec.Foreign.Executable()
	if err != nil {
		return "", fmt.Errorf("system %s: node program: %w", spec.System, err)
	}
	fi, err := os.Stat(prog)
	switch {
	case err != nil:
		return "", fmt.Errorf("system %s: node program: %w", spec.System, err)
	case fi.IsDir() || fi.Mode()&0o111 == 0:
		return "", fmt.Errorf("system %s: node program %s is not an executable file (mode %s)", spec.System, prog, fi.Mode())
	}
	return prog, nil
}

// Nodes returns every node's endpoints, as the harness reaches them, by ID.
func (c *Cluster) Nodes() []systems.Endpoint {
	eps := make([]systems.Endpoint, 0, len(c.ids))
	for _, id := range c.ids {
		eps = append(eps, c.nodes[id].ep)
	}
	return eps
}

// Handle returns the handle of a running node (a driver's own type, for
// tests that look behind the core: a PID, a container), or false.
func (c *Cluster) Handle(id int) (Handle, bool) {
	n, err := c.node(id)
	if err != nil {
		return nil, false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.running() {
		return nil, false
	}
	return n.h, true
}

// Close kills every node, waits until each has exited, stops the mesh and
// has the driver remove the rest. It is safe to call more than once; later
// calls return the first call's result.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		ctx := context.Background() // each kill is bounded (signalTimeout)
		// The mesh first: no node sees its peers' links half gone.
		errs := []error{c.mesh.Close()}
		kills := make([]error, len(c.ids))
		var wg sync.WaitGroup
		for i, id := range c.ids {
			n := c.nodes[id]
			wg.Go(func() {
				n.mu.Lock()
				defer n.mu.Unlock()
				kills[i] = c.kill(ctx, n)
			})
		}
		wg.Wait()
		// closed is set and no node lock is held: no spawn is under way
		// or can start.
		errs = append(errs, errors.Join(kills...), c.driver.Close())
		c.closeErr = errors.Join(errs...)
		if c.closeErr != nil {
			c.closeErr = fmt.Errorf("%s runtime: close: %w", c.name, c.closeErr)
		}
		c.logger.Info("cluster closed")
	})
	return c.closeErr
}

func (c *Cluster) node(id int) (*node, error) {
	n, ok := c.nodes[id]
	if !ok {
		return nil, fmt.Errorf("%s runtime: no node %d (nodes are 1..%d)", c.name, id, len(c.ids))
	}
	return n, nil
}
