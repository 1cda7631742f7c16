package report

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/stats"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/outcome"
)

// Values a hostile or careless client might write; the report must show
// them as text.
const (
	evilValue = `<script>alert(1)</script>`
	evilKey   = `k"><img src=x onerror=alert(2)>`
	evilLog   = `level=ERROR msg="<script>alert(3)</script>" node=n3`
)

// synth is a realistic history: workers running reads, writes and cas on
// short-lived keys at a steady rate, on five nodes, while faults alternate
// every interval — isolating a node (its operations fail) and killing one
// (its operations time out, info, and the worker goes on as a new
// process). Reads return the value of the write that completed last
// before they began, which is linearizable by construction; then two
// anomalies are planted: a stale read on key "stale", and a read of a value
// nobody wrote on evilKey (the value is evilValue).
type synth struct {
	Ops      int
	Workers  int
	Rate     float64 // ops/s over all workers
	Interval float64 // seconds between fault starts
	Seed     uint64
}

func (s synth) events() []history.Event {
	rng := rand.New(rand.NewPCG(s.Seed, 7))
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	durS := float64(s.Ops) / s.Rate
	type fw struct {
		start, end float64
		kind       string
		node       string
	}
	var faults []fw
	var evs []history.Event
	ns := func(sec float64) int64 { return int64(sec * 1e9) }
	for i, t := 0, s.Interval; t+s.Interval/2 < durS; i, t = i+1, t+s.Interval {
		f := fw{start: t, end: t + s.Interval/2, node: nodes[rng.IntN(len(nodes))]}
		if i%2 == 0 {
			f.kind = "partition"
			var rest []any
			var restNames []string
			for _, n := range nodes {
				if n != f.node {
					rest, restNames = append(rest, n), append(restNames, n)
				}
			}
			evs = append(evs,
				history.Event{Time: ns(f.start), Process: -1, Type: history.Invoke, F: history.StartPartition},
				history.Event{Time: ns(f.start) + 2e8, Process: -1, Type: history.Info, F: history.StartPartition,
					Value: map[string]any{"kind": "one", "components": []any{[]any{f.node}, rest}}, Node: f.node,
					Label: fmt.Sprintf("isolate: %s | %s", f.node, strings.Join(restNames, " "))},
				history.Event{Time: ns(f.end), Process: -1, Type: history.Invoke, F: history.StopPartition},
				history.Event{Time: ns(f.end) + 1e6, Process: -1, Type: history.Info, F: history.StopPartition, Label: "lift the partition"})
		} else {
			f.kind = "kill"
			evs = append(evs,
				history.Event{Time: ns(f.start), Process: -1, Type: history.Invoke, F: history.Kill},
				history.Event{Time: ns(f.start) + 1e6, Process: -1, Type: history.Info, F: history.Kill,
					Value: map[string]any{"target": "one", "nodes": []any{f.node}}, Node: f.node, Label: "kill " + f.node + " (one)"},
				history.Event{Time: ns(f.end), Process: -1, Type: history.Invoke, F: history.Restart},
				history.Event{Time: ns(f.end) + 3e8, Process: -1, Type: history.Info, F: history.Restart,
					Value: map[string]any{"nodes": []any{f.node}}, Node: f.node, Label: "restart " + f.node})
		}
		faults = append(faults, f)
	}
	down := func(node string, at float64) string {
		for _, f := range faults {
			if f.node == node && at >= f.start && at < f.end {
				return f.kind
			}
		}
		return ""
	}

	// Each worker's operations, back to back with exponential gaps.
	type pending struct {
		key        string
		start, end float64
		f          history.Func
		value      any
		out        history.Type
		node, err  string
		process    int
	}
	var ops []pending
	per := s.Ops / s.Workers
	keys := max(1, s.Ops/40)
	for w := range s.Workers {
		t, process := rng.ExpFloat64()*float64(s.Workers)/s.Rate, w
		for range per {
			node := nodes[rng.IntN(len(nodes))]
			d := 0.0005 + rng.ExpFloat64()*0.002
			p := pending{key: fmt.Sprintf("k%d", int(t/durS*float64(keys))), start: t, node: node, out: history.OK, process: process}
			switch r := rng.IntN(10); {
			case r < 5:
				p.f = history.OpRead
			case r < 9:
				p.f = history.OpWrite
			default:
				p.f = history.OpCAS
			}
			switch down(node, t) {
			case "partition":
				d, p.out, p.err = 0.05+rng.Float64()*0.2, history.Fail, "no quorum: timed out waiting for a majority"
			case "kill":
				d, p.out, p.err = 1.0, history.Info, "request timed out: connection refused"
			}
			p.end = t + d
			ops = append(ops, p)
			if p.out == history.Info {
				process += s.Workers
			}
			t = p.end + rng.ExpFloat64()*float64(s.Workers)/s.Rate
		}
	}
	// Values: writes count up per key; reads and cas see the last write
	// that completed before they began.
	sort.Slice(ops, func(a, b int) bool { return ops[a].start < ops[b].start })
	type wr struct {
		end float64
		v   int
	}
	writes := map[string][]wr{}
	next := map[string]int{}
	for i := range ops {
		p := &ops[i]
		if p.f == history.OpWrite {
			next[p.key]++
			p.value = next[p.key]
			if p.out == history.OK {
				writes[p.key] = append(writes[p.key], wr{p.end, next[p.key]})
			}
		}
	}
	for k := range writes {
		sort.Slice(writes[k], func(a, b int) bool { return writes[k][a].end < writes[k][b].end })
	}
	current := func(key string, at float64) any {
		var v any
		for _, w := range writes[key] {
			if w.end < at {
				v = w.v
			}
		}
		return v
	}
	for i := range ops {
		p := &ops[i]
		switch p.f {
		case history.OpRead:
			if p.out == history.OK {
				p.value = current(p.key, p.start)
			}
		case history.OpCAS:
			next[p.key]++
			cur := current(p.key, p.start)
			p.value = []any{cur, next[p.key]}
			if cur == nil && p.out == history.OK {
				p.out, p.err = history.Fail, "cas: expected value did not match"
			}
			if p.out == history.OK {
				// A cas that took effect is a write too; keep it simple by
				// failing it, as a mismatch would.
				p.out, p.err = history.Fail, "cas: expected value did not match"
			}
		}
	}
	// The planted anomalies, after everything else, on their own processes.
	last := ops[len(ops)-1].end + 0.01
	proc := 1 << 20
	plant := []pending{
		{key: "stale", f: "write", value: 1, start: last, end: last + 0.001, out: history.OK, node: "n1"},
		{key: "stale", f: "write", value: 2, start: last + 0.002, end: last + 0.003, out: history.OK, node: "n2"},
		{key: "stale", f: "read", value: 1, start: last + 0.004, end: last + 0.005, out: history.OK, node: "n3"},
		{key: evilKey, f: "read", value: evilValue, start: last + 0.006, end: last + 0.007, out: history.OK, node: "n4"},
	}
	for i := range plant {
		plant[i].process = proc + i
	}
	ops = append(ops, plant...)
	for _, p := range ops {
		inv := history.Event{Time: ns(p.start), Process: p.process, Type: history.Invoke, F: p.f, Key: p.key, Value: p.value, Node: p.node}
		if p.f == history.OpRead {
			inv.Value = nil
		}
		done := history.Event{Time: ns(p.end), Process: p.process, Type: p.out, F: p.f, Key: p.key, Value: p.value, Node: p.node, Error: p.err}
		if p.f == history.OpRead && p.out != history.OK {
			done.Value = nil
		}
		evs = append(evs, inv, done)
	}
	sort.SliceStable(evs, func(a, b int) bool { return evs[a].Time < evs[b].Time })
	for i := range evs {
		evs[i].Index = i
	}
	return evs
}

// writeRunDir lays out a run dir for events: test.json, history.jsonl,
// results.json (res), and node logs, one of which holds evilLog.
func writeRunDir(t testing.TB, dir string, events []history.Event, res outcome.Result) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "nodes"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(f)
	for _, e := range events {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	spec := outcome.Spec{System: "quorum", Workload: "register", Nemesis: []string{"partition", "kill"}, Bugs: []string{"no-write-back"},
		Nodes: 5, Runtime: "process", TimeLimit: "30s", Concurrency: 10, Rate: 200, NemesisInterval: "5s", Seed: 42}
	for name, v := range map[string]any{"test.json": spec, "results.json": res} {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 5; i++ {
		log := fmt.Sprintf("level=INFO msg=\"node ready\" node=n%d\n", i)
		if i == 3 {
			log += evilLog + "\n"
		}
		if err := os.WriteFile(filepath.Join(dir, "nodes", fmt.Sprintf("n%d.log", i)), []byte(log), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// judged judges events with cs as the runner does: each checker's result,
// its artifacts written into dir, the verdict derived by outcome.Judge.
func judged(t testing.TB, events []history.Event, dir string, cs ...checkers.Checker) outcome.Result {
	t.Helper()
	res := outcome.Result{Checkers: checkers.Run(context.Background(), cs, events), Stats: stats.Compute(events)}
	if err := store.WriteArtifacts(dir, res.Checkers); err != nil {
		t.Fatal(err)
	}
	res.Judge()
	return res
}
