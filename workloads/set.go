package workloads

import (
	"sync"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/convergence"
	"github.com/faultline/faultline/checkers/membership"
	setchecker "github.com/faultline/faultline/checkers/set"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// Set is the set workload: clients add unique elements to a few sets at a
// time (and, where the system offers it, remove some they added) and read
// whole sets; after the faults stop, every node is read until it settles.
// Judged by the set checker (lost / stale / unexpected elements), the
// convergence checker and the membership checker.
type Set struct{}

const (
	setStream    = 0x736574 // "set"
	setMinOps    = 800
	setMaxOps    = 1200
	setActive    = 2
	setReadPct   = 10
	setRemovePct = 10
)

func (Set) Name() string { return "set" }

func (Set) Summary() string {
	return "add unique elements to sets (and remove some), read whole sets; checked for lost, stale and unexpected elements and convergence"
}

func (Set) Settle() Settle { return DefaultSettle() }

func (Set) NewGenerator(o Options) Generator {
	rng := newRand(o.Seed, setStream)
	return &setGen{rng: rng, keys: newKeyPool("set", setActive, setMinOps, setMaxOps, rng),
		removes: has(o.Functions, history.OpRemove), added: map[string][]int{}}
}

func (Set) Checkers(o Options) []checkers.Checker {
	return []checkers.Checker{
		setchecker.New(),
		convergence.New(convergence.Options{Bound: DefaultSettle().Timeout, Expect: setchecker.Expect}),
		membership.New(membership.Options{}),
	}
}

// Validate reports a history the set checkers cannot judge.
func (Set) Validate(events []history.Event) error {
	_, err := history.Pair(events)
	return err
}

var (
	_ Validator = Set{}
	_ Settler   = Set{}
)

type setGen struct {
	mu      sync.Mutex
	rng     interface{ IntN(int) int }
	keys    *keyPool
	removes bool
	next    int              // elements are unique across all keys
	added   map[string][]int // per key, elements handed out for adding
}

func (g *setGen) Next() systems.Op {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := g.keys.next()
	roll := g.rng.IntN(100)
	switch {
	case roll < setReadPct:
		return systems.Op{F: history.OpRead, Key: key}
	case g.removes && roll < setReadPct+setRemovePct && len(g.added[key]) > 0:
		// Remove one of the recent adds, so the remove often races the
		// add's dissemination (the OR-Set's add-wins case).
		xs := g.added[key]
		i := max(0, len(xs)-1-g.rng.IntN(min(len(xs), 20)))
		return systems.Op{F: history.OpRemove, Key: key, Value: xs[i]}
	default:
		g.next++
		g.added[key] = append(g.added[key], g.next)
		return systems.Op{F: history.OpAdd, Key: key, Value: g.next}
	}
}

func (g *setGen) Keys() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.keys.all()
}
