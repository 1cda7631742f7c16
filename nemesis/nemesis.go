// Package nemesis holds the faults a run injects and the schedule that
// times them. A fault acts on a runtime.Cluster only; it never reads the
// history. Every start and stop becomes a pair of nemesis events (process
// -1) in the history, so checkers and reports can line faults up with
// anomalies.
package nemesis

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/harness/runtime"
)

// Action is what a fault did, as recorded in the history.
type Action struct {
	F     string // e.g. start-partition, kill
	Value any    // details: the grudge, the nodes killed …
	Node  string // the node acted on, when there is one
}

// Fault is one kind of failure. Start injects it and Stop undoes it; the
// schedule never starts a fault twice without stopping it in between.
type Fault interface {
	Name() string
	// StartF and StopF name the history events of Start and Stop.
	StartF() string
	StopF() string
	Start(ctx context.Context, c runtime.Cluster, rng *rand.Rand) (Action, error)
	Stop(ctx context.Context, c runtime.Cluster) (Action, error)
}

// leader asks every node's admin endpoint and returns the node that says it
// leads in the highest term, if any. Systems without leaders never say so.
func leader(ctx context.Context, c runtime.Cluster) (int, bool) {
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

// Registry maps names to fault constructors.
type Registry struct{ byName map[string]func() Fault }

// Default returns a registry of every fault faultline ships.
func Default() *Registry {
	return &Registry{byName: map[string]func() Fault{
		"partition": func() Fault { return &Partition{} },
		"kill":      func() Fault { return &Kill{} },
		"slow":      func() Fault { return &Slow{} },
	}}
}

// Names lists the registered faults, sorted.
func (r *Registry) Names() []string {
	return slices.Sorted(maps.Keys(r.byName))
}

// Get returns a fresh fault of each name, or an error naming the first
// unknown one with the valid names. "none" alone means no faults.
func (r *Registry) Get(names []string) ([]Fault, error) {
	var fs []Fault
	seen := map[string]bool{}
	for _, n := range names {
		if n == "none" && len(names) == 1 {
			return nil, nil
		}
		mk, ok := r.byName[n]
		if !ok {
			return nil, fmt.Errorf("unknown nemesis %q (valid: %s, or none)", n, strings.Join(r.Names(), ", "))
		}
		if seen[n] {
			return nil, fmt.Errorf("nemesis %q given twice", n)
		}
		seen[n] = true
		fs = append(fs, mk())
	}
	return fs, nil
}
