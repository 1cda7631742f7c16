package workloads

import (
	"sync"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/convergence"
	"github.com/faultline/faultline/checkers/membership"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// converging is a workload for eventually consistent stores (counter, set,
// lww): clients touch a few keys of a pool at a time; after the faults
// stop every node is read until it settles; the history is judged by the
// workload's own checker, the convergence checker (told by expect what a
// settled value must hold) and the informational membership checker. The
// three differ only in the values below, so they are one type.
type converging struct {
	name, summary string
	pool          poolSpec
	own           func() checkers.Checker
	expect        func(events []history.Event) func(key string, v any) []string
	readPct       int // of operations, reads of the key
	// pick chooses an update of key, given the roll in [readPct, 100) that
	// made it one; called with the generator's lock held.
	pick func(g *convergingGen, key string, roll int) systems.Op
}

// poolSpec says which keys a converging workload's clients touch: names
// with prefix, active of them at a time, each retired after between minOps
// and maxOps operations; stream keeps its random source apart from others
// of the same seed.
type poolSpec struct {
	stream                 uint64
	prefix                 string
	active, minOps, maxOps int
}

func (w converging) Name() string    { return w.name }
func (w converging) Summary() string { return w.summary }
func (converging) Settle() Settle    { return DefaultSettle() }

func (w converging) Checkers(Options) []checkers.Checker {
	return []checkers.Checker{
		w.own(),
		convergence.New(convergence.Options{Bound: DefaultSettle().Timeout, Expect: w.expect}),
		membership.New(membership.Options{}),
	}
}

// Validate reports a history these checkers cannot judge: one whose
// completions do not pair with invocations.
func (converging) Validate(events []history.Event) error {
	_, err := history.Pair(events)
	return err
}

func (w converging) NewGenerator(o Options) Generator {
	rng := newRand(o.Seed, w.pool.stream)
	return &convergingGen{
		pick:    w.pick,
		readPct: w.readPct,
		rng:     rng,
		keys:    newKeyPool(w.pool.prefix, w.pool.active, w.pool.minOps, w.pool.maxOps, rng),
		removes: has(o.Functions, history.OpRemove),
		added:   map[string][]int{},
	}
}

var (
	_ Validator = converging{}
	_ Settler   = converging{}
)

// convergingGen hands out a converging workload's operations.
type convergingGen struct {
	pick    func(g *convergingGen, key string, roll int) systems.Op
	readPct int

	mu      sync.Mutex
	rng     interface{ IntN(int) int }
	keys    *keyPool
	removes bool             // the system's client can remove set elements
	seq     int              // values and elements are unique across keys
	added   map[string][]int // per set, elements handed out for adding
}

func (g *convergingGen) Next() systems.Op {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := g.keys.next()
	roll := g.rng.IntN(100)
	if roll < g.readPct {
		return systems.Op{F: history.OpRead, Key: key}
	}
	return g.pick(g, key, roll)
}

func (g *convergingGen) Keys() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.keys.all()
}
