package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/systems"
)

// Partition cuts the cluster in two, each time one of: random halves; one
// random node isolated; or, for systems that report a leader on their
// admin endpoint, the leader isolated (a third of the time), since leader
// changes are where replication protocols break.
//
// The cut does not fall on every link at the same instant. Real partitions
// spread over milliseconds as switches, routes and firewall rules fail one
// by one (Jepsen's iptables partitions land node by node), and that spread
// is what leaves operations in flight with some links cut and others not: a
// write that reached a few replicas but not a majority. Links are cut one
// at a time, in random order, over Onset; the partition is complete when
// Start returns.
type Partition struct {
	// Onset is how long the cut takes to spread over all its links; zero
	// means DefaultOnset, negative means all links at once.
	Onset time.Duration
}

// DefaultOnset is the spread of a partition's cut over its links.
const DefaultOnset = 200 * time.Millisecond

func (*Partition) Name() string   { return "partition" }
func (*Partition) StartF() string { return "start-partition" }
func (*Partition) StopF() string  { return "stop-partition" }

func (p *Partition) Start(ctx context.Context, c runtime.Cluster, rng *rand.Rand) (Action, error) {
	ids := nodeIDs(c)
	var side []int
	kind := "halves"
	roll := rng.IntN(3)
	if roll == 0 {
		if id, ok := leader(ctx, c); ok {
			kind, side = "isolate-leader", []int{id}
		} else {
			roll = 1
		}
	}
	if roll == 1 {
		kind = "isolate"
		side = []int{ids[rng.IntN(len(ids))]}
	} else if roll == 2 {
		perm := rng.Perm(len(ids))
		for _, i := range perm[:len(ids)/2] {
			side = append(side, ids[i])
		}
		sort.Ints(side)
	}
	g := Bisect(ids, side)
	a := Action{F: p.StartF(), Value: map[string]any{"kind": kind, "components": components(ids, side)}}
	if err := p.cut(ctx, c, g, rng); err != nil {
		// Some links may be cut: say which partition was meant.
		return a, fmt.Errorf("partition %s %v: %w", kind, side, err)
	}
	return a, nil
}

func (p *Partition) Stop(ctx context.Context, c runtime.Cluster) (Action, error) {
	if err := c.Heal(ctx); err != nil {
		return Action{}, fmt.Errorf("heal: %w", err)
	}
	return Action{F: p.StopF()}, nil
}

// cut applies g link by link over the onset, each step a larger grudge.
func (p *Partition) cut(ctx context.Context, c runtime.Cluster, g runtime.Grudge, rng *rand.Rand) error {
	onset := p.Onset
	if onset == 0 {
		onset = DefaultOnset
	}
	type edge struct{ to, from int } // "to" stops hearing "from"
	var edges []edge
	for _, to := range sortedIDs(g) {
		for _, from := range g[to] {
			edges = append(edges, edge{to, from})
		}
	}
	if onset < 0 || len(edges) < 2 {
		return c.Partition(ctx, g)
	}
	rng.Shuffle(len(edges), func(i, j int) { edges[i], edges[j] = edges[j], edges[i] })
	step := onset / time.Duration(len(edges)-1)
	partial := runtime.Grudge{}
	for i, e := range edges {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(step):
			}
		}
		partial[e.to] = append(partial[e.to], e.from)
		if err := c.Partition(ctx, partial); err != nil {
			return err
		}
	}
	return nil
}

func sortedIDs(g runtime.Grudge) []int {
	ids := make([]int, 0, len(g))
	for id := range g {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

// Bisect returns the grudge of a clean two-way split: every node on one
// side hears nothing from any node on the other.
func Bisect(ids, side []int) runtime.Grudge {
	in := map[int]bool{}
	for _, id := range side {
		in[id] = true
	}
	g := runtime.Grudge{}
	for _, a := range ids {
		for _, b := range ids {
			if in[a] != in[b] {
				g[a] = append(g[a], b)
			}
		}
	}
	return g
}

// components names the two sides of a split, for the history.
func components(ids, side []int) [][]string {
	in := map[int]bool{}
	for _, id := range side {
		in[id] = true
	}
	var a, b []string
	for _, id := range ids {
		if in[id] {
			a = append(a, systems.NodeName(id))
		} else {
			b = append(b, systems.NodeName(id))
		}
	}
	return [][]string{a, b}
}

func nodeIDs(c runtime.Cluster) []int {
	var ids []int
	for _, n := range c.Nodes() {
		ids = append(ids, n.ID)
	}
	sort.Ints(ids)
	return ids
}
