// Package systems defines what a system under test offers the harness: how to
// run one node, a client per workload, and its named bugs. A system never
// imports the harness (only its history contract); the harness never reaches
// inside a system.
package systems

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems/nodekit/clock"
)

// Bug is a named, switchable mistake a system can be started with.
type Bug struct {
	Name string
	// Description says what the bug breaks and which fault exposes it.
	Description string
}

// NodeConfig is everything one node needs to start. The runtime fills it and
// passes it to `faultline node` as flags.
type NodeConfig struct {
	System string
	ID     int    // 1-based
	Name   string // "n1", "n2", ...
	// PeerListen is where the node serves peer RPC. Peers never dial it
	// directly: they dial their own proxy for this link (Peers).
	PeerListen   string
	ClientListen string // client API (HTTP/JSON)
	AdminListen  string // admin API: health, role, ... (never through the mesh)
	// Peers maps every other node's ID to the address this node dials to
	// reach it: the mesh proxy for the ordered pair (this node -> peer).
	Peers map[int]string
	// Advertise is the address every peer dials to reach this node, for
	// a system with Advertised addressing; empty otherwise.
	Advertise string
	DataDir   string
	Bugs      []string
	// Storage is how the node's storage treats writes it has not fsynced:
	// StorageDurable (hand them to the OS at once, as a normal process
	// does) or StorageLazy (keep them in process memory until fsync, so a
	// SIGKILL loses them as a power cut would). The power-loss fault runs
	// nodes lazy.
	Storage string
	Logger  *slog.Logger
	// Clock is the node's time source; the admin endpoint sets its
	// offset. Nodes take every wall-clock reading from it. Never nil when
	// the runtime starts a node through `faultline node`.
	Clock *clock.Clock
}

// Storage modes (NodeConfig.Storage).
const (
	StorageDurable = "durable"
	StorageLazy    = "lazy"
)

// Names of the nodes of an n-node cluster are n1..nN.
func NodeName(id int) string { return fmt.Sprintf("n%d", id) }

// HasBug reports whether the node was started with the named bug.
func (c NodeConfig) HasBug(name string) bool { return slices.Contains(c.Bugs, name) }

// Endpoint is how a client or the harness reaches one node.
type Endpoint struct {
	ID     int
	Name   string
	Client string // host:port of the client API
	Admin  string // host:port of the admin API
}

// Op is one client operation as a workload generates it.
type Op struct {
	F     history.Func
	Key   string
	Value any
}

// Completion is how an operation ended.
type Completion struct {
	Type  history.Type // OK, Fail (certainly did not happen) or Info (unknown)
	Value any          // for a read, the value read (nil when absent)
	Error string
	// Node is the node that finally served the op when it differs from the
	// one asked (a redirect to the leader); empty otherwise.
	Node string
}

// Client runs workload operations against a cluster. Implementations must
// be safe for concurrent use and must honour ctx: when it ends, the
// operation's outcome is Info unless the client knows it did not happen.
type Client interface {
	Invoke(ctx context.Context, node Endpoint, op Op) Completion
}

// ClientConfig is what a system's client for one run is made from.
type ClientConfig struct {
	Workload string
	// Nodes are the endpoints of every node, as the harness reaches them.
	Nodes []Endpoint
	// Bugs are the run's named bugs; a system whose bug lives in its
	// client (a read mode that may be stale) switches it on here.
	Bugs []string
}

// HasBug reports whether the run switched the named bug on.
func (c ClientConfig) HasBug(name string) bool { return slices.Contains(c.Bugs, name) }

// System is one system under test: what the harness needs of it, whoever
// wrote it. A system is a value; nothing in faultline has to know it by
// name. Besides these methods it implements exactly one of InProcess (its
// nodes are Go code run by faultline's node command) and Foreign (its
// nodes are programs of their own), and any of the optional interfaces
// below: Prober, ClockSetter, LazyStorage, FaultLimits.
type System interface {
	Name() string
	Summary() string
	Bugs() []Bug
	// Workloads lists the workloads this system serves; for each, the
	// operation names (f) its client supports.
	Workloads() map[string][]history.Func
	MinNodes() int
	// NewClient returns a client for one run.
	NewClient(c ClientConfig) (Client, error)
}

// InProcess is a system whose node is a Go function: faultline's node
// command (or a binary that called faultline.RunNodeIfChild with the
// system) runs it, one process per node.
type InProcess interface {
	// RunNode runs one node in this process until ctx ends or it fails.
	RunNode(ctx context.Context, cfg NodeConfig) error
}

// Foreign is a system whose nodes are programs of their own (etcd, NATS,
// a service of yours): the runtime starts node i with a command line built
// from its NodeConfig.
type Foreign interface {
	// Executable is the node program on this machine. The process runtime
	// runs it as is; the docker runtime copies it into the node image
	// (FROM scratch), so there it must be a static Linux binary. An error
	// says how to get it ("run make etcd").
	Executable() (string, error)
	// Command is node cfg's command line after the program, its
	// environment and the files it needs. It is asked once per node, when
	// the cluster is laid out; every restart of the node runs the same.
	Command(cfg NodeConfig) (Command, error)
	// Addressing is how the nodes find their peers (PerLink or Advertised).
	Addressing() Addressing
}

// Command is how one node of a Foreign system runs.
type Command struct {
	Args []string // after the program
	Env  []string // "KEY=VALUE", on top of the runtime's
	// Files maps paths relative to the node's data dir to their
	// contents; they are written before every start.
	Files map[string][]byte
}

// Addressing is how a system's nodes reach their peers.
type Addressing string

const (
	// PerLink: a node takes one address per peer (NodeConfig.Peers), and
	// the harness gives each ordered pair its own proxy, so every link can
	// be cut or slowed alone. Every InProcess system is PerLink.
	PerLink Addressing = "per-link"
	// Advertised: every node has one advertised peer address that all
	// others dial (etcd's and NATS's peer URLs). NodeConfig.Advertise is
	// the node's own; NodeConfig.Peers maps each peer to its advertised
	// address, the same for every node. Cutting single links then needs
	// help from the runtime (cluster.LinkFaulter).
	Advertised Addressing = "advertised"
)

// AddressingOf is s's addressing: a Foreign system's own, else PerLink.
func AddressingOf(s System) Addressing {
	if f, ok := s.(Foreign); ok && f.Addressing() != "" {
		return f.Addressing()
	}
	return PerLink
}

// Prober tells how a node is doing — ready, role, leader, term, commit —
// with the system's own API (etcd: its maintenance status; NATS: its
// monitoring endpoint). Optional: without it a node is ready once its
// client address accepts a TCP connection, and it has no role. Faults
// aimed at the leader, and the readiness wait of every start, ask it.
type Prober interface {
	Status(ctx context.Context, node Endpoint) (Status, error)
}

// ClockSetter sets the offset of a node's clock. Optional: a system
// without it does not take the clock faults (skipped, with the reason).
type ClockSetter interface {
	SetClock(ctx context.Context, node Endpoint, offset time.Duration) error
}

// LazyStorage is a system whose nodes honour NodeConfig.Storage: with
// StorageLazy they keep un-fsynced writes in process memory, so a SIGKILL
// loses them as a power cut would. Only such a system takes the
// power-loss fault; for any other it would be a plain kill.
type LazyStorage interface {
	LazyStorage() bool
}

// FaultLimits names faults that mean nothing for a system. Optional.
type FaultLimits interface {
	// UnsupportedFaults maps fault families ("clock") or fault names
	// ("kill-leader") to why they mean nothing here. The harness skips
	// them and records the reason in test.json and the report.
	UnsupportedFaults() map[string]string
}

// Elector is an optional probe a System implements when its nodes elect a
// leader: their status then reports role, term and commit index, which
// faults aimed at the leader and the waits of a schedule read. Schedules
// about a leader (figure8) refuse a system without one.
type Elector interface {
	Elects() bool
}

// Aimed is an optional probe a System implements to name the nemesis
// sequences aimed at its weak spots (nemesis.Sequences: stale-leader,
// strand-write …); the default fault mix (--nemesis default) runs them
// among partitions and kills.
type Aimed interface {
	AimedSequences() []string
}

// Status is what a node's admin endpoint reports at GET /status.
type Status struct {
	Node   string `json:"node"`
	Ready  bool   `json:"ready"`
	Role   string `json:"role,omitempty"`   // leader, follower, candidate; empty when the system has none
	Term   uint64 `json:"term,omitempty"`   // Raft term
	Leader string `json:"leader,omitempty"` // name of the node it believes leads
	Commit uint64 `json:"commit,omitempty"` // commit index
	// ClockOffsetNS is the offset the node adds to real time (clock nemesis).
	ClockOffsetNS int64 `json:"clock_offset_ns,omitempty"`
	// Members is the node's membership view, node name -> alive, suspect
	// or dead, for systems with a failure detector (itself included).
	Members map[string]string `json:"members,omitempty"`
}

// CheckBugs returns an error naming each bug s does not have, and the valid
// names.
func CheckBugs(s System, bugs []string) error {
	var valid []string
	for _, b := range s.Bugs() {
		valid = append(valid, b.Name)
	}
	for _, b := range bugs {
		if !slices.Contains(valid, b) {
			if len(valid) == 0 {
				return fmt.Errorf("unknown bug %q: system %s has no named bugs", b, s.Name())
			}
			return fmt.Errorf("unknown bug %q for system %s (valid: %s)", b, s.Name(), strings.Join(valid, ", "))
		}
	}
	return nil
}
