// Package runtime defines how the harness starts and drives a cluster. The
// process runtime (cluster/process) runs nodes as child processes; a docker
// runtime will run them as containers. Faults and the runner only see
// Cluster, never which runtime is behind it.
package cluster

import (
	"context"
	"log/slog"
	"time"

	"github.com/faultline/faultline/systems"
)

// Spec says what cluster to start.
type Spec struct {
	System string   // registry name, passed to `faultline node --system`
	Nodes  int      // number of nodes, IDs 1..Nodes
	Bugs   []string // named bugs every node starts with
	// Storage is passed to every node (systems.StorageDurable or
	// systems.StorageLazy); empty means durable.
	Storage string
	// RunDir is the run's results directory: node data lives in
	// RunDir/data/<name>, node logs in RunDir/nodes/<name>.log.
	RunDir string
	// Command is the program and leading arguments that run one node; the
	// runtime appends the node flags. Usually {os.Executable(), "node"}.
	Command []string
	Logger  *slog.Logger
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

// Cluster is a running cluster: its nodes and the mesh between them.
// Methods are safe for concurrent use.
type Cluster interface {
	Nodes() []systems.Endpoint
	// Kill stops a node abruptly (SIGKILL). Killing a dead node is a no-op.
	Kill(ctx context.Context, id int) error
	// Start starts a stopped node again on its data dir and ports and
	// returns once it reports ready. Starting a running node is a no-op.
	Start(ctx context.Context, id int) error
	// Pause freezes a node (SIGSTOP); Resume thaws it (SIGCONT).
	Pause(ctx context.Context, id int) error
	Resume(ctx context.Context, id int) error
	// Status asks a node's admin endpoint.
	Status(ctx context.Context, id int) (systems.Status, error)
	// Partition replaces the current partition: afterwards node i hears
	// nothing from any node in g[i], on any connection. Heal removes every
	// partition.
	Partition(ctx context.Context, g Grudge) error
	Heal(ctx context.Context) error
	// SetLinkToxic puts a Toxiproxy toxic on every byte sent from node
	// from to node to, on any connection, replacing a toxic of the same
	// name on that link. RemoveLinkToxic removes it (a no-op when absent);
	// Heal removes every link toxic too.
	SetLinkToxic(ctx context.Context, from, to int, t Toxic) error
	RemoveLinkToxic(ctx context.Context, from, to int, name string) error
	// LinkFaults lists the partitions and link toxics still in place, one
	// line each; empty means every link is healed.
	LinkFaults(ctx context.Context) ([]string, error)
	// SetClock sets the offset of a node's clock (its admin endpoint).
	SetClock(ctx context.Context, id int, offset time.Duration) error
	// Close stops every node and proxy. It is safe to call more than once.
	Close() error
}
