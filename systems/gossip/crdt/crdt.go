// Package crdt holds the state-based CRDTs of the gossip store: G-Counter,
// PN-Counter, G-Set, OR-Set and an LWW-Register stamped by a hybrid logical
// clock, plus Object, the per-key product of them that replicas exchange.
//
// Every type is a plain value. Merge is pure: it never modifies its inputs
// and returns a fresh value, and it is commutative, associative and
// idempotent (a join), which is what lets replicas exchange state in any
// order, any number of times, and still converge. Mutators return a delta:
// the smallest state that, merged anywhere, has the mutation's effect.
package crdt

import (
	"maps"
	"slices"
)

// GCounter is a grow-only counter: one monotonic count per node; its value
// is their sum, and merge takes the larger count per node.
type GCounter struct {
	Counts map[string]uint64 `json:"c,omitempty"`
}

// Value is the sum of every node's count.
func (g GCounter) Value() uint64 {
	var s uint64
	for _, c := range g.Counts {
		s += c
	}
	return s
}

// Inc returns the delta that adds n to node's count.
func (g GCounter) Inc(node string, n uint64) GCounter {
	return GCounter{Counts: map[string]uint64{node: g.Counts[node] + n}}
}

// Merge returns the join of g and o.
func (g GCounter) Merge(o GCounter) GCounter {
	out := GCounter{Counts: make(map[string]uint64, max(len(g.Counts), len(o.Counts)))}
	for n, c := range g.Counts {
		out.Counts[n] = c
	}
	for n, c := range o.Counts {
		out.Counts[n] = max(out.Counts[n], c)
	}
	if len(out.Counts) == 0 {
		out.Counts = nil
	}
	return out
}

// Equal reports whether g and o hold the same counts.
func (g GCounter) Equal(o GCounter) bool { return maps.Equal(g.Counts, o.Counts) }

// PNCounter is a counter that goes both ways: increments and decrements
// kept in two G-Counters.
type PNCounter struct {
	P GCounter `json:"p"`
	N GCounter `json:"n"`
}

// Value is increments minus decrements.
func (c PNCounter) Value() int64 { return int64(c.P.Value()) - int64(c.N.Value()) }

// Add returns the delta that adds delta (of either sign) on node's behalf.
func (c PNCounter) Add(node string, delta int64) PNCounter {
	switch {
	case delta > 0:
		return PNCounter{P: c.P.Inc(node, uint64(delta))}
	case delta < 0:
		return PNCounter{N: c.N.Inc(node, uint64(-delta))}
	}
	return PNCounter{}
}

// Merge returns the join of c and o.
func (c PNCounter) Merge(o PNCounter) PNCounter {
	return PNCounter{P: c.P.Merge(o.P), N: c.N.Merge(o.N)}
}

// Equal reports whether c and o hold the same state.
func (c PNCounter) Equal(o PNCounter) bool { return c.P.Equal(o.P) && c.N.Equal(o.N) }

// GSet is a grow-only set of elements (canonical JSON texts).
type GSet struct {
	Elems map[string]bool `json:"e,omitempty"`
}

// Add returns the delta that adds e.
func (s GSet) Add(e string) GSet { return GSet{Elems: map[string]bool{e: true}} }

// Contains reports whether e is in s.
func (s GSet) Contains(e string) bool { return s.Elems[e] }

// Elements returns the elements, sorted.
func (s GSet) Elements() []string { return slices.Sorted(maps.Keys(s.Elems)) }

// Merge returns the union of s and o.
func (s GSet) Merge(o GSet) GSet {
	out := GSet{Elems: make(map[string]bool, len(s.Elems)+len(o.Elems))}
	maps.Copy(out.Elems, s.Elems)
	maps.Copy(out.Elems, o.Elems)
	if len(out.Elems) == 0 {
		out.Elems = nil
	}
	return out
}

// Equal reports whether s and o hold the same elements.
func (s GSet) Equal(o GSet) bool { return maps.Equal(s.Elems, o.Elems) }

// ORSet is an observed-remove set: each add carries a unique tag, a remove
// tombstones the tags its replica has observed for the element, and an
// element is present while it has a tag that is not tombstoned. An add
// concurrent with a remove therefore wins (its tag was not observed).
type ORSet struct {
	// Adds maps each element to the tags it was added with.
	Adds map[string]map[string]bool `json:"a,omitempty"`
	// Removed holds the tombstoned tags.
	Removed map[string]bool `json:"r,omitempty"`
}

// Add returns the delta that adds e under tag, which must be unique across
// the cluster and all time (the node names it: node, incarnation, counter).
func (s ORSet) Add(e, tag string) ORSet {
	return ORSet{Adds: map[string]map[string]bool{e: {tag: true}}}
}

// Remove returns the delta that removes e as far as s has observed it: its
// tags, tombstoned. Removing an absent element is an empty delta.
func (s ORSet) Remove(e string) ORSet {
	d := ORSet{}
	for t := range s.Adds[e] {
		if !s.Removed[t] {
			if d.Removed == nil {
				d.Removed = map[string]bool{}
			}
			d.Removed[t] = true
		}
	}
	return d
}

// Contains reports whether e has a live tag.
func (s ORSet) Contains(e string) bool {
	for t := range s.Adds[e] {
		if !s.Removed[t] {
			return true
		}
	}
	return false
}

// Elements returns the present elements, sorted.
func (s ORSet) Elements() []string {
	var out []string
	for e := range s.Adds {
		if s.Contains(e) {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out
}

// Merge returns the join of s and o: the union of adds and of tombstones.
func (s ORSet) Merge(o ORSet) ORSet {
	out := ORSet{}
	for _, src := range []ORSet{s, o} {
		for e, tags := range src.Adds {
			if out.Adds == nil {
				out.Adds = map[string]map[string]bool{}
			}
			if out.Adds[e] == nil {
				out.Adds[e] = make(map[string]bool, len(tags))
			}
			maps.Copy(out.Adds[e], tags)
		}
		for t := range src.Removed {
			if out.Removed == nil {
				out.Removed = map[string]bool{}
			}
			out.Removed[t] = true
		}
	}
	return out
}

// Equal reports whether s and o hold the same state.
func (s ORSet) Equal(o ORSet) bool {
	return maps.EqualFunc(s.Adds, o.Adds, func(a, b map[string]bool) bool { return maps.Equal(a, b) }) &&
		maps.Equal(s.Removed, o.Removed)
}
