package workloads

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/linearizable"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// Register is the register workload: reads, writes and (where the system
// offers it) compare-and-set over many independent keys, judged for
// linearizability.
//
// Each key takes a bounded number of operations and then retires, replaced
// by a fresh key: Porcupine's search is exponential in the concurrency on
// one key, so many short-lived keys keep it tractable where one hot key with
// tens of thousands of operations would exhaust memory. A small pool of
// active keys keeps several workers on each key at once, which is what
// exposes anomalies.
//
// A few reads revisit recently retired keys. A write lost to a fault
// (an overwritten log, a power loss) usually sits on a key that retired
// long before the next read of it, which was the final reads: revisits
// show the loss seconds after it happens, judged by the same checker.
type Register struct{}

const (
	registerMinOpsPerKey = 100
	registerMaxOpsPerKey = 200
	registerStream       = 0x7265676973746572 // "register"
	// registerRevisitPercent of operations read one of the last
	// registerRevisitWindow retired keys (about the last 15 s at the
	// default rate): enough that a key is read every few seconds after it
	// retires, few enough to leave the active keys busy.
	registerRevisitPercent = 5
	registerRevisitWindow  = 32
)

func (Register) Name() string { return "register" }

func (Register) Summary() string {
	return "read/write/cas on many short-lived keys, checked for linearizability"
}

// ActiveKeys is how many keys are in use at once for a concurrency: about
// five workers per key, so operations on a key overlap.
func ActiveKeys(concurrency int) int { return max(1, concurrency/5) }

func (Register) NewGenerator(o Options) Generator {
	g := &registerGen{
		rng:    newRand(o.Seed, registerStream),
		useCAS: has(o.Functions, history.OpCAS),
	}
	for range ActiveKeys(o.Concurrency) {
		g.active = append(g.active, g.newKey())
	}
	return g
}

func (Register) Checkers(o Options) []checkers.Checker {
	lo := linearizable.Options{Timeout: o.CheckTimeout}
	if o.NoArtifacts {
		lo.MaxFiles = -1
	}
	return []checkers.Checker{linearizable.New(lo)}
}

// Validate reports a history the register checkers cannot judge: one that
// does not pair up, or has operations other than read, write and cas.
func (Register) Validate(events []history.Event) error {
	_, err := linearizable.Prepare(events)
	return err
}

var _ Validator = Register{}

type registerKey struct {
	name      string
	remaining int // operations left before the key retires
	next      int // next value to write; values are unique per key
}

type registerGen struct {
	mu     sync.Mutex
	rng    *rand.Rand
	useCAS bool
	nkeys  int
	active []*registerKey
	keys   []string
	// retired is the last registerRevisitWindow retired keys, oldest first.
	retired []string
}

func (g *registerGen) newKey() *registerKey {
	k := &registerKey{
		name:      fmt.Sprintf("k%d", g.nkeys),
		remaining: registerMinOpsPerKey + g.rng.IntN(registerMaxOpsPerKey-registerMinOpsPerKey+1),
		next:      1,
	}
	g.nkeys++
	g.keys = append(g.keys, k.name)
	return k
}

func (g *registerGen) Next() systems.Op {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.retired) > 0 && g.rng.IntN(100) < registerRevisitPercent {
		return systems.Op{F: history.OpRead, Key: g.retired[g.rng.IntN(len(g.retired))]}
	}
	slot := g.rng.IntN(len(g.active))
	k := g.active[slot]
	k.remaining--
	if k.remaining <= 0 {
		g.active[slot] = g.newKey()
		if len(g.retired) == registerRevisitWindow {
			g.retired = g.retired[1:]
		}
		g.retired = append(g.retired, k.name)
	}

	roll := g.rng.IntN(100)
	switch {
	case g.useCAS && roll < 30 && k.next > 1:
		// Expect one of the last few values written, so a fair share of
		// cas operations can succeed.
		expected := max(1, k.next-1-g.rng.IntN(3))
		op := systems.Op{F: history.OpCAS, Key: k.name, Value: []any{expected, k.next}}
		k.next++
		return op
	case roll < 65:
		return systems.Op{F: history.OpRead, Key: k.name}
	default:
		op := systems.Op{F: history.OpWrite, Key: k.name, Value: k.next}
		k.next++
		return op
	}
}

func (g *registerGen) Keys() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.keys...)
}
