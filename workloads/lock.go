package workloads

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/checkers"
	lockchecker "github.com/faultline/faultline/checkers/lock"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// Sessioner is a generator whose clients each follow a protocol of their
// own (the lock workload: acquire, write with the token, release). The
// runner gives each worker a session instead of calling Next, and tells
// it how each of its operations ended.
type Sessioner interface {
	Session(worker int) Session
}

// Session is one worker's client.
type Session interface {
	// Next is the worker's next operation.
	Next() systems.Op
	// Done reports how op ended: its completion type and value (an ok
	// acquire's value carries the token).
	Done(op systems.Op, typ history.Type, value any)
	// Holding says the client holds a lock: where client-pause stalls it.
	Holding() bool
}

// Lock workload parameters: the lease is short next to a client-pause
// episode (seconds) and long next to a hold (a few fenced writes).
const (
	lockTTL       = time.Second
	lockCount     = 2
	lockMinWrites = 2
	lockMaxWrites = 5
	lockStream    = 0x6c6f636b // "lock"
)

// LockWorkload returns the lock workload: each client loops acquire →
// a few fenced writes to the lock's resource carrying its token → release,
// on a couple of locks, renewing when half its lease has gone by. Judged
// by the lock checker (checkers/lock). Pair it with client-pause (a
// client stalled past its lease), clock faults and partitions.
func LockWorkload() Workload { return lockWorkload{} }

type lockWorkload struct{}

func (lockWorkload) Name() string { return "lock" }

func (lockWorkload) Summary() string {
	return fmt.Sprintf("clients acquire %d locks (leases of %s), write the guarded resource with their fencing token and release; checked for mutual exclusion and fencing",
		lockCount, lockTTL)
}

func (lockWorkload) NewGenerator(o Options) Generator { return &lockGen{seed: o.Seed} }

func (lockWorkload) Checkers(Options) []checkers.Checker {
	return []checkers.Checker{lockchecker.New()}
}

// Validate reports a history the lock checker cannot judge.
func (lockWorkload) Validate(events []history.Event) error { return lockchecker.Validate(events) }

var _ Validator = lockWorkload{}

type lockGen struct {
	seed uint64
	mu   sync.Mutex
	next int // next value written, unique across clients
}

// Next is never used: every worker has a session.
func (g *lockGen) Next() systems.Op { panic("lock workload: use Session") }

// Keys is empty: the lock checker needs no final reads.
func (g *lockGen) Keys() []string { return nil }

func (g *lockGen) value() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.next++
	return g.next
}

func (g *lockGen) Session(worker int) Session {
	return &lockSession{gen: g, owner: fmt.Sprintf("c%d", worker), rng: newRand(g.seed, lockStream+uint64(worker))}
}

var _ Sessioner = (*lockGen)(nil)

// lockSession is one client's loop. Only its worker calls Next and Done;
// holding is read by the nemesis too.
type lockSession struct {
	gen     *lockGen
	owner   string
	rng     *rand.Rand
	lock    string    // the lock held or wanted
	token   uint64    // held token, if holding
	since   time.Time // invoke of the last acquire or renew: the lease's earliest start
	writes  int       // fenced writes left before release
	holding atomic.Bool
	invoked time.Time
}

func (s *lockSession) Holding() bool { return s.holding.Load() }

func (s *lockSession) Next() systems.Op {
	s.invoked = time.Now()
	if !s.holding.Load() {
		if s.lock == "" {
			s.lock = fmt.Sprintf("l%d", s.rng.IntN(lockCount))
		}
		return systems.Op{F: history.OpAcquire, Key: s.lock, Value: map[string]any{"owner": s.owner, "ttl_ms": lockTTL.Milliseconds()}}
	}
	switch {
	case s.writes <= 0:
		return systems.Op{F: history.OpRelease, Key: s.lock, Value: map[string]any{"owner": s.owner, "token": s.token}}
	case time.Since(s.since) > lockTTL/2:
		return systems.Op{F: history.OpRenew, Key: s.lock, Value: map[string]any{"owner": s.owner, "token": s.token, "ttl_ms": lockTTL.Milliseconds()}}
	}
	return systems.Op{F: history.OpFencedWrite, Key: s.lock, Value: map[string]any{"owner": s.owner, "token": s.token, "value": s.gen.value()}}
}

func (s *lockSession) Done(op systems.Op, typ history.Type, value any) {
	switch op.F {
	case history.OpAcquire:
		if typ != history.OK {
			return // refused or unknown: ask again (an unknown grant runs out by itself)
		}
		v, err := lockchecker.ParseValue(value)
		if err != nil || v.Token == 0 {
			return // a grant without a token is no grant this client can use
		}
		s.token, s.since, s.writes = v.Token, s.invoked, lockMinWrites+s.rng.IntN(lockMaxWrites-lockMinWrites+1)
		s.holding.Store(true)
	case history.OpRenew:
		if typ == history.OK {
			s.since = s.invoked
		} else {
			s.drop()
		}
	case history.OpFencedWrite:
		s.writes--
		if typ == history.Fail {
			// Rejected: someone with a newer token took over. Like a
			// client's finally block, release next all the same.
			s.writes = 0
		}
	case history.OpRelease:
		s.drop()
	}
}

// drop forgets the hold and picks a lock for the next acquire.
func (s *lockSession) drop() {
	s.holding.Store(false)
	s.token, s.lock = 0, ""
}
