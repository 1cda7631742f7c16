package report

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/linearizable"
	"github.com/faultline/faultline/history"
)

// story is the smallest piece of one key's history that shows it is not
// linearizable, told in words.
type story struct {
	Key     string
	Summary string // one or two sentences
	Ops     []op   // the piece of history, in invoke order
	Witness int    // index in Ops of the operation that cannot be placed; -1 if unknown
	Cut     int    // Event.Index of the last event of the smallest failing prefix; -1 if not found
}

// explainKey finds the shortest prefix of key's history (cut after a
// completion) that Porcupine cannot linearize — checkers.FirstInvalidPrefix
// bisects, linearizability being closed under prefixes — and names the
// operation whose completion breaks it. Then it looks for a short proof in
// words: the value read was never written, or was overwritten by a write
// that was acknowledged (or a value observed) before the read began.
func explainKey(ctx context.Context, events []history.Event, key string, budget time.Duration) story {
	st := story{Key: key, Witness: -1, Cut: -1}
	var sub []history.Event
	for _, e := range events {
		if e.IsClient() && e.Key == key {
			sub = append(sub, e)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	chk := linearizable.New(linearizable.Options{Timeout: budget, Workers: 1, MaxFiles: -1})
	n, found := checkers.FirstInvalidPrefix(ctx, sub, func(ctx context.Context, prefix []history.Event) checkers.Verdict {
		return chk.Check(ctx, prefix).Verdict
	})
	if !found {
		st.Summary = fmt.Sprintf("The checker found no linearization of key %q, but re-checking it here did not finish in %s.", key, budget)
		st.Ops = tail(pairOps(sub), 12)
		return st
	}
	prefix := sub[:n]
	st.Cut = prefix[len(prefix)-1].Index
	ops := pairOps(prefix)
	all := pairOps(sub)
	w := -1
	for i := range ops {
		if ops[i].endPos == len(prefix)-1 {
			w = i
		}
	}
	if w < 0 {
		st.Summary = fmt.Sprintf("The history of key %q cannot be linearized up to event %d.", key, st.Cut)
		st.Ops = tail(ops, 12)
		return st
	}
	summary, related := tell(ops[w], ops, all)
	st.Summary = summary
	st.Ops, st.Witness = piece(ops, w, related)
	return st
}

// tell puts the witness's problem into words and returns the positions (in
// ops) of the operations the words mention.
func tell(w op, ops, all []op) (string, []int) {
	seen, ok := observed(w)
	what := describeOp(w)
	if !ok {
		return fmt.Sprintf("%s, and no order of the operations before it, with the ones still in flight, explains what it did (see the highlighted operation below).", capitalize(what)), nil
	}
	v := valueText(seen)
	// Every operation in the whole history that could have written v.
	var writers []op
	for _, o := range all {
		if o.outcome != history.Fail && wrote(o) == v && o.invPos < w.endPos {
			writers = append(writers, o)
		}
	}
	if len(writers) == 0 && v != "null" {
		return fmt.Sprintf("%s, a value no operation before it wrote.", capitalize(what)), nil
	}
	// A fact: an operation that finished before w began and showed the key
	// held something else, after every write of v had finished.
	for i := len(ops) - 1; i >= 0; i-- {
		x := ops[i]
		if x.outcome != history.OK || x.endPos > w.invPos {
			continue
		}
		u, isWrite := wroteOK(x)
		if !isWrite {
			if xs, ok := observed(x); ok {
				u = valueText(xs)
			} else {
				continue
			}
		}
		if u == v {
			continue
		}
		// The write the fact rests on: x itself, or the first that wrote
		// what x saw.
		uw := x
		if !isWrite {
			found := false
			for _, o := range all {
				if o.outcome != history.Fail && wrote(o) == u && o.invPos < x.endPos && (!found || o.invPos < uw.invPos) {
					uw, found = o, true
				}
			}
			if !found {
				continue
			}
		}
		proven := true
		for _, o := range writers {
			if o.outcome != history.OK || o.endPos > uw.invPos {
				proven = false
				break
			}
		}
		if !proven {
			continue
		}
		rel := []int{i}
		for j, o := range ops {
			if o.invPos == uw.invPos && j != i {
				rel = append(rel, j)
			}
		}
		because := " Nothing had written null to the key: the read saw its initial, empty state, which had already been replaced."
		if v != "null" {
			because = fmt.Sprintf(" Nothing had written %s to the key, so the read saw a state that was already gone.", truncate(v, 40))
		}
		if len(writers) > 0 {
			lastV := writers[0]
			for _, o := range writers {
				if o.endPos > lastV.endPos {
					lastV = o
				}
			}
			for j, o := range ops {
				if o.invPos == lastV.invPos {
					rel = append(rel, j)
				}
			}
			because = fmt.Sprintf(" Every write of %s had been acknowledged before %s began (the last at %s), so %s was already overwritten.",
				truncate(v, 40), describeOp(uw), secs(lastV.end), truncate(v, 40))
		}
		if isWrite {
			return fmt.Sprintf("%s after %s was acknowledged (%s, at %s).%s", capitalize(what), describeOp(x), who(x), secs(x.end), because), rel
		}
		return fmt.Sprintf("%s after a read of %s had already returned %s (%s, at %s).%s",
			capitalize(what), x.key, truncate(u, 40), who(x), secs(x.end), because), rel
	}
	var rel []int
	for j, o := range ops {
		if wrote(o) == v && o.outcome != history.Fail {
			rel = append(rel, j)
		}
	}
	return fmt.Sprintf("%s, but no order of the operations around it is consistent with that: the writes of that value and the operations that overlap it are below, and Porcupine's visualization shows the longest orders it tried.", capitalize(what)), rel
}

// observed is what an ok operation saw of the key: a read's value, a cas's
// expected value.
func observed(o op) (any, bool) {
	if o.outcome != history.OK {
		return nil, false
	}
	switch o.f {
	case history.OpRead:
		return o.value, true
	case history.OpCAS:
		if a, ok := o.value.([]any); ok && len(a) == 2 {
			return a[0], true
		}
	}
	return nil, false
}

// wrote is the value an operation may have written ("" for none).
func wrote(o op) string {
	switch o.f {
	case history.OpWrite:
		return valueText(o.value)
	case history.OpCAS:
		if a, ok := o.value.([]any); ok && len(a) == 2 {
			return valueText(a[1])
		}
	}
	return ""
}

func wroteOK(o op) (string, bool) {
	if o.outcome != history.OK {
		return "", false
	}
	v := wrote(o)
	return v, v != ""
}

func describeOp(o op) string {
	val := valueText(o.value)
	switch o.f {
	case history.OpRead:
		if o.outcome == history.OK {
			return fmt.Sprintf("read of %s returned %s (%s, at %s)", o.key, truncate(val, 40), who(o), secs(o.end))
		}
		return fmt.Sprintf("read of %s (%s)", o.key, who(o))
	case history.OpWrite:
		return fmt.Sprintf("write %s to %s", truncate(val, 40), o.key)
	case history.OpCAS:
		if a, ok := o.value.([]any); ok && len(a) == 2 {
			s := fmt.Sprintf("cas of %s from %s to %s", o.key, truncate(valueText(a[0]), 40), truncate(valueText(a[1]), 40))
			if o.outcome == history.OK {
				s += fmt.Sprintf(" succeeded (%s, at %s)", who(o), secs(o.end))
			}
			return s
		}
	}
	return fmt.Sprintf("%s of %s with %s", o.f, o.key, truncate(val, 40))
}

func who(o op) string {
	if o.node != "" {
		return fmt.Sprintf("process %d on %s", o.process, o.node)
	}
	return fmt.Sprintf("process %d", o.process)
}

func secs(ns int64) string {
	if ns < 0 {
		return "never"
	}
	return fmt.Sprintf("%.3f s", float64(ns)/1e9)
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// piece picks the operations to show: the witness, those the words name,
// and those overlapping the witness, at most 12, in invoke order.
func piece(ops []op, w int, related []int) ([]op, int) {
	pick := map[int]bool{w: true}
	for _, i := range related {
		pick[i] = true
	}
	wit := ops[w]
	var overlap []int
	for i, o := range ops {
		end := o.endPos
		if end < 0 {
			end = 1 << 62
		}
		if i != w && o.invPos < wit.endPos && end > wit.invPos {
			overlap = append(overlap, i)
		}
	}
	// Nearest overlapping ones first.
	sort.Slice(overlap, func(a, b int) bool { return abs(overlap[a]-w) < abs(overlap[b]-w) })
	for _, i := range overlap {
		if len(pick) >= 12 {
			break
		}
		pick[i] = true
	}
	idx := slices.Sorted(func(yield func(int) bool) {
		for i := range pick {
			if !yield(i) {
				return
			}
		}
	})
	out := make([]op, len(idx))
	at := -1
	for j, i := range idx {
		out[j] = ops[i]
		if i == w {
			at = j
		}
	}
	return out, at
}

func tail(ops []op, n int) []op {
	if len(ops) > n {
		return ops[len(ops)-n:]
	}
	return ops
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
