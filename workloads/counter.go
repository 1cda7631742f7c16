package workloads

import (
	"sync"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/convergence"
	countchecker "github.com/faultline/faultline/checkers/counter"
	"github.com/faultline/faultline/checkers/membership"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// Counter is the counter workload: clients add positive and negative
// deltas to a few counters at a time and read them; after the faults stop,
// every node is read until it settles. Judged by the counter checker (reads
// within the bounds the deltas allow, final reads equal), the convergence
// checker and the membership checker.
type Counter struct{}

const (
	counterStream  = 0x636f756e746572 // "counter"
	counterMinOps  = 800
	counterMaxOps  = 1200
	counterActive  = 2
	counterReadPct = 20
)

func (Counter) Name() string { return "counter" }

func (Counter) Summary() string {
	return "add positive and negative deltas to counters and read them; checked against the bounds the deltas allow and for convergence"
}

func (Counter) Settle() Settle { return DefaultSettle() }

func (Counter) NewGenerator(o Options) Generator {
	rng := newRand(o.Seed, counterStream)
	return &counterGen{rng: rng, keys: newKeyPool("counter", counterActive, counterMinOps, counterMaxOps, rng)}
}

func (Counter) Checkers(o Options) []checkers.Checker {
	return []checkers.Checker{
		countchecker.New(),
		convergence.New(convergence.Options{Bound: DefaultSettle().Timeout, Expect: countchecker.Expect}),
		membership.New(membership.Options{}),
	}
}

// Validate reports a history the counter checkers cannot judge.
func (Counter) Validate(events []history.Event) error {
	_, err := history.Pair(events)
	return err
}

var (
	_ Validator = Counter{}
	_ Settler   = Counter{}
)

type counterGen struct {
	mu   sync.Mutex
	rng  interface{ IntN(int) int }
	keys *keyPool
}

func (g *counterGen) Next() systems.Op {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := g.keys.next()
	if g.rng.IntN(100) < counterReadPct {
		return systems.Op{F: history.OpRead, Key: key}
	}
	// Deltas in [-5, 10] without 0: both signs, drifting upwards, so a lost
	// update of either sign moves the final value.
	d := g.rng.IntN(15) - 5
	if d >= 0 {
		d++
	}
	return systems.Op{F: history.OpAdd, Key: key, Value: d}
}

func (g *counterGen) Keys() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.keys.all()
}
