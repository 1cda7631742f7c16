package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/faultline/faultline/systems"
)

// Driver is a runtime: where a cluster's nodes run and how they are
// signalled. The core (Cluster) does all the bookkeeping — node state,
// readiness, admin calls, logs, no-op rules, Close — and asks the driver
// only for these few things:
//
//   - Prepare, once: lay the cluster out (addresses, data dirs, the mesh
//     between the nodes) and make what its nodes share.
//   - Spawn, per start of a node: run it with the command line the core
//     built (Launch.Command) and hand back a Handle.
//   - Close, once, after every node the core spawned has exited: remove
//     what Prepare and Spawn made.
//
// The core calls Spawn for a node only when its previous Handle (if any)
// has exited, never twice at once for the same node, and never after
// Close. A Driver value serves one cluster.
type Driver interface {
	// Name names the runtime in logs and errors: "process", "docker".
	Name() string
	// Prepare lays out spec's cluster. On error it has released what it
	// made; the core then calls Close all the same.
	Prepare(ctx context.Context, spec Spec) (*Layout, error)
	// Spawn starts one node. It owns l.Log and closes it (also on
	// error) once it no longer needs it.
	Spawn(ctx context.Context, l Launch) (Handle, error)
	// Close releases everything Prepare and Spawn made. It is called
	// once.
	Close() error
}

// Layout is a cluster as its driver laid it out.
type Layout struct {
	// Program is the program and leading arguments that run a node
	// under this driver (the host's `faultline node`, a container
	// image's entrypoint, a foreign node program as the driver runs
	// it); the core appends each node's flags or foreign arguments.
	Program []string
	// Nodes holds one Place per node: Nodes[i] is node i+1.
	Nodes []Place
	// Mesh is the mesh between the nodes; the core closes it.
	Mesh Mesh
}

// Place is where one node runs.
type Place struct {
	// PeerListen, ClientListen and AdminListen are the addresses the
	// node binds, as it sees them.
	PeerListen, ClientListen, AdminListen string
	// Client and Admin are how the harness reaches the node's client
	// and admin APIs (systems.Endpoint).
	Client, Admin string
	// DataDir is the node's data directory as the node sees it.
	DataDir string
	// Advertise is the address every peer dials to reach this node, for
	// a spec with Advertised addressing (NodeConfig.Advertise); the
	// layout's mesh hands it out as the node's address in PeersOf.
	Advertise string
}

// Launch is one start of one node.
type Launch struct {
	Config systems.NodeConfig
	// Command is the node's command line: Layout.Program followed by
	// the node's flags (NodeCommand), or for a foreign node by its
	// Foreign.Command arguments.
	Command []string
	// Env is added to the node's environment (foreign nodes).
	Env []string
	// Files are written, relative to the node's data dir, before the
	// node starts (foreign nodes).
	Files map[string][]byte
	// Log is the node's log file (RunDir/nodes/<name>.log), open for
	// appending, its "--- faultline:" start line written. The node's
	// output goes there.
	Log *os.File
}

// NodeCommand is the command line of a node: program followed by the
// flags of cfg. It is the one place a node's command line is built.
func NodeCommand(program []string, cfg systems.NodeConfig) []string {
	cmd := make([]string, 0, len(program)+16)
	cmd = append(cmd, program...)
	return append(cmd, cfg.Args()...)
}

// Signal is what the core asks of a running node.
type Signal int

const (
	// Kill stops the node at once (SIGKILL); Exited follows.
	Kill Signal = iota + 1
	// Stop freezes the node (SIGSTOP, the cgroup freezer).
	Stop
	// Cont thaws a frozen node.
	Cont
)

func (s Signal) String() string {
	switch s {
	case Kill:
		return "kill"
	case Stop:
		return "stop"
	case Cont:
		return "cont"
	}
	return "signal?"
}

// Handle is one run of one node, from Spawn until it exits.
type Handle interface {
	// Signal delivers sig and returns once it has taken effect: Stop,
	// the node is frozen; Cont, it runs again; Kill, the kill is
	// delivered (Exited follows). Signalling a node that has exited is
	// no error. ctx bounds the call; the core passes one that a caller
	// giving up does not end, so a signal is never left half delivered.
	Signal(ctx context.Context, sig Signal) error
	// Exited is closed once the node no longer runs and its output is
	// in its log.
	Exited() <-chan struct{}
	// ExitStatus says how the node ended ("exit status 3"); it is
	// meaningful once Exited is closed.
	ExitStatus() string
}

// Mesh is the network between the nodes: one proxy per ordered pair, so
// one node can stop hearing another, or hear it slowly. cluster/mesh is
// the Toxiproxy one; drivers choose its backend. Methods are safe for
// concurrent use.
type Mesh interface {
	// PeersOf maps every other node to the address node from dials to
	// reach it (its NodeConfig.Peers).
	PeersOf(from int) map[int]string
	// Partition replaces the current partition: afterwards node i hears
	// nothing from any node in g[i], on any connection.
	Partition(g Grudge) error
	// SetLinkToxic puts t on every byte from -> to, replacing a toxic of
	// the same name; RemoveLinkToxic removes it (a no-op when absent).
	SetLinkToxic(from, to int, t Toxic) error
	RemoveLinkToxic(from, to int, name string) error
	// Heal removes every partition and link toxic.
	Heal() error
	// Faults lists what still disturbs the mesh, one line each; empty
	// means every link is healed.
	Faults() ([]string, error)
	// Close stops every proxy; it is safe to call more than once.
	Close() error
}

// Admin is how the core asks a node about itself — readiness, role,
// leader, term — and sets its clock. The default, HTTPAdmin, speaks the
// included nodes' admin endpoint; a system with an API of its own can
// bring its own. Methods are safe for concurrent use and honour ctx.
type Admin interface {
	Status(ctx context.Context, node systems.Endpoint) (systems.Status, error)
	SetClock(ctx context.Context, node systems.Endpoint, offset time.Duration) error
}

// LinkFaulter is a driver that says how it cuts and slows the links
// between nodes, by how the system's nodes reach their peers. Optional:
// a driver without it has a mesh link per ordered pair for PerLink
// systems and none for Advertised ones.
type LinkFaulter interface {
	// LinkMechanism names the mechanism test.json records ("toxiproxy
	// mesh, one proxy per ordered pair"), or returns "" and why the
	// driver cannot cut single links of such a system.
	LinkMechanism(a systems.Addressing) (mechanism, whyNot string)
}

// LinkMechanismOf is d's LinkMechanism for a, or the default above.
func LinkMechanismOf(d Driver, a systems.Addressing) (mechanism, whyNot string) {
	if lf, ok := d.(LinkFaulter); ok {
		return lf.LinkMechanism(a)
	}
	if a == systems.Advertised {
		return "", fmt.Sprintf("the %s runtime cannot cut single links of a system whose peers dial one advertised address per node", d.Name())
	}
	return d.Name() + " mesh, one link per ordered pair", ""
}

// WriteFiles writes a foreign node's files (Launch.Files) under dir, the
// node's data dir on this machine. A path that is absolute or leaves dir
// is an error.
func WriteFiles(dir string, files map[string][]byte) error {
	for rel, b := range files {
		if err := CheckFilePath(rel); err != nil {
			return err
		}
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("node file %s: %w", rel, err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return fmt.Errorf("node file %s: %w", rel, err)
		}
	}
	return nil
}

// CheckFilePath checks that rel, a path of Launch.Files, stays inside the
// data dir.
func CheckFilePath(rel string) error {
	if !filepath.IsLocal(rel) {
		return fmt.Errorf("node file %q: want a path inside the data dir (relative, no ..)", rel)
	}
	return nil
}
