// Package runtime defines how the harness starts and drives a cluster. The
// process runtime (runtime/process) runs nodes as child processes; a docker
// runtime will run them as containers. Faults and the runner only see
// Cluster, never which runtime is behind it.
package runtime

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
	// SlowLink delays every byte sent from node from to node to, on any
	// connection, by latency ± jitter; a zero latency removes the delay.
	// Heal removes it too.
	SlowLink(ctx context.Context, from, to int, latency, jitter time.Duration) error
	// Close stops every node and proxy. It is safe to call more than once.
	Close() error
}
