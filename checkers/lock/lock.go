// Package lock checks a lock service with leases and fencing tokens, from
// the history alone (operations acquire, renew, release and fenced-write;
// see history.OpAcquire for their values).
//
// What a client may believe. A client whose acquire of lock L came back ok
// with token T holds L from the grant — some moment between the acquire's
// invoke and its completion — until its invoke plus the lease's TTL, read
// on the client's own monotonic clock: the client cannot know when the
// service started the lease, only that it did not start before the client
// asked. An ok renew of (L, T) makes it hold again from the renew's
// completion until the renew's invoke plus the TTL. A release of (L, T)
// that was sent (ok, or info: it may have happened) ends the hold at its
// invoke; a failed release had no effect. A hold is named by its owner and
// token.
//
// Rules:
//
//   - Mutual exclusion (kind overlapping-holds). Two holds of one lock with
//     different tokens must never certainly overlap in real time. Each hold
//     segment is certain from its completion C to its end E, so two
//     segments certainly overlap when max(C1, C2) < min(E1, E2); anything
//     the uncertainty of invoke/complete windows allows is not an anomaly.
//     An acquire known only as info may or may not have been granted: it
//     carries no token, gives its owner no hold it knows of, and is
//     counted (possible_grants), never judged.
//   - Increasing tokens (kind token-order). A grant that completed before
//     another was invoked has the smaller token.
//   - Fencing safety (kind stale-write). The resource a lock guards must
//     accept tokens in non-decreasing order: an accepted fenced write whose
//     token is older than that of a write accepted before it was invoked
//     (completed earlier, in real time) is an unfenced write. Concurrent
//     writes may have been applied in either order and are not judged.
//
// Figures: grants, refusals (failed acquires), possible_grants, renewals,
// releases, writes_accepted, writes_rejected, overlapping_holds,
// unfenced_writes, token_order, longest_wait_ms (the longest time an owner
// waited from the first acquire after its last grant to the next grant)
// and locks.
package lock

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

// Kinds of anomaly this checker finds.
const (
	// OverlappingHolds: two holders certainly held one lock at once.
	// Events: the completions of the two grants (or renewals) whose holds
	// overlap, earlier hold first.
	OverlappingHolds checkers.Kind = "overlapping-holds"
	// TokenOrder: a later grant carried a token no greater than an earlier
	// one. Events: the earlier grant, the later grant.
	TokenOrder checkers.Kind = "token-order"
	// StaleWrite: the resource accepted a write with a token older than
	// one it had already accepted. Events: the stale write, the newer
	// write accepted before it.
	StaleWrite checkers.Kind = "stale-write"
)

// Value is what a lock operation's events carry.
type Value struct {
	Owner string `json:"owner"`
	Token uint64 `json:"token,omitempty"`
	TTLms int64  `json:"ttl_ms,omitempty"`
	Value any    `json:"value,omitempty"`
}

// Checker is the lock checker.
type Checker struct{}

// New returns the lock checker.
func New() Checker { return Checker{} }

func (Checker) Name() string { return "lock" }

// ParseValue reads a lock operation's event value, whatever Go types it
// took on the way (maps of json.Number read back, or of ints as recorded).
func ParseValue(v any) (Value, error) {
	var out Value
	b, err := json.Marshal(v)
	if err != nil {
		return out, fmt.Errorf("encode value: %w", err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("value %s is not {owner, token, ttl_ms, value}: %w", b, err)
	}
	return out, nil
}

// op is one lock operation with its values read.
type op struct {
	history.Op
	in, out Value // the invoke's value; the completion's (the invoke's if none)
}

func (o op) inv() int64 { return o.Invoke.Time }

// done is the completion time, or never for an op that never completed.
func (o op) done() int64 {
	if o.Complete == nil {
		return 1<<63 - 1
	}
	return o.Complete.Time
}

// event names the op: its completion, or its invoke when it has none.
func (o op) event() int {
	if o.Complete == nil {
		return o.Invoke.Index
	}
	return o.Complete.Index
}

func ttl(v Value) int64 { return int64(time.Duration(v.TTLms) * time.Millisecond) }

// Validate reports a history this checker cannot judge at all: one that
// does not pair up, has an operation other than the lock operations, or a
// value it cannot read.
func Validate(events []history.Event) error {
	_, err := prepare(events)
	return err
}

// prepare pairs the history's lock operations and reads their values. It
// fails on a history that does not pair up, an operation that is not a
// lock operation, or a value it cannot read.
func prepare(events []history.Event) ([]op, error) {
	pairs, err := history.Pair(events)
	if err != nil {
		return nil, fmt.Errorf("history does not pair up: %w", err)
	}
	ops := make([]op, 0, len(pairs))
	for _, p := range pairs {
		switch p.F {
		case history.OpAcquire, history.OpRenew, history.OpRelease, history.OpFencedWrite:
		default:
			return nil, fmt.Errorf("event %d: operation %q is not a lock operation (acquire, renew, release, fenced-write)", p.Invoke.Index, p.F)
		}
		o := op{Op: p}
		if o.in, err = ParseValue(p.Invoke.Value); err != nil {
			return nil, fmt.Errorf("event %d: %w", p.Invoke.Index, err)
		}
		o.out = o.in
		if p.Complete != nil && p.Complete.Value != nil {
			if o.out, err = ParseValue(p.Complete.Value); err != nil {
				return nil, fmt.Errorf("event %d: %w", p.Complete.Index, err)
			}
		}
		ops = append(ops, o)
	}
	return ops, nil
}

// holder names a hold: an owner and the token of its grant.
type holder struct {
	owner string
	token uint64
}

func (h holder) String() string { return fmt.Sprintf("%s (token %d)", h.owner, h.token) }

// segment is a stretch of real time a holder certainly held a lock: from
// the completion of its grant or renewal to the end its client knew of.
type segment struct {
	holder
	from, to int64
	event    int  // the grant's or renewal's completion
	renewal  bool // from an ok renew, not the grant
}

// figures are the counts the checker reports.
type figures struct {
	grants, refusals, possible, renewals, releases int
	accepted, rejected                             int
	overlaps, unfenced, tokenOrder                 int
	longestWait                                    int64
	longestWaitOwner, longestWaitLock              string
}

func (Checker) Check(ctx context.Context, events []history.Event) checkers.Result {
	ops, err := prepare(events)
	if err != nil {
		return checkers.Result{Verdict: checkers.Unknown, Reason: err.Error()}
	}
	byLock := map[string][]op{}
	for _, o := range ops {
		byLock[o.Key] = append(byLock[o.Key], o)
	}
	var f figures
	var anomalies []checkers.Anomaly
	found := func(a checkers.Anomaly, count *int) {
		*count++
		if *count <= checkers.MaxExamples {
			anomalies = append(anomalies, a)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(byLock)) {
		if err := ctx.Err(); err != nil {
			return checkers.Result{Verdict: checkers.Unknown, Reason: "checker interrupted: " + err.Error()}
		}
		lops := byLock[key]
		countOps(lops, &f)
		for _, a := range overlaps(key, lops) {
			found(a, &f.overlaps)
		}
		for _, a := range tokenOrder(key, lops) {
			found(a, &f.tokenOrder)
		}
		for _, a := range staleWrites(key, lops) {
			found(a, &f.unfenced)
		}
		longestWait(key, lops, &f)
	}
	details := map[string]any{
		"locks": len(byLock), "grants": f.grants, "refusals": f.refusals, "possible_grants": f.possible,
		"renewals": f.renewals, "releases": f.releases, "writes_accepted": f.accepted, "writes_rejected": f.rejected,
		"overlapping_holds": f.overlaps, "unfenced_writes": f.unfenced, "token_order": f.tokenOrder,
		"longest_wait_ms": time.Duration(f.longestWait).Milliseconds(),
	}
	if f.longestWaitOwner != "" {
		details["longest_wait"] = fmt.Sprintf("%s on %s", f.longestWaitOwner, f.longestWaitLock)
	}
	if len(anomalies) > 0 {
		return checkers.Result{Verdict: checkers.Invalid, Anomalies: anomalies, Details: details,
			Reason: fmt.Sprintf("%d overlapping holds, %d unfenced writes, %d out-of-order tokens", f.overlaps, f.unfenced, f.tokenOrder)}
	}
	if f.grants == 0 {
		return checkers.Result{Verdict: checkers.Unknown, Details: details, Reason: "no acquire was granted: nothing to judge"}
	}
	return checkers.Result{Verdict: checkers.Valid, Details: details,
		Reason: fmt.Sprintf("%d grants of %d locks, no overlapping holds; %d accepted writes, none unfenced", f.grants, len(byLock), f.accepted)}
}

func countOps(ops []op, f *figures) {
	for _, o := range ops {
		t := o.Outcome()
		switch o.F {
		case history.OpAcquire:
			switch t {
			case history.OK:
				f.grants++
			case history.Fail:
				f.refusals++
			default:
				f.possible++
			}
		case history.OpRenew:
			if t == history.OK {
				f.renewals++
			}
		case history.OpRelease:
			if t == history.OK {
				f.releases++
			}
		case history.OpFencedWrite:
			switch t {
			case history.OK:
				f.accepted++
			case history.Fail:
				f.rejected++
			}
		}
	}
}

// segments are the holds of one lock, sorted by start.
func segments(ops []op) []segment {
	released := map[holder]int64{} // earliest release invoke that may have taken effect
	for _, o := range ops {
		if o.F == history.OpRelease && o.Outcome() != history.Fail {
			h := holder{o.in.Owner, o.in.Token}
			if t, ok := released[h]; !ok || o.inv() < t {
				released[h] = o.inv()
			}
		}
	}
	var segs []segment
	add := func(s segment) {
		if t, ok := released[s.holder]; ok && t < s.to {
			s.to = t
		}
		if s.from < s.to {
			segs = append(segs, s)
		}
	}
	for _, o := range ops {
		if o.Outcome() != history.OK {
			continue
		}
		switch o.F {
		case history.OpAcquire:
			add(segment{holder: holder{o.in.Owner, o.out.Token}, from: o.done(), to: o.inv() + ttl(o.in), event: o.event()})
		case history.OpRenew:
			add(segment{holder: holder{o.in.Owner, o.in.Token}, from: o.done(), to: o.inv() + ttl(o.in), event: o.event(), renewal: true})
		}
	}
	sort.SliceStable(segs, func(i, j int) bool { return segs[i].from < segs[j].from })
	return segs
}

func overlaps(key string, ops []op) []checkers.Anomaly {
	segs := segments(ops)
	var out []checkers.Anomaly
	reported := map[[2]holder]bool{}
	for i, a := range segs {
		for _, b := range segs[i+1:] {
			if b.from >= a.to {
				break // sorted by start: no later segment starts inside a
			}
			if a.holder == b.holder || b.from >= b.to {
				continue
			}
			pair := [2]holder{a.holder, b.holder}
			if reported[pair] {
				continue
			}
			reported[pair] = true
			out = append(out, checkers.Anomaly{Kind: OverlappingHolds, Key: key, Events: []int{a.event, b.event},
				Text: fmt.Sprintf("lock %s held by two clients at once: %s held it from %s (event %d) until at least %s, "+
					"and %s held it from %s (event %d) until at least %s",
					key, a.holder, what(a, "its grant"), a.event, at(a.to), b.holder, what(b, "its grant"), b.event, at(b.to))})
		}
	}
	return out
}

func what(s segment, grant string) string {
	if s.renewal {
		return fmt.Sprintf("its renewal at %s", at(s.from))
	}
	return fmt.Sprintf("%s at %s", grant, at(s.from))
}

// at formats a history time as seconds since the run started.
func at(t int64) string { return fmt.Sprintf("%.3fs", time.Duration(t).Seconds()) }

// byDone returns the ok ops of function fn, sorted by completion, with
// the running maximum of their tokens (and where each maximum was).
func byDone(ops []op, fn history.Func, token func(op) uint64) ([]op, []int) {
	var done []op
	for _, o := range ops {
		if o.F == fn && o.Outcome() == history.OK {
			done = append(done, o)
		}
	}
	sort.SliceStable(done, func(i, j int) bool { return done[i].done() < done[j].done() })
	maxAt := make([]int, len(done))
	for i := range done {
		maxAt[i] = i
		if i > 0 && token(done[maxAt[i-1]]) >= token(done[i]) {
			maxAt[i] = maxAt[i-1]
		}
	}
	return done, maxAt
}

// latestBefore returns the op with the highest token among those that
// completed before t, if any.
func latestBefore(done []op, maxAt []int, t int64) (op, bool) {
	n := sort.Search(len(done), func(i int) bool { return done[i].done() >= t })
	if n == 0 {
		return op{}, false
	}
	return done[maxAt[n-1]], true
}

func tokenOrder(key string, ops []op) []checkers.Anomaly {
	grantToken := func(o op) uint64 { return o.out.Token }
	done, maxAt := byDone(ops, history.OpAcquire, grantToken)
	var out []checkers.Anomaly
	for _, g := range done {
		prev, ok := latestBefore(done, maxAt, g.inv())
		if !ok || grantToken(prev) < grantToken(g) {
			continue
		}
		out = append(out, checkers.Anomaly{Kind: TokenOrder, Key: key, Events: []int{prev.event(), g.event()},
			Text: fmt.Sprintf("lock %s: %s's grant (event %d) came after %s's grant (event %d) had completed, yet its fencing token %d is not greater than %d",
				key, g.in.Owner, g.event(), prev.in.Owner, prev.event(), grantToken(g), grantToken(prev))})
	}
	return out
}

func staleWrites(key string, ops []op) []checkers.Anomaly {
	writeToken := func(o op) uint64 { return o.in.Token }
	done, maxAt := byDone(ops, history.OpFencedWrite, writeToken)
	var out []checkers.Anomaly
	for _, w := range done {
		newer, ok := latestBefore(done, maxAt, w.inv())
		if !ok || writeToken(newer) <= writeToken(w) {
			continue
		}
		out = append(out, checkers.Anomaly{Kind: StaleWrite, Key: key, Events: []int{w.event(), newer.event()},
			Text: fmt.Sprintf("resource %s accepted %s's write of %s with the stale token %d (event %d, invoked at %s) "+
				"after it had accepted %s's write of %s with token %d (event %d, at %s): an unfenced write",
				key, w.in.Owner, history.ValueKey(w.in.Value), writeToken(w), w.event(), at(w.inv()),
				newer.in.Owner, history.ValueKey(newer.in.Value), writeToken(newer), newer.event(), at(newer.done()))})
	}
	return out
}

// longestWait finds the longest time an owner waited for a lock: from its
// first acquire after its previous grant to its next grant.
func longestWait(key string, ops []op, f *figures) {
	acq := map[string][]op{}
	for _, o := range ops {
		if o.F == history.OpAcquire {
			acq[o.in.Owner] = append(acq[o.in.Owner], o)
		}
	}
	for owner, os := range acq {
		sort.SliceStable(os, func(i, j int) bool { return os[i].inv() < os[j].inv() })
		start := int64(-1)
		for _, o := range os {
			if start < 0 {
				start = o.inv()
			}
			if o.Outcome() == history.OK {
				if w := o.done() - start; w > f.longestWait {
					f.longestWait, f.longestWaitOwner, f.longestWaitLock = w, owner, key
				}
				start = -1
			}
		}
	}
}
