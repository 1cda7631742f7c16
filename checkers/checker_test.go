package checkers

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/faultline/faultline/history"
)

func TestZeroVerdictIsUnknownAndNothingJudgedIsUnknown(t *testing.T) {
	var v Verdict
	if v != Unknown || v.String() != "unknown" {
		t.Fatalf("zero verdict is %s, want unknown", v)
	}
	if (Result{}).Verdict != Unknown {
		t.Fatal("an empty result is not unknown")
	}
	for _, c := range []struct {
		in   []Verdict
		want Verdict
	}{
		{nil, Unknown},
		{[]Verdict{Valid}, Valid},
		{[]Verdict{Valid, Unknown}, Unknown},
		{[]Verdict{Valid, 0}, Unknown},
		{[]Verdict{Unknown, Invalid, Valid}, Invalid},
	} {
		if got := Merge(c.in...); got != c.want {
			t.Errorf("Merge(%v) = %s, want %s", c.in, got, c.want)
		}
	}
	if got := (Results{}).Verdict(); got != Unknown {
		t.Errorf("no checker results: %s, want unknown", got)
	}
}

func TestVerdictJSONStaysTrueFalseUnknown(t *testing.T) {
	for v, want := range map[Verdict]string{Valid: "true", Invalid: "false", Unknown: `"unknown"`} {
		b, err := json.Marshal(v)
		if err != nil || string(b) != want {
			t.Errorf("%s encodes as %s (%v), want %s", v, b, err, want)
		}
		var back Verdict = 99
		if err := json.Unmarshal(b, &back); err != nil || back != v {
			t.Errorf("%s decodes to %s (%v)", b, back, err)
		}
	}
	var v Verdict
	if err := json.Unmarshal([]byte(`"maybe"`), &v); err == nil {
		t.Error(`"maybe" decoded as a verdict`)
	}
}

// results.json from before typed anomalies held them as lines of text and
// listed the files a checker wrote; both still read.
func TestResultReadsTheOldFormat(t *testing.T) {
	old := `{"valid":false,"anomalies":["1 acknowledged elements lost","k7: 17 acknowledged at 1.2s"],"files":["linearizable-k3.html"],"details":{"lost":1}}`
	var r Result
	if err := json.Unmarshal([]byte(old), &r); err != nil {
		t.Fatal(err)
	}
	if r.Verdict != Invalid || len(r.Anomalies) != 2 || r.Anomalies[1].Text != "k7: 17 acknowledged at 1.2s" ||
		len(r.Artifacts) != 1 || r.Artifacts[0].Name != "linearizable-k3.html" || r.Details["lost"] != 1.0 {
		t.Fatalf("old results read as %+v", r)
	}
	// And the current format round-trips, artifact bytes left out.
	now := Result{Verdict: Invalid, Anomalies: []Anomaly{{Checker: "set", Kind: "lost", Key: "s", Events: []int{3, 9}, Text: "s: 1 lost"}},
		Artifacts: []Artifact{{Name: "a.html", Key: "s", Data: []byte("<html>")}}}
	b, _ := json.Marshal(now)
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	a := back.Anomalies[0]
	if a.Checker != "set" || a.Kind != "lost" || a.Key != "s" || fmt.Sprint(a.Events) != "[3 9]" || a.Text != "s: 1 lost" ||
		back.Artifacts[0].Name != "a.html" || back.Artifacts[0].Key != "s" || back.Artifacts[0].Data != nil {
		t.Errorf("round trip: %s → %#v", b, back)
	}
}

type fixed struct {
	name string
	r    Result
}

func (f fixed) Name() string                                  { return f.name }
func (f fixed) Check(context.Context, []history.Event) Result { return f.r }

func TestRunNamesFindingsAndAnAnomalyIsNeverValid(t *testing.T) {
	rs := Run(context.Background(), []Checker{
		fixed{"careless", Result{Verdict: Valid, Anomalies: []Anomaly{{Kind: "odd", Text: "odd"}}}},
		fixed{"quiet", Result{Verdict: Valid, Notes: []Anomaly{{Kind: "slow", Text: "slow"}}}},
	}, nil)
	if rs["careless"].Verdict != Invalid || rs["careless"].Anomalies[0].Checker != "careless" {
		t.Errorf("a checker reporting an anomaly as valid: %+v", rs["careless"])
	}
	if rs["quiet"].Verdict != Valid || rs["quiet"].Notes[0].Checker != "quiet" {
		t.Errorf("notes change nothing but get their checker's name: %+v", rs["quiet"])
	}
	if rs.Verdict() != Invalid || fmt.Sprint(rs.Names()) != "[careless quiet]" {
		t.Errorf("verdict %s, names %v", rs.Verdict(), rs.Names())
	}
}

func TestFirstInvalidPrefixBisectsToTheFirstBadCompletion(t *testing.T) {
	// Ten operations and a nemesis event; the read completing at event 14
	// (it returned 6) is bad.
	var events []history.Event
	for p := range 10 {
		events = append(events,
			history.Event{Index: len(events), Process: p, Type: history.Invoke, F: history.OpRead},
			history.Event{Index: len(events) + 1, Process: p, Type: history.OK, F: history.OpRead, Value: p})
		if p == 3 {
			events = append(events, history.Event{Index: len(events), Process: history.NemesisProcess, Type: history.Info, F: history.Kill})
		}
	}
	bad := func(prefix []history.Event) bool {
		for _, e := range prefix {
			if e.Value == 6 {
				return true
			}
		}
		return false
	}
	calls := 0
	judge := func(_ context.Context, prefix []history.Event) Verdict {
		calls++
		if bad(prefix) {
			return Invalid
		}
		return Valid
	}
	n, found := FirstInvalidPrefix(context.Background(), events, judge)
	if !found || events[n-1].Value != 6 || events[n-1].Index != 14 {
		t.Fatalf("prefix of %d events (found %v), want it to end with the bad completion, event 14", n, found)
	}
	if calls > 6 {
		t.Errorf("%d judgements for 10 cut points, want a bisection (at most 1 + log2 10)", calls)
	}
	// Undecided prefixes count as not invalid: the answer may come later,
	// but is always a prefix found invalid.
	n, found = FirstInvalidPrefix(context.Background(), events, func(ctx context.Context, p []history.Event) Verdict {
		if len(p) < len(events) {
			return Unknown
		}
		return judge(ctx, p)
	})
	if !found || n != len(events) {
		t.Errorf("with every shorter prefix undecided: %d, %v; want the whole history", n, found)
	}
	if _, found := FirstInvalidPrefix(context.Background(), events[:10], judge); found {
		t.Error("found an invalid prefix in a valid history")
	}
}
