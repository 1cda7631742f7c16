package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/linearizable"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/outcome"
)

// smallRun writes a judged synthetic run dir and its report.
func smallRun(t *testing.T) (dir, page string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "20261121T100000.000Z-quorum-register-s42")
	events := synth{Ops: 3000, Workers: 10, Rate: 200, Interval: 3, Seed: 1}.events()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	res := judged(t, events, dir, linearizable.New(linearizable.Options{}))
	if res.Verdict != checkers.Invalid {
		t.Fatalf("the planted anomalies were not found: %+v", res.Checkers["linearizable"])
	}
	writeRunDir(t, dir, events, res)
	path, err := Write(context.Background(), Input{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, File) {
		t.Fatalf("report at %s, want %s", path, filepath.Join(dir, File))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return dir, string(b)
}

func TestReportFetchesNothing(t *testing.T) {
	_, page := smallRun(t)
	// Every src, href, action and CSS url() must stay on this machine:
	// relative paths or fragments, no scheme, no network path.
	attr := regexp.MustCompile(`(?i)\b(src|href|action|poster|data)\s*=\s*"([^"]*)"`)
	for _, m := range attr.FindAllStringSubmatch(page, -1) {
		v := strings.TrimSpace(m[2])
		if strings.HasPrefix(v, "//") || regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`).MatchString(v) {
			t.Errorf("%s=%q reaches outside the page", m[1], v)
		}
	}
	for _, bad := range []string{"http://", "https://", "url(", "@import", "<link", "<iframe", "<img", "fetch(", "XMLHttpRequest"} {
		// The SVG namespace URI is an identifier, not a fetch.
		rest := strings.ReplaceAll(page, "http://www.w3.org/2000/svg", "")
		if strings.Contains(rest, bad) {
			i := strings.Index(rest, bad)
			t.Errorf("page contains %q: …%s…", bad, rest[max(0, i-80):min(len(rest), i+80)])
		}
	}
	if !strings.Contains(page, `http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;`) {
		t.Error("page has no Content-Security-Policy forbidding fetches")
	}
}

func TestReportEscapesHistoryAndLogValues(t *testing.T) {
	_, page := smallRun(t)
	for _, raw := range []string{evilValue, "<img src=x", "<script>alert(3)"} {
		if strings.Contains(page, raw) {
			i := strings.Index(page, raw)
			t.Errorf("page carries %q unescaped: …%s…", raw, page[max(0, i-80):min(len(page), i+80)])
		}
	}
	// Shown as text: escaped in markup, \u003c-escaped in the JSON block.
	for _, want := range []string{"&lt;script&gt;alert(3)&lt;/script&gt;", `\u003cscript\u003ealert(1)\u003c/script\u003e`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks the escaped form %q", want)
		}
	}
	if n := strings.Count(page, "<script"); n != 2 {
		t.Errorf("page has %d <script> tags, want 2 (data and code)", n)
	}
}

func TestReportContent(t *testing.T) {
	dir, page := smallRun(t)
	for _, want := range []string{
		`class="verdict v-invalid"`, `data-checker="linearizable" data-verdict="invalid"`,
		"quorum", "no-write-back", "process", "partition, kill every 5s", ">42<",
		"isolate: n", "kill n", // fault labels
		"Recovery time", "Read of stale returned 1", "after write 2 to stale was acknowledged",
		`href="history.jsonl"`, `href="results.json"`, `href="test.json"`, `href="nodes/n3.log"`,
		"Porcupine&#39;s visualization of stale", `href="linearizable-stale.html"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "linearizable-stale.html")); err != nil {
		t.Errorf("the checker wrote no visualization for the stale key: %v", err)
	}
}

func TestBareHistoryReportGoesBesideIt(t *testing.T) {
	dir := t.TempDir()
	hist := filepath.Join(dir, "h.jsonl")
	body := `{"process":0,"type":"invoke","f":"write","key":"x","value":1,"time":1000}
{"process":0,"type":"ok","f":"write","key":"x","value":1,"time":2000}
{"process":-1,"type":"invoke","f":"start-partition","time":2500}
{"process":-1,"type":"info","f":"start-partition","value":{"kind":"halves"},"node":"n1,n2","label":"halves: n1 n2 | n3 n4 n5","time":3000}
{"process":1,"type":"invoke","f":"read","key":"x","value":null,"time":4000}
{"process":1,"type":"ok","f":"read","key":"x","value":1,"time":5000}
`
	if err := os.WriteFile(hist, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	res := outcome.Result{Verdict: checkers.Valid, Checkers: checkers.Results{"linearizable": {Verdict: checkers.Valid, Reason: "2 operations on 1 keys are linearizable"}}}
	path, err := Write(context.Background(), Input{History: hist, Results: &res})
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, "h.report.html") {
		t.Fatalf("report at %s, want h.report.html beside the history", path)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{`v-valid`, "halves: n1 n2 | n3 n4 n5", "never stopped", `href="h.jsonl"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestObserverEventsAreNotOperations(t *testing.T) {
	ops := pairOps([]history.Event{
		{Process: 0, Type: history.Invoke, F: "read", Key: "x"},
		{Process: -2, Type: history.Invoke, F: "observe"},
		{Process: -2, Type: history.Info, F: "observe"},
		{Process: 0, Type: history.OK, F: "read", Key: "x", Value: 3},
		{Process: 1, Type: history.OK, F: "read", Key: "x"}, // stray completion: skipped
	})
	if len(ops) != 1 || ops[0].outcome != history.OK || valueText(ops[0].value) != "3" {
		t.Fatalf("ops = %+v, want process 0's read of 3 only", ops)
	}
}

func TestNemesisIntervals(t *testing.T) {
	ev := func(tm int64, p int, typ history.Type, f history.Func, v any, node, label string) history.Event {
		return history.Event{Time: tm, Process: p, Type: typ, F: f, Value: v, Node: node, Label: label}
	}
	events := []history.Event{
		ev(10, -1, history.Invoke, history.StartPartition, nil, "", ""),
		ev(12, -1, history.Info, history.StartPartition, map[string]any{"kind": "halves"}, "n1,n2", "halves: n1 n2 | n3 n4 n5"),
		ev(15, -2, history.Info, history.StartPartition, nil, "", ""), // an observer, not the nemesis
		ev(20, -1, history.Invoke, history.StopPartition, nil, "", ""),
		ev(22, -1, history.Info, history.StopPartition, nil, "", "lift the partition"),
		ev(30, -1, history.Invoke, history.Kill, nil, "", ""),
		ev(31, -1, history.Info, history.Kill, map[string]any{"nodes": []any{"n4"}}, "n4", "kill n4 (one)"),
		ev(35, -1, history.Info, "clock-bump", map[string]any{"offset_ms": 500}, "n2", ""), // a foreign step
		ev(40, -1, history.Invoke, history.Restart, nil, "", ""),
		ev(44, -1, history.Info, history.Restart, nil, "n4", "restart n4"),
		ev(50, -1, history.Invoke, "start-slow", nil, "", ""),
		ev(51, -1, history.Info, "start-slow", map[string]any{"latency_ms": 50}, "", ""), // foreign, unlabelled
	}
	got := nemesisIntervals(events, 100)
	want := []fault{
		{Name: "partition", Label: "halves: n1 n2 | n3 n4 n5", Start: 10, End: 22, Affected: []string{"n1", "n2"}},
		{Name: "kill", Label: "kill n4 (one)", Start: 30, End: 44, Affected: []string{"n4"}},
		{Name: "clock-bump", Label: "clock-bump n2", Start: 35, End: 35, Instant: true, Affected: []string{"n2"}},
		{Name: "slow", Label: `slow {"latency_ms":50}`, Start: 50, End: 100, Open: true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d intervals, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.Name || g.Label != w.Label || g.Start != w.Start || g.End != w.End || g.Open != w.Open || g.Instant != w.Instant ||
			strings.Join(g.Affected, ",") != strings.Join(w.Affected, ",") {
			t.Errorf("interval %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestRecoveryIsFirstSuccessOnAnAffectedNodeOrKey(t *testing.T) {
	f := fault{Name: "kill", Start: 100, End: 200, Affected: []string{"n2"}}
	o := func(start, end int64, outcome history.Type, key, node string) op {
		return op{start: start, end: end, outcome: outcome, key: key, node: node, f: "write"}
	}
	ops := []op{
		o(90, 95, history.OK, "a", "n1"),
		o(110, 150, history.Info, "b", "n2"), // key b affected, node n2 named
		o(120, 130, history.OK, "c", "n1"),
		o(160, 210, history.OK, "d", "n1"), // completes after the end, but d and n1 unaffected
		o(205, 240, history.OK, "e", "n2"), // first success on n2: 240
		o(210, 230, history.OK, "b", "n3"), // first success on key b: 230 — earlier
		o(300, 310, history.OK, "b", "n2"),
	}
	// Never completed: counted in the fault it started in, not in later ones.
	ops = append([]op{{start: 50, end: -1, outcome: history.Info, key: "y", node: "n1"}}, ops...)
	ops = append(ops[:4], append([]op{{start: 125, end: -1, outcome: history.Info, key: "z", node: "n1"}}, ops[4:]...)...)
	r := recoveryOf(f, ops, longest(ops))
	if r.OK != 1 || r.Info != 2 || r.Fail != 0 {
		t.Errorf("during: ok %d fail %d info %d, want 1/0/2", r.OK, r.Fail, r.Info)
	}
	if strings.Join(r.Keys, ",") != "b,z" {
		t.Errorf("affected keys %v, want [b z]", r.Keys)
	}
	if r.Recovered != 230 || r.By.key != "b" {
		t.Errorf("recovered at %d by %+v, want 230 by the read of b", r.Recovered, r.By)
	}
	none := recoveryOf(fault{Start: 1000, End: 1100}, ops, longest(ops))
	if !none.Nothing {
		t.Errorf("a fault with no named node and no failed op should affect nothing: %+v", none)
	}
}

func TestExplainStaleRead(t *testing.T) {
	events := parse(t, `{"process":0,"type":"invoke","f":"write","key":"x","value":1}
{"process":0,"type":"ok","f":"write","key":"x","value":1}
{"process":3,"type":"invoke","f":"read","key":"y","value":null}
{"process":3,"type":"ok","f":"read","key":"y","value":null}
{"process":1,"type":"invoke","f":"write","key":"x","value":2,"node":"n2"}
{"process":1,"type":"ok","f":"write","key":"x","value":2,"node":"n2"}
{"process":2,"type":"invoke","f":"read","key":"x","value":null,"node":"n3"}
{"process":2,"type":"ok","f":"read","key":"x","value":1,"node":"n3"}
{"process":0,"type":"invoke","f":"read","key":"x","value":null}
{"process":0,"type":"ok","f":"read","key":"x","value":2}
`)
	st := explainKey(context.Background(), events, "x", 10*time.Second)
	if st.Cut != 7 {
		t.Errorf("smallest failing prefix ends at event %d, want 7 (the stale read's completion)", st.Cut)
	}
	if st.Witness < 0 || st.Ops[st.Witness].f != "read" || st.Ops[st.Witness].process != 2 {
		t.Fatalf("witness %d in %+v, want process 2's read", st.Witness, st.Ops)
	}
	for _, want := range []string{"Read of x returned 1 (process 2 on n3", "after write 2 to x was acknowledged (process 1 on n2",
		"Every write of 1 had been acknowledged before write 2 to x began"} {
		if !strings.Contains(st.Summary, want) {
			t.Errorf("summary %q lacks %q", st.Summary, want)
		}
	}
	if len(st.Ops) != 3 {
		t.Errorf("piece of history has %d ops, want the read and both writes: %+v", len(st.Ops), st.Ops)
	}
}

func TestExplainValueNeverWritten(t *testing.T) {
	events := parse(t, `{"process":0,"type":"invoke","f":"write","key":"x","value":1}
{"process":1,"type":"invoke","f":"read","key":"x","value":null}
{"process":1,"type":"ok","f":"read","key":"x","value":7}
{"process":0,"type":"ok","f":"write","key":"x","value":1}
`)
	st := explainKey(context.Background(), events, "x", 10*time.Second)
	if !strings.Contains(st.Summary, "returned 7") || !strings.Contains(st.Summary, "a value no operation before it wrote") {
		t.Errorf("summary %q does not say 7 was never written", st.Summary)
	}
	if len(st.Ops) != 2 || st.Ops[st.Witness].f != "read" {
		t.Errorf("piece %+v, want the read and the overlapping write", st.Ops)
	}
}

func TestExplainNonMonotonicReads(t *testing.T) {
	events := parse(t, `{"process":0,"type":"invoke","f":"write","key":"x","value":1}
{"process":0,"type":"ok","f":"write","key":"x","value":1}
{"process":0,"type":"invoke","f":"write","key":"x","value":2}
{"process":1,"type":"invoke","f":"read","key":"x","value":null}
{"process":1,"type":"ok","f":"read","key":"x","value":2}
{"process":2,"type":"invoke","f":"read","key":"x","value":null}
{"process":2,"type":"ok","f":"read","key":"x","value":1}
`)
	st := explainKey(context.Background(), events, "x", 10*time.Second)
	if !strings.Contains(st.Summary, "after a read of x had already returned 2") {
		t.Errorf("summary %q does not name the earlier read of 2", st.Summary)
	}
}

func parse(t *testing.T, s string) []history.Event {
	t.Helper()
	ev, err := history.Read(strings.NewReader(s), "test")
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestConcurrentIndexWritersLeaveAWholePage(t *testing.T) {
	results := t.TempDir()
	for i := range 3 {
		writeRunDir(t, filepath.Join(results, fmt.Sprintf("20261121T10000%d.000Z-quorum-register-s%d", i, i)), nil,
			outcome.Result{Verdict: checkers.Valid, Checkers: checkers.Results{}})
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := WriteIndex(results); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	b, err := os.ReadFile(filepath.Join(results, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(strings.TrimSpace(string(b)), "</html>") || strings.Count(string(b), `class="run"`) != 3 {
		t.Errorf("index is not one whole page listing 3 runs:\n%s", b)
	}
	if left, _ := filepath.Glob(filepath.Join(results, ".index.html*")); len(left) != 0 {
		t.Errorf("temp files left behind: %v", left)
	}
}

func TestPackLanesNeverSharesALaneBetweenLiveProcesses(t *testing.T) {
	ops := []op{
		{process: 0, start: 0, end: 10},
		{process: 1, start: 1, end: 5},
		{process: 11, start: 6, end: 8},  // 1 is done: takes its lane
		{process: 2, start: 7, end: -1},  // never completes: its lane is never free
		{process: 12, start: 9, end: 12}, // lane of 11 is free from 8
		{process: 3, start: 13, end: 14}, // 0 done at 10: lane 0
	}
	laneOf, lanes := packLanes(ops, 20)
	want := map[int]int{0: 0, 1: 1, 11: 1, 2: 2, 12: 1, 3: 0}
	for p, l := range want {
		if laneOf[p] != l {
			t.Errorf("process %d in lane %d, want %d (all: %v)", p, laneOf[p], l, laneOf)
		}
	}
	if fmt.Sprint(lanes) != "[0 1 2]" {
		t.Errorf("lanes' first processes %v, want [0 1 2]", lanes)
	}

	// On a realistic history: no two processes alive at once share a lane.
	all := pairOps(synth{Ops: 5000, Workers: 10, Rate: 200, Interval: 2, Seed: 9}.events())
	laneOf, lanes = packLanes(all, 1<<62)
	type span struct{ from, to int64 }
	life := map[int]*span{}
	for _, o := range all {
		end := o.end
		if end < 0 {
			end = 1 << 62
		}
		if s, ok := life[o.process]; ok {
			s.to = max(s.to, end)
		} else {
			life[o.process] = &span{o.start, end}
		}
	}
	for p, a := range life {
		for q, b := range life {
			if p < q && laneOf[p] == laneOf[q] && a.from <= b.to && b.from <= a.to {
				t.Fatalf("processes %d %v and %d %v overlap in lane %d", p, *a, q, *b, laneOf[p])
			}
		}
	}
	if len(life) <= len(lanes) || len(lanes) > 12 {
		t.Errorf("%d processes packed into %d lanes; want about one per worker (10)", len(life), len(lanes))
	}
}
