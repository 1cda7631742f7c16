package matchers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/counter"
	"github.com/faultline/faultline/checkers/linearizable"
	"github.com/faultline/faultline/checkers/set"
	"github.com/faultline/faultline/outcome"
)

// synthetic builds a result as a run would leave it, with a report file
// when report is set, its verdict derived as a run's is.
func synthetic(t *testing.T, report bool, cs checkers.Results) *faultline.Result {
	t.Helper()
	dir := t.TempDir()
	if report {
		if err := os.WriteFile(filepath.Join(dir, faultline.ReportFile), []byte("<html></html>"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := &faultline.Result{
		Test:     outcome.Spec{System: "raft", Workload: "register", Nodes: 5, TimeLimit: "30s", Runtime: "process", Seed: 7, Bugs: []string{"stale-local-read"}},
		Checkers: cs, RunDir: dir,
	}
	r.Stats.Ops.OK = 100
	r.Judge()
	return r
}

var (
	validCheckers = checkers.Results{"linearizable": {Verdict: checkers.Valid}}
	linFailure    = checkers.Results{
		"linearizable": {Verdict: checkers.Invalid,
			Anomalies: []checkers.Anomaly{{Checker: "linearizable", Kind: linearizable.NotLinearizable, Key: "k3", Text: `key "k3": no linearization of 12 operations`}},
			Artifacts: []checkers.Artifact{{Name: "linearizable-k3.html", Key: "k3"}}},
		"set": {Verdict: checkers.Invalid, Anomalies: []checkers.Anomaly{
			{Checker: "set", Kind: set.Lost, Key: "k7", Events: []int{4, 90}, Text: "k7: 17 acknowledged at 1.2s (event 4), absent from the final read of n3 (event 90)"}}},
	}
	undecided = checkers.Results{"linearizable": {Verdict: checkers.Unknown, Reason: "timed out after 2m"}}
)

func TestBeValid(t *testing.T) {
	ok, err := BeValid().Match(synthetic(t, true, validCheckers))
	if err != nil || !ok {
		t.Fatalf("valid run: match %v, %v", ok, err)
	}
	for v, cs := range map[faultline.Verdict]checkers.Results{faultline.Invalid: linFailure, faultline.Unknown: undecided} {
		r := synthetic(t, true, cs)
		if r.Verdict != v {
			t.Fatalf("synthetic run judged %s, want %s", r.Verdict, v)
		}
		ok, err := BeValid().Match(r)
		if err != nil || ok {
			t.Fatalf("%s run matched BeValid (%v)", v, err)
		}
		msg := BeValid().FailureMessage(r)
		want := []string{"Expected the run to be valid, but it was " + v.String(), "checker linearizable: " + v.String(),
			"report: " + filepath.Join(r.RunDir, faultline.ReportFile), "run dir: " + r.RunDir, "seed 7", "bugs stale-local-read"}
		if v == faultline.Invalid {
			want = append(want, `key "k3": no linearization of 12 operations [not-linearizable]`, "checker set: invalid", "k7: 17 acknowledged at 1.2s (event 4)",
				"see "+filepath.Join(r.RunDir, "linearizable-k3.html"))
		} else {
			want = append(want, "timed out after 2m", "unknown neither proves nor refutes")
		}
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: failure message lacks %q:\n%s", v, w, msg)
			}
		}
	}
	neg := BeValid().NegatedFailureMessage(synthetic(t, false, validCheckers))
	if !strings.Contains(neg, "Expected the run not to be valid, but it was valid") || strings.Contains(neg, "report:") {
		t.Errorf("negated message (no report file, so no report line):\n%s", neg)
	}
}

// Nothing judged proves nothing: the zero result, a run no checker judged
// and a run where no operation succeeded all fail BeValid (and BeInvalid).
func TestNothingJudgedIsNotValid(t *testing.T) {
	none := synthetic(t, false, checkers.Results{})
	noOps := &faultline.Result{Checkers: validCheckers}
	noOps.Judge()
	for name, r := range map[string]*faultline.Result{"zero": {}, "no checker": none, "no operation": noOps} {
		if r.Verdict != faultline.Unknown {
			t.Errorf("%s: verdict %s, want unknown", name, r.Verdict)
		}
		if ok, err := BeValid().Match(r); ok || err != nil {
			t.Errorf("%s: BeValid matched (%v)", name, err)
		}
		if ok, _ := BeInvalid().Match(r); ok {
			t.Errorf("%s: BeInvalid matched", name)
		}
		if r.ExitCode() != 3 {
			t.Errorf("%s: exit code %d, want 3", name, r.ExitCode())
		}
	}
	if ok, _ := BeValid().Match(faultline.Result{}); ok {
		t.Error("a faultline.Result{} value matched BeValid")
	}
	if !strings.Contains(none.Reason, "no checker") || !strings.Contains(noOps.Reason, "no operation succeeded") {
		t.Errorf("reasons %q, %q do not say nothing was judged", none.Reason, noOps.Reason)
	}
}

func TestBeInvalid(t *testing.T) {
	if ok, _ := BeInvalid().Match(synthetic(t, false, linFailure)); !ok {
		t.Fatal("invalid run did not match BeInvalid")
	}
	for _, cs := range []checkers.Results{validCheckers, undecided} {
		r := synthetic(t, false, cs)
		if ok, _ := BeInvalid().Match(r); ok {
			t.Fatalf("%s run matched BeInvalid", r.Verdict)
		}
		if msg := BeInvalid().FailureMessage(r); !strings.Contains(msg, "Expected the run to be invalid, but it was "+r.Verdict.String()) {
			t.Errorf("failure message:\n%s", msg)
		}
	}
}

func TestHaveAnomalyMatchesKindsAndCheckersNotText(t *testing.T) {
	r := synthetic(t, false, linFailure)
	for _, m := range []types.GomegaMatcher{HaveAnomaly(set.Lost), HaveAnomaly(linearizable.NotLinearizable), HaveAnomalyFrom("set"), HaveAnomalyFrom("linearizable")} {
		if ok, err := m.Match(r); !ok || err != nil {
			t.Errorf("%#v did not match: %v", m, err)
		}
	}
	// Words of the text, kinds of other checkers, and a checker with no
	// anomaly do not match.
	for _, m := range []types.GomegaMatcher{HaveAnomaly("acknowledged"), HaveAnomaly("k7"), HaveAnomaly(set.Unexpected),
		HaveAnomaly(counter.FinalOutOfBounds), HaveAnomalyFrom("counter"), HaveAnomalyFrom("lin")} {
		if ok, _ := m.Match(r); ok {
			t.Errorf("%#v matched", m)
		}
	}
	msg := HaveAnomaly(counter.FinalOutOfBounds).FailureMessage(r)
	if !strings.Contains(msg, `Expected an anomaly of kind "final-out-of-bounds" (found: linearizable/not-linearizable, set/lost)`) {
		t.Errorf("failure message:\n%s", msg)
	}
	if ok, _ := HaveAnomalyFrom("linearizable").Match(synthetic(t, false, validCheckers)); ok {
		t.Error("HaveAnomalyFrom matched a valid run")
	}
}

func TestBadActual(t *testing.T) {
	var nilRes *faultline.Result
	for _, actual := range []any{nilRes, "valid", 3} {
		if _, err := BeValid().Match(actual); err == nil {
			t.Errorf("BeValid accepted %#v", actual)
		}
	}
	// Through Gomega, as a suite would use it: the error fails the assertion.
	g := gomega.NewGomega(func(message string, _ ...int) {
		if !strings.Contains(message, "the result is nil") {
			t.Errorf("gomega failure: %s", message)
		}
		panic("stop")
	})
	func() {
		defer func() { _ = recover() }()
		g.Expect(nilRes).To(BeValid())
		t.Error("Expect(nil).To(BeValid()) passed")
	}()
}
