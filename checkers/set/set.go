// Package set checks the set workload, after Jepsen's set-full: for every
// element, whether its add was acknowledged, whether reads saw it, and
// whether the final reads (every node, after the faults stopped and the
// cluster settled) hold it.
//
//   - lost: acknowledged, never the target of a remove, and absent from
//     some node's final read. Invalid.
//   - unexpected: read although it was never added, its add certainly
//     failed, or the read finished before the add began. Invalid.
//   - stale: a read that began after the add was acknowledged but lacked
//     the element. Expected of an eventually consistent store, so a figure
//     (count, worst delay), not an error.
//
// Elements a client tried to remove are judged only for unexpectedness: an
// observed-remove set may keep an element whose remove raced its add.
package set

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/settled"
	"github.com/faultline/faultline/history"
)

// MaxExamples bounds the worst examples listed per kind.
const MaxExamples = 10

// Checker is the set checker.
type Checker struct{}

// New returns the set checker.
func New() Checker { return Checker{} }

func (Checker) Name() string { return "set" }

type element struct {
	key, value       string
	addInvoke        int64
	addDone          int64 // ack time; 0 unless acknowledged
	outcome          history.Type
	removed          bool // a remove was attempted and did not certainly fail
	seen             bool
	staleReads       int
	lastStaleInvoke  int64
	missingFinalFrom []string
}

// model is what the history says about every element.
type model struct {
	elems map[string]map[string]*element // key -> element -> state
	ops   []history.Op
}

func build(events []history.Event) (*model, error) {
	ops, err := history.Pair(events)
	if err != nil {
		return nil, err
	}
	m := &model{elems: map[string]map[string]*element{}, ops: ops}
	for _, op := range ops {
		switch op.F {
		case history.OpAdd:
			v := history.ValueKey(op.Invoke.Value)
			if m.elems[op.Key] == nil {
				m.elems[op.Key] = map[string]*element{}
			}
			e := &element{key: op.Key, value: v, addInvoke: op.Invoke.Time, outcome: op.Outcome()}
			if e.outcome == history.OK {
				e.addDone = op.Complete.Time
			}
			m.elems[op.Key][v] = e
		}
	}
	for _, op := range ops {
		if op.F == history.OpRemove && op.Outcome() != history.Fail {
			if e := m.elems[op.Key][history.ValueKey(op.Invoke.Value)]; e != nil {
				e.removed = true
			}
		}
	}
	return m, nil
}

// readSet returns the elements of a read's value.
func readSet(v any) (map[string]bool, error) {
	out := map[string]bool{}
	if v == nil {
		return out, nil
	}
	xs, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("read value %s is not a list", history.ValueKey(v))
	}
	for _, x := range xs {
		out[history.ValueKey(x)] = true
	}
	return out, nil
}

func (Checker) Check(ctx context.Context, events []history.Event, _ string) checkers.Result {
	m, err := build(events)
	if err != nil {
		return checkers.Result{Valid: checkers.Unknown, Reason: "history does not pair up: " + err.Error()}
	}
	recovered, _, ok := settled.RecoveredAt(events)
	if !ok {
		return checkers.Result{Valid: checkers.Unknown, Reason: "no final phase: the history has no completed recover, so no read is known to come after the faults"}
	}
	var unexpected []string
	reads := 0
	for _, op := range m.ops {
		if op.F != history.OpRead || op.Outcome() != history.OK {
			continue
		}
		reads++
		got, err := readSet(op.Complete.Value)
		if err != nil {
			return checkers.Result{Valid: checkers.Unknown, Reason: fmt.Sprintf("event %d: %v", op.Complete.Index, err)}
		}
		for v := range got {
			e := m.elems[op.Key][v]
			switch {
			case e == nil:
				unexpected = append(unexpected, fmt.Sprintf("%s: %s read by %s (event %d) was never added", op.Key, v, op.Invoke.Node, op.Complete.Index))
			case e.outcome == history.Fail:
				unexpected = append(unexpected, fmt.Sprintf("%s: %s read by %s (event %d) although its add failed", op.Key, v, op.Invoke.Node, op.Complete.Index))
			case op.Complete.Time < e.addInvoke:
				unexpected = append(unexpected, fmt.Sprintf("%s: %s read by %s (event %d) before its add began", op.Key, v, op.Invoke.Node, op.Complete.Index))
			default:
				e.seen = true
			}
		}
		if op.Invoke.Time >= recovered {
			continue // final reads are judged below
		}
		for _, e := range m.elems[op.Key] {
			if e.addDone != 0 && e.addDone < op.Invoke.Time && !got[e.value] && !e.removed {
				e.staleReads++
				e.lastStaleInvoke = max(e.lastStaleInvoke, op.Invoke.Time)
			}
		}
		if err := ctx.Err(); err != nil {
			return checkers.Result{Valid: checkers.Unknown, Reason: "checker interrupted: " + err.Error()}
		}
	}

	finals := settled.Finals(settled.Reads(m.ops, recovered))
	finalReads := 0
	for key, byNode := range finals {
		for node, r := range byNode {
			finalReads++
			got, err := readSet(r.Value)
			if err != nil {
				return checkers.Result{Valid: checkers.Unknown, Reason: fmt.Sprintf("event %d: %v", r.Index, err)}
			}
			for _, e := range m.elems[key] {
				if e.outcome == history.OK && !e.removed && !got[e.value] {
					e.missingFinalFrom = append(e.missingFinalFrom, node)
				}
			}
		}
	}
	if finalReads == 0 {
		return checkers.Result{Valid: checkers.Unknown, Reason: "no ok read after the cluster recovered: nothing to judge the final state by"}
	}

	var all []*element
	for _, byValue := range m.elems {
		for _, e := range byValue {
			all = append(all, e)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].addInvoke < all[j].addInvoke })
	var lost []*element
	var staleEls []*element
	counts := map[string]int{}
	var worstStale time.Duration
	for _, e := range all {
		counts["attempted"]++
		switch e.outcome {
		case history.OK:
			counts["acknowledged"]++
		case history.Fail:
			counts["failed"]++
		default:
			counts["unknown"]++
		}
		if e.removed {
			counts["remove_attempted"]++
		}
		if e.seen {
			counts["read"]++
		} else if e.outcome == history.OK {
			counts["acknowledged_never_read"]++
		}
		if len(e.missingFinalFrom) > 0 {
			lost = append(lost, e)
		}
		if e.staleReads > 0 {
			staleEls = append(staleEls, e)
			counts["stale_reads"] += e.staleReads
			worstStale = max(worstStale, time.Duration(e.lastStaleInvoke-e.addDone))
		}
	}
	slices.SortStableFunc(staleEls, func(a, b *element) int {
		return int((b.lastStaleInvoke - b.addDone) - (a.lastStaleInvoke - a.addDone))
	})
	details := map[string]any{
		"keys":                    len(m.elems),
		"attempted":               counts["attempted"],
		"acknowledged":            counts["acknowledged"],
		"unknown":                 counts["unknown"],
		"failed":                  counts["failed"],
		"remove_attempted":        counts["remove_attempted"],
		"read":                    counts["read"],
		"acknowledged_never_read": counts["acknowledged_never_read"],
		"lost":                    len(lost),
		"unexpected":              len(unexpected),
		"stale":                   len(staleEls),
		"stale_reads":             counts["stale_reads"],
		"worst_stale_ms":          float64(worstStale) / float64(time.Millisecond),
		"reads":                   reads,
		"final_reads":             finalReads,
	}
	var anomalies []string
	var lostEx []string
	for _, e := range lost {
		slices.Sort(e.missingFinalFrom)
		lostEx = append(lostEx, fmt.Sprintf("%s: %s acknowledged at %s, absent from the final read of %s",
			e.key, e.value, ms(e.addDone), strings.Join(e.missingFinalFrom, ",")))
	}
	if len(lostEx) > 0 {
		details["lost_examples"] = lostEx[:min(len(lostEx), MaxExamples)]
		anomalies = append(anomalies, fmt.Sprintf("%d acknowledged elements lost", len(lost)))
		anomalies = append(anomalies, lostEx[:min(len(lostEx), MaxExamples)]...)
	}
	if len(unexpected) > 0 {
		details["unexpected_examples"] = unexpected[:min(len(unexpected), MaxExamples)]
		anomalies = append(anomalies, fmt.Sprintf("%d reads of elements never (successfully) added", len(unexpected)))
		anomalies = append(anomalies, unexpected[:min(len(unexpected), MaxExamples)]...)
	}
	var staleEx []string
	for _, e := range staleEls[:min(len(staleEls), MaxExamples)] {
		staleEx = append(staleEx, fmt.Sprintf("%s: %s acknowledged at %s, missing from %d later reads, the last begun %s after",
			e.key, e.value, ms(e.addDone), e.staleReads, time.Duration(e.lastStaleInvoke-e.addDone).Round(time.Millisecond)))
	}
	if len(staleEx) > 0 {
		details["stale_examples"] = staleEx
	}
	res := checkers.Result{Valid: checkers.Valid, Details: details, Anomalies: anomalies}
	if len(lost)+len(unexpected) > 0 {
		res.Valid = checkers.Invalid
	}
	res.Reason = fmt.Sprintf("%d acknowledged, %d lost, %d unexpected, %d stale; %d final reads", counts["acknowledged"], len(lost), len(unexpected), len(staleEls), finalReads)
	return res
}

// Expect is the convergence checker's test of a settled set: it must hold
// every acknowledged element no client tried to remove.
func Expect(events []history.Event) func(key string, v any) []string {
	m, err := build(events)
	if err != nil {
		return func(string, any) []string { return []string{"history does not pair up: " + err.Error()} }
	}
	return func(key string, v any) []string {
		got, err := readSet(v)
		if err != nil {
			return []string{err.Error()}
		}
		var missing []string
		for _, e := range m.elems[key] {
			if e.outcome == history.OK && !e.removed && !got[e.value] {
				missing = append(missing, e.value)
			}
		}
		slices.Sort(missing)
		if len(missing) > 0 {
			return []string{fmt.Sprintf("lacks %d acknowledged elements (%s)", len(missing), strings.Join(missing[:min(len(missing), 5)], ", "))}
		}
		return nil
	}
}

func ms(t int64) string { return time.Duration(t).Round(time.Millisecond).String() }
