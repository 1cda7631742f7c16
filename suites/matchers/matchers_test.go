package matchers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/gomega"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/checkers"
)

// synthetic builds a result as a run would leave it, with a report file
// when report is set.
func synthetic(t *testing.T, v faultline.Verdict, report bool, cs map[string]checkers.Result) *faultline.Result {
	t.Helper()
	dir := t.TempDir()
	if report {
		if err := os.WriteFile(filepath.Join(dir, faultline.ReportFile), []byte("<html></html>"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reason := map[faultline.Verdict]string{faultline.Invalid: "anomalies found", faultline.Unknown: "a checker could not decide"}[v]
	return &faultline.Result{
		Test:    faultline.New("raft", faultline.Seed(7), faultline.Bugs("stale-local-read")),
		Verdict: v, Reason: reason, Checkers: cs, RunDir: dir,
	}
}

var (
	validCheckers = map[string]checkers.Result{"linearizable": {Valid: checkers.Valid}}
	linFailure    = map[string]checkers.Result{
		"linearizable": {Valid: checkers.Invalid, Anomalies: []string{`key "k3": no linearization of 12 operations`},
			Files: []string{"linearizable-k3.html"}},
		"set": {Valid: checkers.Invalid, Anomalies: []string{"1 acknowledged elements lost",
			"k7: 17 acknowledged at 1.2s, absent from the final read of n3"}},
	}
	undecided = map[string]checkers.Result{"linearizable": {Valid: checkers.Unknown, Reason: "timed out after 2m"}}
)

func TestBeValid(t *testing.T) {
	ok, err := BeValid().Match(synthetic(t, faultline.Valid, true, validCheckers))
	if err != nil || !ok {
		t.Fatalf("valid run: match %v, %v", ok, err)
	}
	for _, v := range []faultline.Verdict{faultline.Invalid, faultline.Unknown} {
		cs := linFailure
		if v == faultline.Unknown {
			cs = undecided
		}
		r := synthetic(t, v, true, cs)
		ok, err := BeValid().Match(r)
		if err != nil || ok {
			t.Fatalf("%s run matched BeValid (%v)", v, err)
		}
		msg := BeValid().FailureMessage(r)
		want := []string{"Expected the run to be valid, but it was " + v.String(), "checker linearizable: " + v.String(),
			"report: " + filepath.Join(r.RunDir, faultline.ReportFile), "run dir: " + r.RunDir, "seed 7", "bugs stale-local-read"}
		if v == faultline.Invalid {
			want = append(want, `key "k3": no linearization`, "checker set: invalid", "k7: 17 acknowledged at 1.2s",
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
	neg := BeValid().NegatedFailureMessage(synthetic(t, faultline.Valid, false, validCheckers))
	if !strings.Contains(neg, "Expected the run not to be valid, but it was valid") || strings.Contains(neg, "report:") {
		t.Errorf("negated message (no report file, so no report line):\n%s", neg)
	}
}

func TestBeInvalid(t *testing.T) {
	if ok, _ := BeInvalid().Match(synthetic(t, faultline.Invalid, false, linFailure)); !ok {
		t.Fatal("invalid run did not match BeInvalid")
	}
	for _, v := range []faultline.Verdict{faultline.Valid, faultline.Unknown} {
		r := synthetic(t, v, false, undecided)
		if ok, _ := BeInvalid().Match(r); ok {
			t.Fatalf("%s run matched BeInvalid", v)
		}
		if msg := BeInvalid().FailureMessage(r); !strings.Contains(msg, "Expected the run to be invalid, but it was "+v.String()) {
			t.Errorf("failure message:\n%s", msg)
		}
	}
}

func TestHaveAnomaly(t *testing.T) {
	r := synthetic(t, faultline.Invalid, false, linFailure)
	for _, kind := range []string{"linearizable", "set", "lost", "no linearization"} {
		if ok, err := HaveAnomaly(kind).Match(r); !ok || err != nil {
			t.Errorf("HaveAnomaly(%q) did not match: %v", kind, err)
		}
	}
	for _, kind := range []string{"counter", "los", "k7"[:1]} {
		if ok, _ := HaveAnomaly(kind).Match(r); ok {
			t.Errorf("HaveAnomaly(%q) matched", kind)
		}
	}
	msg := HaveAnomaly("counter").FailureMessage(r)
	if !strings.Contains(msg, `Expected an anomaly of kind "counter" (checkers with anomalies: linearizable, set)`) {
		t.Errorf("failure message:\n%s", msg)
	}
	if ok, _ := HaveAnomaly("linearizable").Match(synthetic(t, faultline.Valid, false, validCheckers)); ok {
		t.Error("HaveAnomaly matched a valid run")
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
