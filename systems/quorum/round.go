package quorum

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrNoQuorum says a phase of a round could not reach a majority.
var ErrNoQuorum = errors.New("no majority of replicas answered")

// Kind is what a round does.
type Kind int

const (
	Read Kind = iota
	Write
)

func (k Kind) String() string {
	if k == Write {
		return "write"
	}
	return "read"
}

// Phase is where a round is.
//
//	Query ──majority of replies──> Store ──majority of acks──> Done
//	  │                             │
//	  └─ too many failures ─> Failed └─ too many failures ─> Failed
//
// A read whose majority all carried the greatest tag (or any read with the
// no-write-back bug) goes from Query straight to Done.
type Phase int

const (
	PhaseQuery Phase = iota
	PhaseStore
	PhaseDone
	PhaseFailed
)

func (p Phase) String() string {
	return [...]string{"query", "store", "done", "failed"}[p]
}

// RoundConfig is what every round of a coordinator shares.
type RoundConfig struct {
	// Replicas lists every replica, the coordinator's own included.
	Replicas []int
	// NoWriteBack is the named bug "no-write-back": a read returns the
	// greatest tag of its majority without storing it back.
	NoWriteBack bool
}

// Quorum returns the majority size for n replicas.
func Quorum(n int) int { return n/2 + 1 }

// Round is one client operation at its coordinator, as a state machine with
// no I/O: the caller sends the requests it names, feeds back each replica's
// answer or failure, and stops when Done says so. Answers that arrive after
// their phase ended are ignored. Not safe for concurrent use.
type Round struct {
	kind     Kind
	key      string
	value    []byte // a write's value
	cfg      RoundConfig
	quorum   int
	issuer   *Issuer // writes only
	phase    Phase
	replies  map[int]Versioned // query phase
	failures map[int]error     // of the current phase
	target   Versioned         // store phase: what is stored
	sentTo   []int             // store phase: replicas asked to store
	acked    map[int]bool      // store phase: replicas known to hold target
	result   Result
}

// Result is how a finished round ended.
type Result struct {
	// Versioned is, for a read, the value read and its tag; for a write, the
	// value written and the tag it got.
	Versioned
	// Err is nil on success and wraps ErrNoQuorum otherwise.
	Err error
	// MaybeApplied, for a failed write, says the store phase had started,
	// so some replicas may hold the value: the outcome is unknown. False
	// means the write certainly took no effect.
	MaybeApplied bool
	// WroteBack says a read stored its result back to a majority.
	WroteBack bool
}

// NewRead starts a read of key. The caller sends a query for key to every
// replica in cfg.Replicas.
func NewRead(cfg RoundConfig, key string) *Round {
	return newRound(Read, cfg, key, nil, nil)
}

// NewWrite starts a write of value to key; issuer picks its tag. The caller
// sends a query for key to every replica in cfg.Replicas.
func NewWrite(cfg RoundConfig, issuer *Issuer, key string, value []byte) *Round {
	return newRound(Write, cfg, key, value, issuer)
}

func newRound(kind Kind, cfg RoundConfig, key string, value []byte, issuer *Issuer) *Round {
	if len(cfg.Replicas) == 0 {
		panic("quorum: round with no replicas")
	}
	return &Round{
		kind:     kind,
		key:      key,
		value:    value,
		cfg:      cfg,
		quorum:   Quorum(len(cfg.Replicas)),
		issuer:   issuer,
		replies:  make(map[int]Versioned),
		failures: make(map[int]error),
	}
}

// StoreRequest asks replicas To to store Versioned under the round's key.
type StoreRequest struct {
	To []int
	Versioned
}

// Key returns the key the round works on.
func (r *Round) Key() string { return r.key }

// Phase returns the current phase.
func (r *Round) Phase() Phase { return r.phase }

// Done reports whether the round has ended, and how.
func (r *Round) Done() (Result, bool) {
	return r.result, r.phase == PhaseDone || r.phase == PhaseFailed
}

// QueryReply records replica from's answer to the query. When it completes
// a majority and the round must store, it returns the store request to send.
func (r *Round) QueryReply(from int, v Versioned) *StoreRequest {
	if r.phase != PhaseQuery || !r.known(from) {
		return nil
	}
	if _, dup := r.replies[from]; dup {
		return nil
	}
	if _, failed := r.failures[from]; failed {
		return nil
	}
	r.replies[from] = v
	if len(r.replies) < r.quorum {
		return nil
	}
	return r.decide()
}

// QueryFailed records that replica from could not answer the query.
func (r *Round) QueryFailed(from int, err error) {
	if r.phase != PhaseQuery || !r.known(from) {
		return
	}
	if _, answered := r.replies[from]; answered {
		return
	}
	r.failures[from] = err
	if len(r.cfg.Replicas)-len(r.failures) < r.quorum {
		// Nothing was sent but queries: the operation had no effect.
		r.fail(false)
	}
}

// decide ends the query phase with a majority of replies in hand.
func (r *Round) decide() *StoreRequest {
	var newest Versioned
	for _, v := range r.replies {
		if newest.Tag.Less(v.Tag) {
			newest = v
		}
	}
	if r.kind == Write {
		target := Versioned{Tag: r.issuer.Next(r.key, newest.Tag), Value: r.value}
		return r.beginStore(target, r.cfg.Replicas, nil)
	}
	if r.cfg.NoWriteBack {
		// The bug: another majority may not hold newest yet, so a later
		// read can return an older value than this one did.
		r.finish(newest, false)
		return nil
	}
	// Replicas that answered with the newest tag hold it durably already
	// (tags only grow): they count as acks and need no request.
	var have, need []int
	for _, id := range r.cfg.Replicas {
		if v, ok := r.replies[id]; ok && v.Tag == newest.Tag {
			have = append(have, id)
		} else {
			need = append(need, id)
		}
	}
	if len(have) >= r.quorum {
		r.finish(newest, false)
		return nil
	}
	return r.beginStore(newest, need, have)
}

func (r *Round) beginStore(target Versioned, to, acked []int) *StoreRequest {
	r.phase = PhaseStore
	r.target = target
	r.sentTo = slices.Clone(to)
	r.acked = make(map[int]bool, r.quorum)
	for _, id := range acked {
		r.acked[id] = true
	}
	clear(r.failures)
	return &StoreRequest{To: slices.Clone(to), Versioned: target}
}

// StoreAck records that replica from durably holds the stored tag or a
// newer one.
func (r *Round) StoreAck(from int) {
	if r.phase != PhaseStore || !slices.Contains(r.sentTo, from) || r.acked[from] {
		return
	}
	if _, failed := r.failures[from]; failed {
		return
	}
	r.acked[from] = true
	if len(r.acked) >= r.quorum {
		r.finish(r.target, r.kind == Read)
	}
}

// StoreFailed records that replica from could not confirm the store. It may
// still have applied it.
func (r *Round) StoreFailed(from int, err error) {
	if r.phase != PhaseStore || !slices.Contains(r.sentTo, from) || r.acked[from] {
		return
	}
	r.failures[from] = err
	outstanding := 0
	for _, id := range r.sentTo {
		if _, failed := r.failures[id]; !failed && !r.acked[id] {
			outstanding++
		}
	}
	if len(r.acked)+outstanding < r.quorum {
		// Some replicas may have stored: a write's outcome is unknown. A
		// read's write-back only spreads a value that was already written,
		// so the read still had no effect of its own.
		r.fail(r.kind == Write)
	}
}

func (r *Round) finish(v Versioned, wroteBack bool) {
	r.phase = PhaseDone
	r.result = Result{Versioned: v, WroteBack: wroteBack}
}

func (r *Round) fail(maybeApplied bool) {
	phase := r.phase
	r.phase = PhaseFailed
	ids := make([]int, 0, len(r.failures))
	for id := range r.failures {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var why []string
	for _, id := range ids {
		why = append(why, fmt.Sprintf("n%d: %v", id, r.failures[id]))
	}
	r.result = Result{
		Err: fmt.Errorf("%s of %q: %w in the %s phase (%d of %d replicas failed, %d needed: %s)",
			r.kind, r.key, ErrNoQuorum, phase, len(r.failures), len(r.cfg.Replicas), r.quorum, strings.Join(why, "; ")),
		MaybeApplied: maybeApplied,
	}
	if phase == PhaseStore {
		r.result.Tag = r.target.Tag
	}
}

// Answer is one replica's answer to a request of a round: a query reply
// (V), a store acknowledgement (Store), or a failure of either (Err).
type Answer struct {
	From  int
	Store bool
	V     Versioned
	Err   error
}

// Feed records an answer and returns the store request to send when it
// ends the query phase with one.
func (r *Round) Feed(a Answer) *StoreRequest {
	switch {
	case a.Store && a.Err != nil:
		r.StoreFailed(a.From, a.Err)
	case a.Store:
		r.StoreAck(a.From)
	case a.Err != nil:
		r.QueryFailed(a.From, a.Err)
	default:
		return r.QueryReply(a.From, a.V)
	}
	return nil
}

func (r *Round) known(id int) bool { return slices.Contains(r.cfg.Replicas, id) }
