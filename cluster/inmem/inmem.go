// Package inmem is an in-memory cluster driver for unit tests of what sits
// on the cluster core (the runner, faults): each node is a goroutine
// running a function, and the mesh is a table of grudges and toxics. No
// process, socket or container is made, so a whole run over it takes
// milliseconds.
//
// What it keeps is what tests assert on: every spawn and signal in order
// (Events), which nodes run and which are paused, and the mesh's state.
// Its Admin answers the core's status and clock calls from that state.
// Nodes that want to behave like real ones under faults ask the driver
// (Paused) and the mesh (Hears); see internal/runner's tests for a system
// built that way.
package inmem

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/clock"
)

// Run runs one node until ctx ends (the node was killed) or it fails. Its
// logger writes to the node's log.
type Run func(ctx context.Context, cfg systems.NodeConfig) error

// Driver runs nodes as goroutines. It implements cluster.Driver; use it
// for one cluster.
type Driver struct {
	run Run

	mu     sync.Mutex
	mesh   *Mesh
	nodes  map[int]*Node // the latest run of each node
	clocks map[int]time.Duration
	events []string
	closed bool
}

var _ cluster.Driver = (*Driver)(nil)

// New returns a driver whose nodes run run; nil runs nodes that do nothing
// until they are killed.
func New(run Run) *Driver {
	if run == nil {
		run = func(ctx context.Context, _ systems.NodeConfig) error { <-ctx.Done(); return nil }
	}
	return &Driver{run: run, nodes: map[int]*Node{}, clocks: map[int]time.Duration{}}
}

// Name is "inmem".
func (*Driver) Name() string { return "inmem" }

// Prepare lays out spec.Nodes nodes with made-up addresses ("n1:client")
// and an in-memory mesh.
func (d *Driver) Prepare(_ context.Context, spec cluster.Spec) (*cluster.Layout, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.mesh = NewMesh(spec.Nodes)
	l := &cluster.Layout{Program: []string{"inmem-node"}, Mesh: d.mesh}
	for id := 1; id <= spec.Nodes; id++ {
		name := systems.NodeName(id)
		l.Nodes = append(l.Nodes, cluster.Place{
			PeerListen: name + ":peer", ClientListen: name + ":client", AdminListen: name + ":admin",
			Client: name + ":client", Admin: name + ":admin",
			DataDir: filepath.Join(spec.RunDir, "data", name),
		})
	}
	return l, nil
}

// Spawn runs the node's function in a goroutine, its logger writing to
// the node's log.
func (d *Driver) Spawn(_ context.Context, l cluster.Launch) (cluster.Handle, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		l.Log.Close()
		return nil, errors.New("inmem: driver is closed")
	}
	cfg := l.Config
	cfg.Logger = slog.New(slog.NewTextHandler(l.Log, nil)).With("node", cfg.Name)
	cfg.Clock = clock.New()
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{d: d, id: cfg.ID, cancel: cancel, exited: make(chan struct{})}
	go func() {
		defer close(n.exited)
		defer l.Log.Close()
		err := d.run(ctx, cfg)
		n.mu.Lock()
		n.err = err
		n.mu.Unlock()
	}()
	d.nodes[cfg.ID] = n
	d.events = append(d.events, "spawn "+cfg.Name)
	return n, nil
}

// Close marks the driver closed; the core has stopped every node.
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.events = append(d.events, "close")
	return nil
}

// Events lists what the driver was asked, in order: "spawn n1", "kill n2",
// "stop n3", "cont n3", "close".
func (d *Driver) Events() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.events)
}

// Closed reports whether Close was called.
func (d *Driver) Closed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

// Running reports whether node id's goroutine runs (paused or not).
func (d *Driver) Running(id int) bool {
	n := d.node(id)
	if n == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Paused reports whether node id is paused: a node that wants to behave
// like a frozen process stops answering while it is.
func (d *Driver) Paused(id int) bool {
	n := d.node(id)
	if n == nil {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paused
}

// Mesh returns the cluster's mesh, once laid out.
func (d *Driver) Mesh() *Mesh {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.mesh
}

func (d *Driver) node(id int) *Node {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.nodes[id]
}

func (d *Driver) event(s string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.events = append(d.events, s)
}

// Node is one run of a node: the driver's cluster.Handle.
type Node struct {
	d      *Driver
	id     int
	cancel context.CancelFunc
	exited chan struct{}

	mu     sync.Mutex
	paused bool
	killed bool
	err    error // the node function's result, set before exited closes
}

// Signal kills (ends the node's context), pauses or resumes the node.
func (n *Node) Signal(_ context.Context, sig cluster.Signal) error {
	n.d.event(fmt.Sprintf("%s %s", sig, systems.NodeName(n.id)))
	n.mu.Lock()
	defer n.mu.Unlock()
	switch sig {
	case cluster.Kill:
		n.killed = true
		n.cancel()
	case cluster.Stop:
		n.paused = true
	case cluster.Cont:
		n.paused = false
	}
	return nil
}

// Exited is closed once the node's function has returned.
func (n *Node) Exited() <-chan struct{} { return n.exited }

// ExitStatus says how the node's function ended.
func (n *Node) ExitStatus() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.killed:
		return "killed"
	case n.err != nil:
		return "failed: " + n.err.Error()
	}
	return "returned"
}
