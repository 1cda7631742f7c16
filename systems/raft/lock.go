package raft

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/clock"
	"github.com/faultline/faultline/systems/raft/core"
)

// The lock service: named locks with leases and fencing tokens, and the
// fenced resource each lock guards, as commands of the replicated log.
//
// What is replicated is who holds a lock, with which token, and the
// lock's stamp: the index of the entry that last granted or renewed it.
// When a lease ends is not replicated: it is the leader's judgement, made
// when it proposes an acquire, from its own monotonic clock and the log —
// a lease runs for its TTL from the moment this node applied its stamp,
// and a node that becomes leader treats every lease as renewed at that
// moment (it cannot know when the old leader started them, only that it
// was not later). The leader writes the stamp it judged expired into the
// acquire; the state machine grants only if the lock is free or still has
// that stamp, so a renewal that slipped in between wins. The fencing
// token of a grant is its log index, so it grows with every grant.

// Named bugs of the lock service.
const (
	BugNoFencing      = "no-fencing"
	BugLeaseWallClock = "lease-wall-clock"
	BugReleaseAny     = "release-any"
)

// Lock commands (command.Op).
const (
	opAcquire     = "acquire"
	opRenew       = "renew"
	opRelease     = "release"
	opFencedWrite = "fenced-write"
)

// lease is a held lock, as replicated.
type lease struct {
	Owner string `json:"o"`
	Token uint64 `json:"t"`
	Stamp uint64 `json:"s"`   // index of the last grant or renewal
	TTLms int64  `json:"ttl"` // lease length
}

// resource is what a fenced resource keeps: the highest token it has
// accepted and the last value written.
type resource struct {
	MaxToken uint64          `json:"max"`
	Value    json.RawMessage `json:"v,omitempty"`
}

// lockState is the lock service's part of the state machine.
type lockState struct {
	Locks     map[string]*lease    `json:"locks"`
	Resources map[string]*resource `json:"resources"`

	noFencing, releaseAny bool // named bugs (not replicated: every node has the same)
}

func newLockState() *lockState {
	return &lockState{Locks: map[string]*lease{}, Resources: map[string]*resource{}}
}

// lockRequest is a lock operation's value in the client API.
type lockRequest struct {
	Owner string          `json:"owner"`
	Token uint64          `json:"token,omitempty"`
	TTLms int64           `json:"ttl_ms,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// lockCommand turns a client's lock operation into a command. An acquire's
// Expired is filled in by the leader when it proposes it.
func lockCommand(f, key string, raw json.RawMessage) (*command, error) {
	var lr lockRequest
	if err := json.Unmarshal(raw, &lr); err != nil {
		return nil, fmt.Errorf("%s wants value {owner, token, ttl_ms, value}: %w", f, err)
	}
	if lr.Owner == "" {
		return nil, fmt.Errorf("%s without an owner", f)
	}
	c := &command{Op: f, Key: key, Owner: lr.Owner, Token: lr.Token, TTLms: lr.TTLms}
	switch f {
	case opAcquire, opRenew:
		if lr.TTLms <= 0 {
			return nil, fmt.Errorf("%s wants ttl_ms > 0", f)
		}
	case opFencedWrite:
		v, err := canonical(lr.Value)
		if err != nil {
			return nil, err
		}
		c.Value = v
	}
	return c, nil
}

func refused(format string, args ...any) result {
	return result{Outcome: outcomeFail, Error: fmt.Sprintf(format, args...)}
}

// apply runs a lock command that is the log's entry at index.
func (s *lockState) apply(c *command, index uint64) result {
	l := s.Locks[c.Key]
	holds := l != nil && l.Owner == c.Owner && l.Token == c.Token
	switch c.Op {
	case opAcquire:
		if l != nil && l.Stamp != c.Expired {
			return refused("held by %s (token %d)", l.Owner, l.Token)
		}
		s.Locks[c.Key] = &lease{Owner: c.Owner, Token: index, Stamp: index, TTLms: c.TTLms}
		return result{Outcome: outcomeOK, Value: json.RawMessage(fmt.Sprintf(`{"token":%d}`, index))}
	case opRenew:
		if !holds {
			return refused("not held by %s with token %d", c.Owner, c.Token)
		}
		l.Stamp, l.TTLms = index, c.TTLms
		return result{Outcome: outcomeOK}
	case opRelease:
		if l == nil || (!holds && !s.releaseAny) {
			// The bug release-any skips the owner and token check.
			return refused("not held by %s with token %d", c.Owner, c.Token)
		}
		delete(s.Locks, c.Key)
		return result{Outcome: outcomeOK}
	case opFencedWrite:
		r := s.Resources[c.Key]
		if r == nil {
			r = &resource{}
			s.Resources[c.Key] = r
		}
		if c.Token < r.MaxToken && !s.noFencing {
			return refused("stale token %d: the resource has seen %d", c.Token, r.MaxToken)
		}
		r.MaxToken, r.Value = max(r.MaxToken, c.Token), c.Value
		return result{Outcome: outcomeOK}
	}
	return refused("unknown lock command %q", c.Op)
}

// leaseClock is a node's own view of when leases started: not replicated,
// only the leader's is used. Times are nanoseconds from now().
type leaseClock struct {
	now     func() int64
	started map[string]int64 // lock -> when this node applied its stamp
	term    uint64           // the term this node last led in …
	since   int64            // … and when it started leading in it
}

// newLeaseClock reads the monotonic clock, or with the lease-wall-clock
// bug the node's wall clock, which the clock fault moves.
func newLeaseClock(wall *clock.Clock, wallClock bool) *leaseClock {
	base := time.Now()
	now := func() int64 { return int64(time.Since(base)) } // monotonic
	if wallClock {
		now = func() int64 { return wall.Now().UnixNano() }
	}
	return &leaseClock{now: now, started: map[string]int64{}}
}

// applied notes that this node applied a command: a grant or renewal
// starts the lease afresh.
func (lc *leaseClock) applied(c *command, res result) {
	if res.Outcome == outcomeOK && (c.Op == opAcquire || c.Op == opRenew) {
		lc.started[c.Key] = lc.now()
	}
}

// expired returns the stamp of l if its lease has run out, as this node,
// leading in term, judges it; else 0. A node that just became leader
// counts every lease from that moment: its first judgement in a term,
// which is no earlier than its election.
func (lc *leaseClock) expired(key string, l *lease, term uint64) uint64 {
	now := lc.now()
	if term != lc.term {
		lc.term, lc.since = term, now
	}
	start, ok := lc.started[key]
	if !ok || start < lc.since {
		start = lc.since // restored from a snapshot, or led since
	}
	if now-start > int64(time.Duration(l.TTLms)*time.Millisecond) {
		return l.Stamp
	}
	return 0
}

// prepareAcquire fills in an acquire's Expired, if this node leads.
func (n *node) prepareAcquire(c *command) {
	st := n.r.Status()
	if l := n.sm.locks.Locks[c.Key]; l != nil && st.SoftState.Role == core.Leader {
		c.Expired = n.leases.expired(c.Key, l, st.HardState.Term)
	}
}

// lockCompletion is how a lock operation's completion value looks: the
// request's value with the grant's token added.
func lockCompletion(req, res json.RawMessage) (map[string]any, error) {
	out := map[string]any{}
	for _, raw := range []json.RawMessage{req, res} {
		if len(raw) == 0 {
			continue
		}
		v, err := systems.DecodeValue(raw)
		if err != nil {
			return nil, err
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("lock value %s is not an object", raw)
		}
		for k, x := range obj {
			out[k] = x
		}
	}
	return out, nil
}
