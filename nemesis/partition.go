package nemesis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// PartitionShapes are the grudges a partition can take, besides a custom
// one.
var PartitionShapes = []string{"halves", "one", "majority-ring", "bridge", "leader", "one-way", "leader-plus-one", "new-leader"}

var partitionSummary = map[string]string{
	"halves":          "cut the cluster into two random halves",
	"one":             "isolate one random node",
	"majority-ring":   "every node sees a majority, no two nodes the same one (nodes on a ring see their neighbours)",
	"bridge":          "two halves joined by one node that sees both",
	"leader":          "isolate the current leader (found through the admin endpoint); a random node for leaderless systems",
	"one-way":         "one side's messages to the other are lost, the other way works (asymmetric halves or one node)",
	"leader-plus-one": "cut off the leader with one follower, against the rest (the leader keeps uncommitted entries; remembered as the old leader)",
	"new-leader":      "isolate whichever node leads now that is not the old leader (after a leader-plus-one cut, the majority's new leader)",
	"old-side":        "cut off the old leader and its follower again (after a leader-plus-one cut), so the rest, new leader included, form the majority",
	"follower":        "isolate one follower, not the leader (remembered as the lagging node: it misses the writes committed meanwhile)",
	"lag-majority":    "after a follower cut: the leader, the lagging node and just enough others for a bare majority, against the rest (writes then commit counting the lagging node)",
	"hub":             "after a one-node cut: that node hears and is heard by all, and no two others hear each other, so it alone can gather a majority of votes (a node that missed writes can lead only if voters skip the log check)",
}

// Partition cuts links by a grudge of one of Kinds, chosen per episode.
//
// The cut does not fall on every link at the same instant. Real partitions
// spread over milliseconds as switches, routes and firewall rules fail one
// by one (Jepsen's iptables partitions land node by node), and that spread
// is what leaves operations in flight with some links cut and others not: a
// write that reached a few replicas but not a majority. Links are cut one
// at a time, in random order, over Onset; the partition is complete when
// Start returns. Stop lifts the partition only, not other faults' toxics.
type Partition struct {
	// Onset is how long the cut takes to spread over all its links; zero
	// means DefaultOnset, negative means all links at once.
	Onset time.Duration
	// Kinds are the shapes chosen from (PartitionShapes, or "grudge").
	Kinds []string

	name   string
	grudge cluster.Grudge // for kind grudge
	aim    *Aim
}

func (p *Partition) setAim(a *Aim) { p.aim = a }

// DefaultOnset is the spread of a partition's cut over its links.
const DefaultOnset = 200 * time.Millisecond

func (p *Partition) Name() string       { return nameOr(p.name, "partition") }
func (*Partition) Lane() string         { return LanePartition }
func (*Partition) StartF() history.Func { return history.StartPartition }
func (*Partition) StopF() history.Func  { return history.StopPartition }

// Choose picks a shape and its grudge. A leader partition's grudge is
// settled at start; the node it names here is the fallback.
func (p *Partition) Choose(rng *rand.Rand, ids []int) Choice {
	kinds := orDefault(p.Kinds, PartitionShapes)
	ch := Choice{Kind: kinds[rng.IntN(len(kinds))], Seed: rng.Uint64()}
	switch ch.Kind {
	case "halves":
		ch.Nodes = pickN(rng, ids, len(ids)/2)
		ch.Grudge = Bisect(ids, ch.Nodes)
	case "one", "leader", "new-leader", "follower":
		ch.Nodes = pickN(rng, ids, 1)
		ch.Grudge = Bisect(ids, ch.Nodes)
	case "hub":
		ch.Nodes = pickN(rng, ids, 1)
		ch.Grudge = Hub(ids, ch.Nodes[0])
	case "leader-plus-one", "old-side":
		ch.Nodes = pickN(rng, ids, 2)
		ch.Grudge = Bisect(ids, ch.Nodes)
	case "lag-majority":
		ch.Nodes = pickN(rng, ids, len(ids)/2+1)
		ch.Grudge = Bisect(ids, ch.Nodes)
	case "majority-ring":
		ch.Grudge = MajorityRing(rng.Perm(len(ids)), ids)
	case "bridge":
		perm := rng.Perm(len(ids))
		ch.Nodes = []int{ids[perm[0]]}
		side := make([]int, 0, len(ids))
		for _, i := range perm[1 : 1+(len(ids)-1)/2] {
			side = append(side, ids[i])
		}
		sort.Ints(side)
		ch.Grudge = Bridge(ids, ch.Nodes[0], side)
	case "one-way":
		n := 1
		if rng.IntN(2) == 0 {
			n = len(ids) / 2
		}
		ch.Nodes = pickN(rng, ids, n)
		ch.Grudge = OneWay(ids, ch.Nodes)
	case "grudge":
		ch.Grudge = p.grudge
	}
	return ch
}

func (p *Partition) Start(ctx context.Context, c Cluster, ch Choice) (Action, error) {
	ids := nodeIDs(c)
	a := Action{F: p.StartF()}
	g := ch.Grudge
	onset := p.Onset
	var how string
	switch ch.Kind {
	case "leader":
		ch.Nodes, how = resolveLeader(ctx, c, ch)
		if how == leaderFound {
			a.Resolved = ch.Nodes
		}
		g = Bisect(ids, ch.Nodes)
	case "leader-plus-one", "new-leader", "old-side", "follower", "lag-majority", "hub":
		ch.Nodes, how, a.Resolved = resolveAimed(ctx, c, ch, p.aim)
		if ch.Kind == "hub" {
			g = Hub(ids, ch.Nodes[0])
		} else {
			g = Bisect(ids, ch.Nodes)
		}
		// An aimed cut lands at once: its moment is its point.
		onset = -1
	}
	a.Value = map[string]any{"kind": ch.Kind, "grudge": grudgeNames(g)}
	if how != "" {
		a.Value["leader"] = how
	}
	switch ch.Kind {
	case "halves", "one", "leader", "leader-plus-one", "new-leader", "old-side", "follower", "lag-majority":
		if p.aim != nil {
			side := ch.Nodes
			if ch.Kind == "lag-majority" { // the majority is named; the rest is cut off
				side = slices.DeleteFunc(slices.Clone(ids), func(n int) bool { return slices.Contains(ch.Nodes, n) })
			}
			p.aim.set(func(a *Aim) { a.Side = side })
		}
		a.Value["components"] = components(ids, ch.Nodes)
		a.Label = partitionLabel(ch.Kind, ids, ch.Nodes, g)
		a.Value["nodes"] = names(ch.Nodes)
		a.Node = nodeField(ch.Nodes)
	case "bridge", "one-way", "hub":
		a.Label = partitionLabel(ch.Kind, ids, nil, g)
		a.Value["nodes"] = names(ch.Nodes)
		a.Node = nodeField(ch.Nodes)
	default: // no sides: the nodes that stop hearing someone
		a.Label = partitionLabel(ch.Kind, ids, nil, g)
		a.Node = nodeField(losers(g))
	}
	if how != "" {
		a.Label = clip(a.Label + " (" + how + ")")
	}
	if err := p.cut(ctx, c, g, onset, rand.New(rand.NewPCG(ch.Seed, Stream))); err != nil {
		// Some links may be cut: the event says which partition was meant.
		return a, fmt.Errorf("partition %s: %w", ch.Kind, err)
	}
	return a, nil
}

// Stop lifts the partition (an empty grudge), leaving link toxics alone:
// a link fault may be running at the same time.
func (p *Partition) Stop(ctx context.Context, c Cluster) (Action, error) {
	if err := c.Partition(ctx, cluster.Grudge{}); err != nil {
		return Action{F: p.StopF(), Label: "lift the partition"}, fmt.Errorf("lift partition: %w", err)
	}
	return Action{F: p.StopF(), Label: "lift the partition"}, nil
}

// cut applies g link by link over the onset, each step a larger grudge.
func (p *Partition) cut(ctx context.Context, c Cluster, g cluster.Grudge, onset time.Duration, rng *rand.Rand) error {
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
	partial := cluster.Grudge{}
	for i, e := range edges {
		if i > 0 && !sleep(ctx, step) {
			return ctx.Err()
		}
		partial[e.to] = append(partial[e.to], e.from)
		if err := c.Partition(ctx, partial); err != nil {
			return err
		}
	}
	return nil
}

func sortedIDs(g cluster.Grudge) []int {
	ids := make([]int, 0, len(g))
	for id := range g {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

// Bisect returns the grudge of a clean two-way split: every node on one
// side hears nothing from any node on the other.
func Bisect(ids, side []int) cluster.Grudge {
	in := map[int]bool{}
	for _, id := range side {
		in[id] = true
	}
	g := cluster.Grudge{}
	for _, a := range ids {
		for _, b := range ids {
			if in[a] != in[b] {
				g[a] = append(g[a], b)
			}
		}
	}
	return g
}

// Bridge returns the grudge of two sides joined by one node: the nodes in
// side and the others (bridge excepted) do not hear each other; the bridge
// hears, and is heard by, everyone.
func Bridge(ids []int, bridge int, side []int) cluster.Grudge {
	in := map[int]bool{}
	for _, id := range side {
		in[id] = true
	}
	g := cluster.Grudge{}
	for _, a := range ids {
		for _, b := range ids {
			if a != bridge && b != bridge && in[a] != in[b] {
				g[a] = append(g[a], b)
			}
		}
	}
	return g
}

// Hub returns the grudge in which hub hears, and is heard by, every node
// and no two other nodes hear each other.
func Hub(ids []int, hub int) cluster.Grudge {
	g := cluster.Grudge{}
	for _, a := range ids {
		for _, b := range ids {
			if a != b && a != hub && b != hub {
				g[a] = append(g[a], b)
			}
		}
	}
	return g
}

// OneWay returns the grudge in which the nodes of side hear nothing from
// the others, while the others hear side: side's messages get through,
// the replies and requests coming back do not.
func OneWay(ids, side []int) cluster.Grudge {
	in := map[int]bool{}
	for _, id := range side {
		in[id] = true
	}
	g := cluster.Grudge{}
	for _, a := range side {
		for _, b := range ids {
			if !in[b] {
				g[a] = append(g[a], b)
			}
		}
	}
	return g
}

// MajorityRing places ids on a ring in the order perm gives and lets each
// node hear only the majority of nodes nearest to it on the ring (itself
// included): every node sees a majority, and no two see the same one.
// With an even majority the window leans one way, so some links are cut
// in one direction only (as in Jepsen's majorities-ring).
func MajorityRing(perm []int, ids []int) cluster.Grudge {
	n := len(ids)
	m := n/2 + 1
	ring := make([]int, n)
	for i, p := range perm {
		ring[i] = ids[p]
	}
	g := cluster.Grudge{}
	for pos, a := range ring {
		sees := map[int]bool{}
		for k := -(m - 1) / 2; k <= m/2; k++ {
			sees[ring[((pos+k)%n+n)%n]] = true
		}
		for _, b := range ids {
			if !sees[b] {
				g[a] = append(g[a], b)
			}
		}
		sort.Ints(g[a])
	}
	return g
}

// grudgeNames renders a grudge for the history: node -> nodes it does not
// hear, by name.
func grudgeNames(g cluster.Grudge) map[string][]string {
	out := map[string][]string{}
	for to, from := range g {
		if len(from) > 0 {
			out[systems.NodeName(to)] = names(from)
		}
	}
	return out
}

// components names the two sides of a clean split, for the history.
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
