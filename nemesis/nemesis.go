// Package nemesis holds the faults a run injects and the schedule that
// times them. A fault acts on a Cluster only; it never reads the
// history. Every start and stop becomes a pair of nemesis events (process
// -1) in the history, so checkers and reports can line faults up with
// anomalies.
//
// A fault's random choices (which shape, which nodes, which links, how
// much) are made ahead of time, when the schedule is planned from the
// seed (Fault.Choose), and stored with the schedule in test.json. Only
// choices that depend on the cluster's state at the time, such as which
// node leads, are made when the fault starts; they are recorded in the
// history (Action.Resolved) so a replay can aim at the same nodes.
package nemesis

import (
	"context"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// Cluster is what faults act on: the nodes, their processes and clocks,
// and the links between them. *cluster.Cluster implements it, whatever
// driver runs its nodes (unit tests use cluster/inmem or a double); see
// there for what each method promises.
type Cluster interface {
	Nodes() []systems.Endpoint
	Kill(ctx context.Context, id int) error
	Start(ctx context.Context, id int) error
	Pause(ctx context.Context, id int) error
	Resume(ctx context.Context, id int) error
	Status(ctx context.Context, id int) (systems.Status, error)
	SetClock(ctx context.Context, id int, offset time.Duration) error
	Partition(ctx context.Context, g cluster.Grudge) error
	SetLinkToxic(ctx context.Context, from, to int, t cluster.Toxic) error
	RemoveLinkToxic(ctx context.Context, from, to int, name string) error
}

var _ Cluster = (*cluster.Cluster)(nil)

// Choice is everything one episode of a fault will do, decided from the
// seed before the run. Which fields mean something depends on the fault.
type Choice struct {
	// Kind is the variant: a partition shape (halves, bridge …), a link
	// toxic (latency, reset …), a clock fault (bump, strobe, scramble).
	Kind string `json:"kind,omitempty"`
	// Target is how process faults pick nodes: one, minority, majority,
	// leader, all.
	Target string `json:"target,omitempty"`
	// Nodes are the nodes acted on. For leader-aimed choices they are the
	// fallback used when no node reports leading, unless Pinned.
	Nodes []int `json:"nodes,omitempty"`
	// Grudge is a partition's grudge (node -> nodes it does not hear).
	Grudge cluster.Grudge `json:"grudge,omitempty"`
	// Links are directed links (from, to) a link fault acts on.
	Links [][2]int `json:"links,omitempty"`
	// Params are numeric parameters: latency_ms, offset_ms …
	Params map[string]int64 `json:"params,omitempty"`
	// Offsets are the clock offsets a clock fault sets, per node, in ms.
	Offsets map[int]int64 `json:"offsets,omitempty"`
	// Seed drives choices made while the fault runs (the order a
	// partition's links are cut in, a strobe's flips).
	Seed uint64 `json:"seed,omitempty"`
	// Pinned means Nodes were resolved in the run being replayed: use
	// them instead of asking the cluster again (who leads).
	Pinned bool `json:"pinned,omitempty"`
}

// Action is what a fault did, as recorded in the history.
type Action struct {
	F     history.Func   // e.g. start-partition, kill
	Value map[string]any // details: the grudge, the nodes killed …
	// Node is the nodes acted on, comma-separated: the nodes killed,
	// paused or skewed, those cut off by a partition, the ends of the
	// links a toxic slows.
	Node string
	// Label says what the step did, in words, for people: a report shows
	// it on the fault's band ("isolate n3 | n1 n2 n4 n5", "kill n2").
	Label string
	// Resolved are the nodes chosen from the cluster's state at start (the
	// leader), when the choice depended on it; a replay pins them.
	Resolved []int
}

// Fault is one kind of failure. Start injects one episode and Stop undoes
// it; the schedule never starts a fault twice without stopping it in
// between.
type Fault interface {
	// Name is the fault as named on --nemesis (e.g. partition-bridge).
	Name() string
	// Lane groups faults that must not overlap: the schedule runs at most
	// one fault per lane at a time. Faults in different lanes are
	// independent (a clock jump during a partition).
	Lane() string
	// StartF and StopF name the history events of Start and Stop.
	StartF() history.Func
	StopF() history.Func
	// Choose decides one episode from rng for a cluster of nodes ids.
	Choose(rng *rand.Rand, ids []int) Choice
	Start(ctx context.Context, c Cluster, ch Choice) (Action, error)
	Stop(ctx context.Context, c Cluster) (Action, error)
}

// Lanes of the faults faultline ships.
const (
	LanePartition = "partition"
	LaneLink      = "link"
	LaneProcess   = "process" // kill, pause and power loss never overlap
	LaneClock     = "clock"
	LaneClient    = "client" // client-pause acts on clients, not nodes
)

// leader asks every node's admin endpoint and returns the node that says it
// leads in the highest term, if any. Systems without leaders never say so.
func leader(ctx context.Context, c Cluster) (int, bool) {
	best, bestTerm, found := 0, uint64(0), false
	for _, n := range c.Nodes() {
		sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		st, err := c.Status(sctx, n.ID)
		cancel()
		if err == nil && st.Role == "leader" && (!found || st.Term > bestTerm) {
			best, bestTerm, found = n.ID, st.Term, true
		}
	}
	return best, found
}

// How a leader-aimed fault found its node, as its start event says
// (value "leader").
const (
	leaderFound    = "found"    // a node said it leads
	leaderFallback = "fallback" // nobody did (leaderless, or mid-election): the seed's node
	leaderPinned   = "pinned"   // a replay: the node the original run hit
)

// resolveLeader returns the nodes a leader-aimed choice acts on and how
// they were found: pinned nodes as they are, else the current leader,
// else the fallback nodes chosen at planning time.
func resolveLeader(ctx context.Context, c Cluster, ch Choice) ([]int, string) {
	if ch.Pinned {
		return ch.Nodes, leaderPinned
	}
	if id, ok := leader(ctx, c); ok {
		return []int{id}, leaderFound
	}
	return ch.Nodes, leaderFallback
}

func nodeIDs(c Cluster) []int {
	var ids []int
	for _, n := range c.Nodes() {
		ids = append(ids, n.ID)
	}
	sort.Ints(ids)
	return ids
}

// nameOr is a fault's name: the one it was registered under, else its
// family's.
func nameOr(name, family string) string {
	if name == "" {
		return family
	}
	return name
}

// orDefault is a fault's configured kinds, or its family's when none are.
func orDefault(kinds, family []string) []string {
	if len(kinds) == 0 {
		return family
	}
	return kinds
}

// pickN returns n of ids chosen at random, sorted.
func pickN(rng *rand.Rand, ids []int, n int) []int {
	out := make([]int, 0, n)
	for _, i := range rng.Perm(len(ids))[:min(n, len(ids))] {
		out = append(out, ids[i])
	}
	sort.Ints(out)
	return out
}

// sleep waits d or until ctx ends, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
