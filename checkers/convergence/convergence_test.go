package convergence

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/internal/hb"
	"github.com/faultline/faultline/history"
)

func TestConvergenceTimeIsWhenTheLastNodeSettled(t *testing.T) {
	var b hb.B
	b.Nemesis("recover", 1000, "", nil)
	// n1 settles at once, n2 after two rounds (its read at 2000ms ends at 2010ms).
	b.Op(1, "n1", "read", "k", nil, 1000, 1010, history.OK, 7)
	b.Op(2, "n2", "read", "k", nil, 1000, 1010, history.OK, 3)
	b.Op(1, "n1", "read", "k", nil, 1500, 1510, history.OK, 7)
	b.Op(2, "n2", "read", "k", nil, 1500, 1510, history.OK, 5)
	b.Op(1, "n1", "read", "k", nil, 2000, 2010, history.OK, 7)
	b.Op(2, "n2", "read", "k", nil, 2000, 2010, history.OK, 7)
	b.Op(2, "n2", "read", "k", nil, 2500, 2510, history.OK, 7)
	r := New(Options{Bound: 5 * time.Second}).Check(context.Background(), b.Events)
	if r.Verdict != checkers.Valid || r.Details["convergence_time_ms"] != 1010.0 {
		t.Fatalf("got %v %v %v, want valid in 1010ms", r.Verdict, r.Anomalies, r.Details)
	}
	r = New(Options{Bound: time.Second}).Check(context.Background(), b.Events)
	if r.Verdict != checkers.Invalid || len(r.Anomalies) != 1 || r.Anomalies[0].Kind != Slow {
		t.Fatalf("1010ms against a 1s bound judged %v %+v", r.Verdict, r.Anomalies)
	}
	// Events 0-1 recover; n1's last read ends at event 11, n2's at 15.
	if got := fmt.Sprint(r.Anomalies[0].Events); got != "[11 15]" {
		t.Errorf("slow key's events %s, want each node's last read [11 15]", got)
	}
}

func TestNodesThatNeverAgreeOrMissAnUpdateAreInvalid(t *testing.T) {
	var b hb.B
	b.Nemesis("recover", 1000, "", nil)
	b.Op(1, "n1", "read", "k", nil, 1000, 1010, history.OK, 7)
	b.Op(2, "n2", "read", "k", nil, 1000, 1010, history.OK, 3)
	r := New(Options{}).Check(context.Background(), b.Events)
	if r.Verdict != checkers.Invalid || r.Details["convergence_time_ms"] != nil {
		t.Fatalf("disagreeing nodes judged %v with time %v, want invalid and no time", r.Verdict, r.Details["convergence_time_ms"])
	}
	if a := r.Anomalies[0]; a.Kind != Diverged || fmt.Sprint(a.Events) != "[3 5]" || a.Text != "k: nodes never agreed: n1: 7; n2: 3" {
		t.Errorf("anomaly %+v, want the two final reads that differ", a)
	}
	var c hb.B
	c.Nemesis("recover", 1000, "", nil)
	c.Op(1, "n1", "read", "k", nil, 1000, 1010, history.OK, 7)
	c.Op(2, "n2", "read", "k", nil, 1000, 1010, history.OK, 7)
	expect := func([]history.Event) func(string, any) []string {
		return func(string, any) []string { return []string{"lacks element 9"} }
	}
	if r := New(Options{Expect: expect}).Check(context.Background(), c.Events); r.Verdict != checkers.Invalid || r.Anomalies[0].Kind != Incomplete {
		t.Fatalf("agreement on an incomplete value judged %v %+v", r.Verdict, r.Anomalies)
	}
}
