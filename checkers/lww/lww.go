// Package lww checks last-writer-wins registers for the one order an LWW
// store with hybrid logical clocks must keep: causality a node has seen.
// A write W2 on node Y causally follows a value V when, before W2 was
// invoked, Y returned V to a read of the key (with no restart of Y in
// between: a restarted node forgets what it read), or Y itself acknowledged
// V as its own earlier write. An HLC stamps W2 later than V in both cases,
// so V can never be the register's settled value while W2 was
// acknowledged. Stamped with wall clocks, a node whose clock is behind (the
// clock fault) loses W2 to V: a lost write.
//
// Judged on the final phase (every node read after recovery): a settled
// value that an acknowledged write causally superseded is invalid. Values
// must be unique per key.
package lww

import (
	"context"
	"fmt"
	"sort"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/settled"
	"github.com/faultline/faultline/history"
)

// MaxExamples bounds the examples listed.
const MaxExamples = 10

// Checker is the LWW checker.
type Checker struct{}

// New returns the LWW checker.
func New() Checker { return Checker{} }

func (Checker) Name() string { return "lww" }

// superseded maps key -> value -> the acknowledged writes that causally
// follow it ("value 12 by n3 at 4.2s").
type superseded map[string]map[string][]string

// restarted reports whether e brought nodes back from a kill or a power
// loss, after which they have forgotten what they read (process memory,
// HLC included, except what they logged themselves). A resumed pause
// forgets nothing.
func restarted(e history.Event) bool {
	return e.IsNemesis() && e.Type != history.Invoke && (e.F == history.Restart || e.F == history.PowerRestore)
}

func build(events []history.Event) (superseded, error) {
	ops, err := history.Pair(events)
	if err != nil {
		return nil, fmt.Errorf("history does not pair up: %w", err)
	}
	restarts := map[string][]int64{} // node -> restart times
	for _, e := range events {
		if restarted(e) {
			for _, n := range e.Nodes() {
				restarts[n] = append(restarts[n], e.Time)
			}
		}
	}
	restartedBetween := func(node string, from, to int64) bool {
		for _, t := range restarts[node] {
			if t > from && t < to {
				return true
			}
		}
		return false
	}
	type seen struct {
		value string
		at    int64 // completion time
		write bool
	}
	// Per node and key, what it returned or acknowledged, in completion order.
	byNodeKey := map[[2]string][]seen{}
	for _, op := range ops {
		if op.Outcome() != history.OK {
			continue
		}
		node := op.Invoke.Node
		switch op.F {
		case history.OpRead:
			if op.Complete.Value != nil {
				byNodeKey[[2]string{node, op.Key}] = append(byNodeKey[[2]string{node, op.Key}], seen{history.ValueKey(op.Complete.Value), op.Complete.Time, false})
			}
		case history.OpWrite:
			byNodeKey[[2]string{node, op.Key}] = append(byNodeKey[[2]string{node, op.Key}], seen{history.ValueKey(op.Invoke.Value), op.Complete.Time, true})
		}
	}
	for _, ss := range byNodeKey {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].at < ss[j].at })
	}
	out := superseded{}
	for _, op := range ops {
		if op.F != history.OpWrite || op.Outcome() != history.OK {
			continue
		}
		node, w := op.Invoke.Node, history.ValueKey(op.Invoke.Value)
		for _, s := range byNodeKey[[2]string{node, op.Key}] {
			if s.at >= op.Invoke.Time || s.value == w {
				continue
			}
			if !s.write && restartedBetween(node, s.at, op.Invoke.Time) {
				continue
			}
			if out[op.Key] == nil {
				out[op.Key] = map[string][]string{}
			}
			out[op.Key][s.value] = append(out[op.Key][s.value], fmt.Sprintf("%s by %s (event %d)", w, node, op.Complete.Index))
		}
	}
	return out, nil
}

func (Checker) Check(ctx context.Context, events []history.Event, _ string) checkers.Result {
	sup, err := build(events)
	if err != nil {
		return checkers.Result{Valid: checkers.Unknown, Reason: err.Error()}
	}
	recovered, _, ok := settled.RecoveredAt(events)
	if !ok {
		return checkers.Result{Valid: checkers.Unknown, Reason: "no final phase: the history has no completed recover"}
	}
	ops, _ := history.Pair(events)
	finals := settled.Finals(settled.Reads(ops, recovered))
	if len(finals) == 0 {
		return checkers.Result{Valid: checkers.Unknown, Reason: "no ok read after the cluster recovered"}
	}
	var anomalies []string
	lost := 0
	keys := make([]string, 0, len(finals))
	for k := range finals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return checkers.Result{Valid: checkers.Unknown, Reason: "checker interrupted: " + err.Error()}
		}
		reported := map[string]bool{}
		for _, r := range finals[k] {
			v := history.ValueKey(r.Value)
			if by := sup[k][v]; len(by) > 0 && !reported[v] {
				reported[v] = true
				lost++
				if len(anomalies) < MaxExamples {
					anomalies = append(anomalies, fmt.Sprintf("%s: settled on %s, which the acknowledged write %s had causally superseded (its node had seen %s first)", k, v, by[0], v))
				}
			}
		}
	}
	details := map[string]any{"keys": len(finals), "superseded_finals": lost}
	if lost > 0 {
		return checkers.Result{Valid: checkers.Invalid, Anomalies: anomalies, Details: details,
			Reason: fmt.Sprintf("%d keys settled on a causally superseded value (lost writes)", lost)}
	}
	return checkers.Result{Valid: checkers.Valid, Details: details, Reason: fmt.Sprintf("%d keys settled on values no acknowledged write superseded", len(finals))}
}

// Expect is the convergence checker's test of a settled register.
func Expect(events []history.Event) func(key string, v any) []string {
	sup, err := build(events)
	if err != nil {
		return func(string, any) []string { return []string{err.Error()} }
	}
	return func(key string, v any) []string {
		if by := sup[key][history.ValueKey(v)]; len(by) > 0 {
			return []string{fmt.Sprintf("was superseded by the acknowledged write %s", by[0])}
		}
		return nil
	}
}
