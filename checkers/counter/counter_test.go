package counter

import (
	"context"
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
		if r := New().Check(context.Background(), b.Events, ""); r.Valid != checkers.Valid {
			t.Fatalf("final %d: got %v %v", v, r.Valid, r.Anomalies)
		}
	}
	for _, v := range []int{1, 14, 103} {
		b := base()
		finals(b, v, v, v)
		if r := New().Check(context.Background(), b.Events, ""); r.Valid != checkers.Invalid {
			t.Fatalf("final %d outside [2, 13] judged %v", v, r.Valid)
		}
	}
}

func TestDifferingFinalReadsAreInvalid(t *testing.T) {
	b := base()
	finals(b, 3, 3, 12)
	r := New().Check(context.Background(), b.Events, "")
	if r.Valid != checkers.Invalid || r.Details["final_keys_diverged"] != 1 {
		t.Fatalf("got %v %v", r.Valid, r.Details)
	}
}

func TestReadMissingItsOwnNodesAckedAddIsOutOfBounds(t *testing.T) {
	var b hb.B
	b.Op(0, "n1", "add", "c", 5, 0, 5, history.OK, nil)
	b.Op(1, "n2", "read", "c", nil, 10, 11, history.OK, 0) // another node may lag
	b.Op(2, "n1", "read", "c", nil, 10, 11, history.OK, 0) // n1 acknowledged +5
	finals(&b, 5, 5, 5)
	r := New().Check(context.Background(), b.Events, "")
	if r.Valid != checkers.Invalid || r.Details["reads_out_of_bounds"] != 1 {
		t.Fatalf("got %v %v, want exactly n1's read out of bounds", r.Valid, r.Details)
	}
}
