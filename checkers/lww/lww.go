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
// must be unique per key. A register must also settle on something a
// client may have written:
//
//   - unwritten-value: a value no write of the key ever carried;
//   - failed-write-value: a value whose every write certainly failed;
//   - empty-after-write: nothing (null) although a write of the key was
//     acknowledged (an LWW register never forgets its newest value).
package lww

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/internal/settled"
	"github.com/faultline/faultline/history"
)

// LostWrite is the kind of anomaly this checker finds: a register settled
// on a value an acknowledged write had causally superseded. Its events:
// the final read that returned the value, the superseding write, and the
// operation through which the writer's node had seen the value (a read
// that returned it, or its own write of it).
const LostWrite checkers.Kind = "lost-write"

// Kinds of a settled value no client could have left (events: the final
// read, then the writes concerned, at most a few).
const (
	UnwrittenValue   checkers.Kind = "unwritten-value"
	FailedWriteValue checkers.Kind = "failed-write-value"
	EmptyAfterWrite  checkers.Kind = "empty-after-write"
)

// writes is, per key, what the history's writes may have left: the value
// of every write with its outcomes, and the acknowledged writes.
type writes struct {
	byValue map[string]map[string][]history.Op // key -> value -> writes of it
	acked   map[string][]history.Op            // key -> acknowledged writes
}

func collectWrites(ops []history.Op) writes {
	w := writes{byValue: map[string]map[string][]history.Op{}, acked: map[string][]history.Op{}}
	for _, op := range ops {
		if op.F != history.OpWrite {
			continue
		}
		if w.byValue[op.Key] == nil {
			w.byValue[op.Key] = map[string][]history.Op{}
		}
		v := history.ValueKey(op.Invoke.Value)
		w.byValue[op.Key][v] = append(w.byValue[op.Key][v], op)
		if op.Outcome() == history.OK {
			w.acked[op.Key] = append(w.acked[op.Key], op)
		}
	}
	return w
}

// impossible says why a settled value v of key no client could have left,
// or returns "" when some write may have left it.
func (w writes) impossible(key string, v any, final int) (checkers.Kind, []int, string) {
	if v == nil {
		if acked := w.acked[key]; len(acked) > 0 {
			return EmptyAfterWrite, []int{final, acked[0].Complete.Index},
				fmt.Sprintf("the write of %s was acknowledged (event %d)", history.ValueKey(acked[0].Invoke.Value), acked[0].Complete.Index)
		}
		return "", nil, ""
	}
	ops := w.byValue[key][history.ValueKey(v)]
	if len(ops) == 0 {
		return UnwrittenValue, []int{final}, "no write of the key carried it"
	}
	events := []int{final}
	for _, op := range ops {
		if op.Outcome() != history.Fail {
			return "", nil, ""
		}
		if len(events) < 4 {
			events = append(events, op.Complete.Index)
		}
	}
	return FailedWriteValue, events, fmt.Sprintf("every write of it failed (%d, the first at event %d)", len(ops), ops[0].Complete.Index)
}

// Checker is the LWW checker.
type Checker struct{}

// New returns the LWW checker.
func New() Checker { return Checker{} }

func (Checker) Name() string { return "lww" }

// supersession is an acknowledged write that causally follows a value.
type supersession struct {
	write    string // the write's value
	node     string
	event    int  // the write's completion
	seen     int  // the completion of the op that showed node the value
	seenRead bool // seen by a read (else: the node's own earlier write)
}

func (s supersession) String() string {
	how := "had acknowledged it as its own write"
	if s.seenRead {
		how = "had read it"
	}
	return fmt.Sprintf("%s by %s (event %d; %s at event %d)", s.write, s.node, s.event, how, s.seen)
}

// superseded maps key -> value -> the acknowledged writes that causally
// follow it.
type superseded map[string]map[string][]supersession

// restarted reports whether e brought nodes back from a kill or a power
// loss, after which they have forgotten what they read (process memory,
// HLC included, except what they logged themselves). A resumed pause
// forgets nothing.
func restarted(e history.Event) bool {
	return e.IsNemesis() && e.Type != history.Invoke && (e.F == history.Restart || e.F == history.PowerRestore)
}

// seen is a value a node returned or acknowledged.
type seen struct {
	value string
	at    int64 // completion time
	event int   // completion index
	write bool
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
	// Per node and key, what it returned or acknowledged, in completion order.
	byNodeKey := map[[2]string][]seen{}
	for _, op := range ops {
		if op.Outcome() != history.OK {
			continue
		}
		nk := [2]string{op.Invoke.Node, op.Key}
		switch op.F {
		case history.OpRead:
			if op.Complete.Value != nil {
				byNodeKey[nk] = append(byNodeKey[nk], seen{history.ValueKey(op.Complete.Value), op.Complete.Time, op.Complete.Index, false})
			}
		case history.OpWrite:
			byNodeKey[nk] = append(byNodeKey[nk], seen{history.ValueKey(op.Invoke.Value), op.Complete.Time, op.Complete.Index, true})
		}
	}
	for _, ss := range byNodeKey {
		slices.SortStableFunc(ss, func(a, b seen) int { return int(a.at - b.at) })
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
				out[op.Key] = map[string][]supersession{}
			}
			out[op.Key][s.value] = append(out[op.Key][s.value],
				supersession{write: w, node: node, event: op.Complete.Index, seen: s.event, seenRead: !s.write})
		}
	}
	return out, nil
}

func unknown(reason string) checkers.Result {
	return checkers.Result{Verdict: checkers.Unknown, Reason: reason}
}

func (Checker) Check(ctx context.Context, events []history.Event) checkers.Result {
	sup, err := build(events)
	if err != nil {
		return unknown(err.Error())
	}
	recovered, _, ok := settled.RecoveredAt(events)
	if !ok {
		return unknown("no final phase: the history has no completed recover")
	}
	ops, _ := history.Pair(events)
	finals := settled.Finals(settled.Reads(ops, recovered))
	if len(finals) == 0 {
		return unknown("no ok read after the cluster recovered")
	}
	var anomalies []checkers.Anomaly
	lost, impossible := 0, 0
	ws := collectWrites(ops)
	for _, k := range slices.Sorted(maps.Keys(finals)) {
		if err := ctx.Err(); err != nil {
			return unknown("checker interrupted: " + err.Error())
		}
		reported := map[string]bool{}
		for _, n := range slices.Sorted(maps.Keys(finals[k])) {
			r := finals[k][n]
			v := history.ValueKey(r.Value)
			if kind, evs, why := ws.impossible(k, r.Value, r.Index); kind != "" {
				if !reported[v] {
					reported[v] = true
					impossible++
					if len(anomalies) < checkers.MaxExamples {
						anomalies = append(anomalies, checkers.Anomaly{Kind: kind, Key: k, Events: evs,
							Text: fmt.Sprintf("%s: settled on %s (%s's final read, event %d), but %s", k, v, n, r.Index, why)})
					}
				}
				continue
			}
			by := sup[k][v]
			if len(by) == 0 || reported[v] {
				continue
			}
			reported[v] = true
			lost++
			if len(anomalies) < checkers.MaxExamples {
				anomalies = append(anomalies, checkers.Anomaly{Kind: LostWrite, Key: k, Events: []int{r.Index, by[0].event, by[0].seen},
					Text: fmt.Sprintf("%s: settled on %s (%s's final read, event %d), which the acknowledged write %s had causally superseded",
						k, v, n, r.Index, by[0])})
			}
		}
	}
	details := map[string]any{"keys": len(finals), "superseded_finals": lost, "impossible_finals": impossible}
	if lost+impossible > 0 {
		return checkers.Result{Verdict: checkers.Invalid, Anomalies: anomalies, Details: details,
			Reason: fmt.Sprintf("%d settled values causally superseded (lost writes), %d no client could have left", lost, impossible)}
	}
	return checkers.Result{Verdict: checkers.Valid, Details: details, Reason: fmt.Sprintf("%d keys settled on values no acknowledged write superseded", len(finals))}
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
