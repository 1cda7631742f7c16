package workloads

import (
	"sync"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/convergence"
	lwwchecker "github.com/faultline/faultline/checkers/lww"
	"github.com/faultline/faultline/checkers/membership"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// LWW is the last-writer-wins register workload for eventually consistent
// stores: reads and writes of unique values on a few keys at a time, so a
// node often reads a value and then takes a write; after the faults stop,
// every node is read until it settles. Judged by the lww checker (no
// settled value that an acknowledged write had causally superseded), the
// convergence checker and the membership checker. Pair it with the clock
// fault: skew is what breaks registers stamped with wall clocks.
type LWW struct{}

const (
	lwwStream  = 0x6c7777 // "lww"
	lwwMinOps  = 150
	lwwMaxOps  = 250
	lwwActive  = 3
	lwwReadPct = 50
)

func (LWW) Name() string { return "lww" }

func (LWW) Summary() string {
	return "read and write last-writer-wins registers; checked that no settled value lost to a write that had seen it"
}

func (LWW) Settle() Settle { return DefaultSettle() }

func (LWW) NewGenerator(o Options) Generator {
	rng := newRand(o.Seed, lwwStream)
	return &lwwGen{rng: rng, keys: newKeyPool("r", lwwActive, lwwMinOps, lwwMaxOps, rng)}
}

func (LWW) Checkers(o Options) []checkers.Checker {
	return []checkers.Checker{
		lwwchecker.New(),
		convergence.New(convergence.Options{Bound: DefaultSettle().Timeout, Expect: lwwchecker.Expect}),
		membership.New(membership.Options{}),
	}
}

// Validate reports a history the lww checkers cannot judge.
func (LWW) Validate(events []history.Event) error {
	_, err := history.Pair(events)
	return err
}

var (
	_ Validator = LWW{}
	_ Settler   = LWW{}
)

type lwwGen struct {
	mu   sync.Mutex
	rng  interface{ IntN(int) int }
	keys *keyPool
	next int // values are unique across keys
}

func (g *lwwGen) Next() systems.Op {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := g.keys.next()
	if g.rng.IntN(100) < lwwReadPct {
		return systems.Op{F: history.OpRead, Key: key}
	}
	g.next++
	return systems.Op{F: history.OpWrite, Key: key, Value: g.next}
}

func (g *lwwGen) Keys() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.keys.all()
}
