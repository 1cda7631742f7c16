package outcome

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline/faultline/checkers"
)

func TestJudgeIsTheOnePlaceAVerdictIsDerived(t *testing.T) {
	valid := checkers.Result{Verdict: checkers.Valid}
	invalid := checkers.Result{Verdict: checkers.Invalid, Anomalies: []checkers.Anomaly{{Kind: "lost", Text: "x"}}}
	undecided := checkers.Result{Verdict: checkers.Unknown, Reason: "time limit of 2m reached"}
	no, yes := false, true
	for _, c := range []struct {
		name   string
		r      Result
		want   checkers.Verdict
		reason string
	}{
		{"valid", Result{Checkers: checkers.Results{"a": valid}}, checkers.Valid, ""},
		{"an anomaly wins over an interruption", Result{Checkers: checkers.Results{"a": valid, "b": invalid}, Interrupted: true}, checkers.Invalid, "anomalies found"},
		{"history not stored in full", Result{Checkers: checkers.Results{"a": valid}, Recovered: &yes, HistoryError: "history: write event 7: no space left on device"},
			checkers.Unknown, "the history could not be stored in full (history: write event 7: no space left on device)"},
		{"an anomaly wins over a history not stored in full", Result{Checkers: checkers.Results{"b": invalid}, HistoryError: "EIO"}, checkers.Invalid, "anomalies found"},
		{"interrupted", Result{Checkers: checkers.Results{"a": valid}, Interrupted: true}, checkers.Unknown, "run interrupted"},
		{"not recovered", Result{Checkers: checkers.Results{"a": valid}, Recovered: &no, Healed: &Healed{LinksHealed: true, NodesUp: 4, Nodes: 5},
			Test: Spec{RecoveryTimeout: "30s"}}, checkers.Unknown, "cluster did not recover within 30s after the faults stopped (links healed: true, nodes up: 4 of 5)"},
		{"recovered", Result{Checkers: checkers.Results{"a": valid}, Recovered: &yes}, checkers.Valid, ""},
		{"no checker", Result{Checkers: checkers.Results{}}, checkers.Unknown, "no checker judged the history"},
		{"no operation succeeded", Result{Checkers: checkers.Results{"a": valid}}, checkers.Unknown, "no operation succeeded"},
		{"a checker undecided", Result{Checkers: checkers.Results{"a": valid, "lin": undecided}}, checkers.Unknown, "a checker could not decide (lin: time limit of 2m reached)"},
		{"an informational checker's unknown decides nothing", Result{Checkers: checkers.Results{"a": valid,
			"membership": {Verdict: checkers.Unknown, Reason: "no membership observations", Informational: true}}}, checkers.Valid, ""},
		{"an informational checker alone judges nothing", Result{Checkers: checkers.Results{
			"membership": {Verdict: checkers.Valid, Informational: true}}}, checkers.Unknown, "no checker judged the history"},
	} {
		r := c.r
		if c.name != "no operation succeeded" {
			r.Stats.Ops.OK = 10
		}
		r.Judge()
		if r.Verdict != c.want || !strings.Contains(r.Reason, c.reason) || (c.reason == "" && r.Reason != "") {
			t.Errorf("%s: %s (%q), want %s (%q)", c.name, r.Verdict, r.Reason, c.want, c.reason)
		}
		if want := map[checkers.Verdict]int{checkers.Valid: 0, checkers.Invalid: 1, checkers.Unknown: 3}[c.want]; r.ExitCode() != want {
			t.Errorf("%s: exit code %d, want %d", c.name, r.ExitCode(), want)
		}
	}
	var zero Result
	if zero.Verdict != checkers.Unknown || zero.ExitCode() != 3 {
		t.Errorf("the zero result is %s (exit %d), want unknown (3)", zero.Verdict, zero.ExitCode())
	}
}

// A run dir stored before results were typed still reads: verdicts as
// true/false/"unknown", anomalies as lines of text, the files checkers wrote.
func TestReadsARunDirWrittenBeforeTypedResults(t *testing.T) {
	dir := t.TempDir()
	old := `{
  "valid": false,
  "reason": "anomalies found",
  "checkers": {
    "linearizable": {"valid": false, "anomalies": ["key \"k3\": no linearization of 12 operations"],
      "reason": "1 of 40 keys have no linearization", "details": {"failing_keys": ["k3"]}, "files": ["linearizable-k3.html"]},
    "set": {"valid": "unknown", "reason": "no final phase"}
  },
  "stats": {"ops": {"ok": 90, "fail": 3, "info": 7, "total": 100}, "duration_s": 30},
  "recovered": true,
  "healed": {"links_healed": true, "nodes_up": 5, "nodes": 5}
}`
	test := `{"system":"raft","workload":"register","nemesis":["partition","kill"],"bugs":["stale-local-read"],"nodes":5,"runtime":"process","time_limit":"30s","seed":4,"schedule":[{"at":1}]}`
	for name, body := range map[string]string{"results.json": old, "test.json": test} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	lin := r.Checkers["linearizable"]
	if r.Verdict != checkers.Invalid || lin.Anomalies[0].Text != `key "k3": no linearization of 12 operations` ||
		lin.Artifacts[0].Name != "linearizable-k3.html" || r.Checkers["set"].Verdict != checkers.Unknown ||
		r.Stats.Ops.OK != 90 || !*r.Recovered || r.Healed.Nodes != 5 || r.RunDir != dir {
		t.Fatalf("read %+v", r)
	}
	if r.Test.System != "raft" || r.Test.Seed != 4 || r.Test.TimeLimit != "30s" || r.ExitCode() != 1 {
		t.Errorf("test %+v, exit %d", r.Test, r.ExitCode())
	}
	if d := r.Describe(10); !strings.Contains(d, "invalid: anomalies found") || !strings.Contains(d, "seed 4") ||
		!strings.Contains(d, "see "+filepath.Join(dir, "linearizable-k3.html")) {
		t.Errorf("description:\n%s", d)
	}
	if _, err := Read(t.TempDir()); err == nil {
		t.Error("read a result from a dir with no results.json")
	}
}

func TestHasAnomalyMatchesKindsAndCheckers(t *testing.T) {
	r := Result{Checkers: checkers.Results{
		"set":         {Verdict: checkers.Invalid, Anomalies: []checkers.Anomaly{{Checker: "set", Kind: "lost", Text: "3 acknowledged elements lost"}}},
		"convergence": {Verdict: checkers.Valid},
	}}
	if !r.HasAnomaly("lost") || r.HasAnomaly("acknowledged") || r.HasAnomaly("set") {
		t.Error("HasAnomaly matches the kind, and only the kind")
	}
	if !r.HasAnomalyFrom("set") || r.HasAnomalyFrom("convergence") || r.HasAnomalyFrom("lost") {
		t.Error("HasAnomalyFrom matches the checker that found one, and only that")
	}
}
