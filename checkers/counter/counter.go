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
	"maps"
	"slices"
	"strings"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/internal/settled"
	"github.com/faultline/faultline/history"
)

// Kinds of anomaly this checker finds.
const (
	// ReadOutOfBounds: a read during the run outside what the deltas
	// allow. Its event: the read.
	ReadOutOfBounds checkers.Kind = "read-out-of-bounds"
	// FinalDiverged: the nodes' final reads of a key differ. Its events:
	// each node's final read.
	FinalDiverged checkers.Kind = "final-diverged"
	// FinalOutOfBounds: a node's final read outside acked + unknown
	// deltas. Its event: that read.
	FinalOutOfBounds checkers.Kind = "final-out-of-bounds"
)

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

func unknown(reason string) checkers.Result {
	return checkers.Result{Verdict: checkers.Unknown, Reason: reason}
}

func (Checker) Check(ctx context.Context, events []history.Event) checkers.Result {
	m, err := build(events)
	if err != nil {
		return unknown(err.Error())
	}
	recovered, _, ok := settled.RecoveredAt(events)
	if !ok {
		return unknown("no final phase: the history has no completed recover, so no read is known to come after the faults")
	}
	outside, reads, err := m.judgeReads(ctx, recovered)
	if err != nil {
		return unknown(err.Error())
	}
	finals := settled.Finals(settled.Reads(m.ops, recovered))
	if len(finals) == 0 {
		return unknown("no ok read after the cluster recovered: nothing to judge the final state by")
	}
	fj, err := m.judgeFinals(finals)
	if err != nil {
		return unknown(err.Error())
	}
	res := checkers.Result{Verdict: checkers.Valid, Details: map[string]any{
		"keys":                len(m.final),
		"reads":               reads,
		"reads_out_of_bounds": len(outside),
		"final_keys_diverged": fj.diverged,
		"final_reads_wrong":   fj.wrong,
		"final":               fj.perKey,
	}}
	res.Anomalies = append(outside[:min(len(outside), checkers.MaxExamples)], fj.anomalies...)
	if len(res.Anomalies) > 0 {
		res.Verdict = checkers.Invalid
	}
	res.Reason = fmt.Sprintf("%d reads, %d out of bounds; %d keys, %d with differing final reads, %d final reads out of bounds",
		reads, len(outside), len(finals), fj.diverged, fj.wrong)
	return res
}

// judgeReads checks every ok read before the final phase against what the
// deltas allow at that moment (see the package comment) and returns those
// outside, in history order.
func (m *model) judgeReads(ctx context.Context, recovered int64) (outside []checkers.Anomaly, reads int, err error) {
	for _, op := range m.ops {
		if op.F != history.OpRead || op.Outcome() != history.OK || op.Invoke.Time >= recovered {
			continue
		}
		reads++
		v, err := toInt(op.Complete.Value)
		if err != nil {
			return nil, 0, fmt.Errorf("event %d: read of %w", op.Complete.Index, err)
		}
		b := m.readBounds(op)
		if v < b.lower() || v > b.upper() {
			outside = append(outside, checkers.Anomaly{Kind: ReadOutOfBounds, Key: op.Key, Events: []int{op.Complete.Index},
				Text: fmt.Sprintf("%s: read %d on %s (event %d) outside %s", op.Key, v, op.Invoke.Node, op.Complete.Index, b)})
		}
		if err := ctx.Err(); err != nil {
			return nil, 0, fmt.Errorf("checker interrupted: %w", err)
		}
	}
	return outside, reads, nil
}

// readBound is the range a read may return, from its four parts.
type readBound struct {
	node string
	// Deltas invoked before the read ended and not certainly failed, by
	// sign; and those its own node acknowledged before it began.
	neg, pos, ownPos, ownNeg int64
}

func (b readBound) lower() int64 { return b.neg + b.ownPos }
func (b readBound) upper() int64 { return b.pos + b.ownNeg }

// String shows the bounds with how they were made, so a person can check
// them against the history.
func (b readBound) String() string {
	return fmt.Sprintf("[%d, %d]: at least %d (negative deltas invoked before it ended) + %d (positive deltas %s had acknowledged before it began), "+
		"at most %d (positive deltas invoked before it ended) + %d (negative deltas %s had acknowledged)",
		b.lower(), b.upper(), b.neg, b.ownPos, b.node, b.pos, b.ownNeg, b.node)
}

func (m *model) readBounds(op history.Op) readBound {
	b := readBound{node: op.Invoke.Node}
	for _, a := range m.adds[op.Key] {
		if a.invoke > op.Complete.Time {
			continue
		}
		if a.delta < 0 {
			b.neg += a.delta
		} else {
			b.pos += a.delta
		}
		if a.complete >= 0 && a.complete < op.Invoke.Time && a.node == op.Invoke.Node {
			if a.delta > 0 {
				b.ownPos += a.delta
			} else {
				b.ownNeg += a.delta
			}
		}
	}
	return b
}

// finalJudgement is what the final reads show.
type finalJudgement struct {
	anomalies       []checkers.Anomaly
	diverged, wrong int
	perKey          map[string]any
}

// judgeFinals checks that every node's final read of each key is the same
// value and within the key's final bounds.
func (m *model) judgeFinals(finals map[string]map[string]settled.Read) (finalJudgement, error) {
	j := finalJudgement{perKey: map[string]any{}}
	for _, k := range slices.Sorted(maps.Keys(finals)) {
		nodes := slices.Sorted(maps.Keys(finals[k]))
		vals := map[string]int64{}
		distinct := map[int64]bool{}
		var events []int
		for _, n := range nodes {
			r := finals[k][n]
			v, err := toInt(r.Value)
			if err != nil {
				return j, fmt.Errorf("event %d: final read of %w", r.Index, err)
			}
			vals[n], distinct[v] = v, true
			events = append(events, r.Index)
		}
		b := m.final[k]
		j.perKey[k] = map[string]any{"final": vals, "acked": b.Acked, "lower": b.Lower, "upper": b.Upper}
		if len(distinct) > 1 {
			j.diverged++
			j.anomalies = append(j.anomalies, checkers.Anomaly{Kind: FinalDiverged, Key: k, Events: events,
				Text: fmt.Sprintf("%s: final reads differ: %s", k, fmtVals(vals))})
		}
		for _, n := range nodes {
			if v := vals[n]; !b.contains(v) {
				j.wrong++
				r := finals[k][n]
				j.anomalies = append(j.anomalies, checkers.Anomaly{Kind: FinalOutOfBounds, Key: k, Events: []int{r.Index},
					Text: fmt.Sprintf("%s: final read %d on %s (event %d) outside [%d, %d]: acknowledged deltas sum to %d, and deltas that timed out could add up to %+d and %+d",
						k, v, n, r.Index, b.Lower, b.Upper, b.Acked, b.UnknownPositive, b.UnknownNegative)})
			}
		}
	}
	return j, nil
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
