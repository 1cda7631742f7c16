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
	Peers   map[int]string
	DataDir string
	Bugs    []string
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

// System is one system under test.
type System interface {
	Name() string
	Summary() string
	Bugs() []Bug
	// Workloads lists the workloads this system serves; for each, the
	// operation names (f) its client supports.
	Workloads() map[string][]history.Func
	MinNodes() int
	// RunNode runs one node in this process until ctx ends or it fails.
	RunNode(ctx context.Context, cfg NodeConfig) error
	// NewClient returns a client for the named workload, reaching nodes at
	// the given endpoints.
	NewClient(workload string, nodes []Endpoint) (Client, error)
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
