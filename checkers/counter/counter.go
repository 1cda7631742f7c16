// Package counter checks the counter workload on an eventually consistent
// counter. A read may miss updates still spreading, so during the run each
// read must merely be possible:
//
//	lower = (negative deltas invoked before the read ended, not certainly failed)
//	      + (positive deltas acknowledged by the same node before the read began)
//	upper = (positive deltas invoked before the read ended, not certainly failed)
//	      + (negative deltas acknowledged by the same node before the read began)
//
// (a node always holds what it acknowledged itself: acknowledged means
// durable there). After the faults stop and the cluster settles, the final
// read of every node must be one value V with
//
//	acked + (unknown negative deltas) <= V <= acked + (unknown positive deltas)
//
// where acked sums the acknowledged deltas and unknown ones timed out.
package counter

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/settled"
	"github.com/faultline/faultline/history"
)

// MaxExamples bounds the examples listed per kind.
const MaxExamples = 10

// Checker is the counter checker.
type Checker struct{}

// New returns the counter checker.
func New() Checker { return Checker{} }

func (Checker) Name() string { return "counter" }

type add struct {
	delta            int64
	node             string
	invoke, complete int64
	outcome          history.Type
}

// Bounds is the range a settled counter may read.
type Bounds struct {
	Acked           int64 `json:"acked"`
	UnknownPositive int64 `json:"unknown_positive"`
	UnknownNegative int64 `json:"unknown_negative"`
	Lower, Upper    int64
}

func (b Bounds) contains(v int64) bool { return b.Lower <= v && v <= b.Upper }

type model struct {
	adds  map[string][]add
	ops   []history.Op
	final map[string]Bounds
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	case float64:
		if x == float64(int64(x)) {
			return int64(x), nil
		}
	case interface{ Int64() (int64, error) }:
		return x.Int64()
	}
	return 0, fmt.Errorf("%s is not an integer", history.ValueKey(v))
}

func build(events []history.Event) (*model, error) {
	ops, err := history.Pair(events)
	if err != nil {
		return nil, fmt.Errorf("history does not pair up: %w", err)
	}
	m := &model{adds: map[string][]add{}, ops: ops, final: map[string]Bounds{}}
	for _, op := range ops {
		if op.F != history.OpAdd || op.Outcome() == history.Fail {
			continue
		}
		d, err := toInt(op.Invoke.Value)
		if err != nil {
			return nil, fmt.Errorf("event %d: add of %w", op.Invoke.Index, err)
		}
		a := add{delta: d, node: op.Invoke.Node, invoke: op.Invoke.Time, outcome: op.Outcome(), complete: -1}
		if a.outcome == history.OK {
			a.complete = op.Complete.Time
			if op.Complete.Node != "" {
				a.node = op.Complete.Node
			}
		}
		m.adds[op.Key] = append(m.adds[op.Key], a)
	}
	for k, as := range m.adds {
		var b Bounds
		for _, a := range as {
			switch {
			case a.outcome == history.OK:
				b.Acked += a.delta
			case a.delta > 0:
				b.UnknownPositive += a.delta
			default:
				b.UnknownNegative += a.delta
			}
		}
		b.Lower, b.Upper = b.Acked+b.UnknownNegative, b.Acked+b.UnknownPositive
		m.final[k] = b
	}
	return m, nil
}

func (Checker) Check(ctx context.Context, events []history.Event, _ string) checkers.Result {
	m, err := build(events)
	if err != nil {
		return checkers.Result{Valid: checkers.Unknown, Reason: err.Error()}
	}
	recovered, _, ok := settled.RecoveredAt(events)
	if !ok {
		return checkers.Result{Valid: checkers.Unknown, Reason: "no final phase: the history has no completed recover, so no read is known to come after the faults"}
	}
	var anomalies []string
	outOfBounds, reads := 0, 0
	var worst []string
	for _, op := range m.ops {
		if op.F != history.OpRead || op.Outcome() != history.OK || op.Invoke.Time >= recovered {
			continue
		}
		reads++
		v, err := toInt(op.Complete.Value)
		if err != nil {
			return checkers.Result{Valid: checkers.Unknown, Reason: fmt.Sprintf("event %d: read of %v", op.Complete.Index, err)}
		}
		var lo, hi int64
		for _, a := range m.adds[op.Key] {
			if a.invoke > op.Complete.Time {
				continue
			}
			if a.delta < 0 {
				lo += a.delta
			} else {
				hi += a.delta
			}
			if a.complete >= 0 && a.complete < op.Invoke.Time && a.node == op.Invoke.Node {
				if a.delta > 0 {
					lo += a.delta
				} else {
					hi += a.delta
				}
			}
		}
		if v < lo || v > hi {
			outOfBounds++
			if len(worst) < MaxExamples {
				worst = append(worst, fmt.Sprintf("%s: read %d on %s (event %d), possible [%d, %d]", op.Key, v, op.Invoke.Node, op.Complete.Index, lo, hi))
			}
		}
		if err := ctx.Err(); err != nil {
			return checkers.Result{Valid: checkers.Unknown, Reason: "checker interrupted: " + err.Error()}
		}
	}
	if outOfBounds > 0 {
		anomalies = append(anomalies, fmt.Sprintf("%d reads outside what the deltas allow", outOfBounds))
		anomalies = append(anomalies, worst...)
	}

	finals := settled.Finals(settled.Reads(m.ops, recovered))
	if len(finals) == 0 {
		return checkers.Result{Valid: checkers.Unknown, Reason: "no ok read after the cluster recovered: nothing to judge the final state by"}
	}
	perKey := map[string]any{}
	diverged, wrong := 0, 0
	keys := make([]string, 0, len(finals))
	for k := range finals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vals := map[string]int64{}
		distinct := map[int64]bool{}
		for n, r := range finals[k] {
			v, err := toInt(r.Value)
			if err != nil {
				return checkers.Result{Valid: checkers.Unknown, Reason: fmt.Sprintf("event %d: final read of %v", r.Index, err)}
			}
			vals[n] = v
			distinct[v] = true
		}
		b := m.final[k]
		perKey[k] = map[string]any{"final": vals, "acked": b.Acked, "lower": b.Lower, "upper": b.Upper}
		if len(distinct) > 1 {
			diverged++
			anomalies = append(anomalies, fmt.Sprintf("%s: final reads differ: %s", k, fmtVals(vals)))
		}
		for n, v := range vals {
			if !b.contains(v) {
				wrong++
				anomalies = append(anomalies, fmt.Sprintf("%s: final read %d on %s outside [%d, %d] (acknowledged sum %d)", k, v, n, b.Lower, b.Upper, b.Acked))
			}
		}
	}
	details := map[string]any{
		"keys":                len(m.final),
		"reads":               reads,
		"reads_out_of_bounds": outOfBounds,
		"final_keys_diverged": diverged,
		"final_reads_wrong":   wrong,
		"final":               perKey,
	}
	res := checkers.Result{Valid: checkers.Valid, Details: details, Anomalies: anomalies}
	if outOfBounds+diverged+wrong > 0 {
		res.Valid = checkers.Invalid
	}
	res.Reason = fmt.Sprintf("%d reads, %d out of bounds; %d keys, %d with differing final reads, %d final reads out of bounds", reads, outOfBounds, len(finals), diverged, wrong)
	return res
}

// Expect is the convergence checker's test of a settled counter: its value
// lies within the final bounds.
func Expect(events []history.Event) func(key string, v any) []string {
	m, err := build(events)
	if err != nil {
		return func(string, any) []string { return []string{err.Error()} }
	}
	return func(key string, v any) []string {
		x, err := toInt(v)
		if err != nil {
			return []string{err.Error()}
		}
		if b := m.final[key]; !b.contains(x) {
			return []string{fmt.Sprintf("value %d outside [%d, %d] (acknowledged sum %d)", x, b.Lower, b.Upper, b.Acked)}
		}
		return nil
	}
}

func fmtVals(vals map[string]int64) string {
	var parts []string
	for n, v := range vals {
		parts = append(parts, fmt.Sprintf("%s=%d", n, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
