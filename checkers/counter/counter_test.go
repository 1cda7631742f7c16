package counter

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/internal/hb"
	"github.com/faultline/faultline/history"
)

func base() *hb.B {
	var b hb.B
	b.Op(0, "n1", "add", "c", 5, 0, 5, history.OK, nil)
	b.Op(1, "n2", "add", "c", -2, 0, 5, history.OK, nil)
	b.Op(2, "n3", "add", "c", 10, 0, 5, history.Info, nil)
	b.Op(3, "n4", "add", "c", -1, 0, 5, history.Info, nil)
	b.Op(4, "n5", "add", "c", 100, 0, 5, history.Fail, nil)
	return &b
}

func finals(b *hb.B, vs ...int) {
	b.Nemesis("recover", 100, "", nil)
	for i, v := range vs {
		b.Op(10+i, []string{"n1", "n2", "n3"}[i], "read", "c", nil, 110, 111, history.OK, v)
	}
}

func TestFinalReadsWithinAckedPlusUnknownAreValid(t *testing.T) {
	// acked 3; unknown +10 and -1: final in [2, 13].
	for _, v := range []int{2, 3, 12, 13} {
		b := base()
		finals(b, v, v, v)
		if r := New().Check(context.Background(), b.Events); r.Verdict != checkers.Valid {
			t.Fatalf("final %d: got %v %v", v, r.Verdict, r.Anomalies)
		}
	}
	for _, v := range []int{1, 14, 103} {
		b := base()
		finals(b, v, v, v)
		r := New().Check(context.Background(), b.Events)
		if r.Verdict != checkers.Invalid {
			t.Fatalf("final %d outside [2, 13] judged %v", v, r.Verdict)
		}
		for i, a := range r.Anomalies {
			if a.Kind != FinalOutOfBounds || fmt.Sprint(a.Events) != fmt.Sprint([]int{13 + 2*i}) ||
				!strings.Contains(a.Text, "acknowledged deltas sum to 3, and deltas that timed out could add up to +10 and -1") {
				t.Errorf("final %d: anomaly %+v, want the final read out of bounds with the bounds explained", v, a)
			}
		}
	}
}

func TestDifferingFinalReadsAreInvalid(t *testing.T) {
	b := base()
	finals(b, 3, 3, 12)
	r := New().Check(context.Background(), b.Events)
	if r.Verdict != checkers.Invalid || r.Details["final_keys_diverged"] != 1 {
		t.Fatalf("got %v %v", r.Verdict, r.Details)
	}
	// Events 0-9 the adds, 10-11 recover, then each node's final read.
	a := r.Anomalies[0]
	if len(r.Anomalies) != 1 || a.Kind != FinalDiverged || a.Key != "c" || fmt.Sprint(a.Events) != "[13 15 17]" ||
		!strings.Contains(a.Text, "n1=3 n2=3 n3=12") {
		t.Fatalf("anomalies %+v, want one: the final reads of n1, n2, n3 differ", r.Anomalies)
	}
}

func TestReadMissingItsOwnNodesAckedAddIsOutOfBounds(t *testing.T) {
	var b hb.B
	b.Op(0, "n1", "add", "c", 5, 0, 5, history.OK, nil)
	b.Op(1, "n2", "read", "c", nil, 10, 11, history.OK, 0) // another node may lag
	b.Op(2, "n1", "read", "c", nil, 10, 11, history.OK, 0) // n1 acknowledged +5
	finals(&b, 5, 5, 5)
	r := New().Check(context.Background(), b.Events)
	if r.Verdict != checkers.Invalid || r.Details["reads_out_of_bounds"] != 1 {
		t.Fatalf("got %v %v, want exactly n1's read out of bounds", r.Verdict, r.Details)
	}
	a := r.Anomalies[0]
	if a.Kind != ReadOutOfBounds || fmt.Sprint(a.Events) != "[5]" || !strings.Contains(a.Text, "[5, 5]: at least 0 (negative deltas invoked before it ended) + 5 (positive deltas n1 had acknowledged before it began)") {
		t.Fatalf("anomaly %+v, want n1's read (event 5) with its bounds explained", a)
	}
}
