package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/systems"
)

// Partition cuts the cluster in two: either random halves or one node
// isolated from the rest, chosen at random each time.
type Partition struct{}

func (*Partition) Name() string   { return "partition" }
func (*Partition) StartF() string { return "start-partition" }
func (*Partition) StopF() string  { return "stop-partition" }

func (p *Partition) Start(ctx context.Context, c runtime.Cluster, rng *rand.Rand) (Action, error) {
	ids := nodeIDs(c)
	var side []int
	kind := "halves"
	if rng.IntN(2) == 0 {
		kind = "isolate"
		side = []int{ids[rng.IntN(len(ids))]}
	} else {
		perm := rng.Perm(len(ids))
		for _, i := range perm[:len(ids)/2] {
			side = append(side, ids[i])
		}
		sort.Ints(side)
	}
	g := Bisect(ids, side)
	if err := c.Partition(ctx, g); err != nil {
		return Action{}, fmt.Errorf("partition %s %v: %w", kind, side, err)
	}
	return Action{F: p.StartF(), Value: map[string]any{"kind": kind, "components": components(ids, side)}}, nil
}

func (p *Partition) Stop(ctx context.Context, c runtime.Cluster) (Action, error) {
	if err := c.Heal(ctx); err != nil {
		return Action{}, fmt.Errorf("heal: %w", err)
	}
	return Action{F: p.StopF()}, nil
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
