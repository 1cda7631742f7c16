package set

import (
	"context"
	"strings"
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/internal/hb"
	"github.com/faultline/faultline/history"
)

func list(xs ...any) []any { return xs }

func TestAcknowledgedElementMissingFromAFinalReadIsLost(t *testing.T) {
	var b hb.B
	b.Op(0, "n1", "add", "s", 1, 0, 5, history.OK, nil)
	b.Op(1, "n2", "add", "s", 2, 0, 5, history.OK, nil)
	b.Op(2, "n3", "add", "s", 3, 0, 5, history.Info, nil) // may or may not be there
	b.Op(3, "n2", "read", "s", nil, 10, 12, history.OK, list(2))
	b.Nemesis("recover", 100, "", nil)
	b.Op(10, "n1", "read", "s", nil, 110, 111, history.OK, list(1, 2))
	b.Op(11, "n2", "read", "s", nil, 110, 111, history.OK, list(2, 3))
	r := New().Check(context.Background(), b.Events, "")
	if r.Valid != checkers.Invalid || r.Details["lost"] != 1 {
		t.Fatalf("got %v %v, want invalid with 1 lost (1 on n2)", r.Valid, r.Details)
	}
	if ex := r.Details["lost_examples"].([]string); !strings.Contains(ex[0], "s: 1 ") || !strings.Contains(ex[0], "n2") {
		t.Fatalf("lost example %q does not name element 1 and n2", ex[0])
	}
	if r.Details["stale"] != 1 {
		t.Fatalf("stale = %v, want 1 (read at 10ms lacked element 1 acked at 5ms)", r.Details["stale"])
	}
}

func TestSettledSetWithUnknownAndRemovedElementsIsValid(t *testing.T) {
	var b hb.B
	b.Op(0, "n1", "add", "s", 1, 0, 5, history.OK, nil)
	b.Op(1, "n2", "add", "s", 2, 0, 5, history.OK, nil)
	b.Op(2, "n3", "add", "s", 3, 0, 5, history.Info, nil)
	b.Op(3, "n1", "remove", "s", 2, 6, 7, history.OK, nil)
	b.Nemesis("recover", 100, "", nil)
	for i, n := range []string{"n1", "n2", "n3"} {
		b.Op(10+i, n, "read", "s", nil, 110, 111, history.OK, list(1, 3))
	}
	r := New().Check(context.Background(), b.Events, "")
	if r.Valid != checkers.Valid {
		t.Fatalf("got %v: %v %v", r.Valid, r.Anomalies, r.Details)
	}
}

func TestElementReadButNeverAddedOrFailedIsUnexpected(t *testing.T) {
	var b hb.B
	b.Op(0, "n1", "add", "s", 1, 0, 5, history.Fail, nil)
	b.Nemesis("recover", 100, "", nil)
	b.Op(1, "n1", "read", "s", nil, 110, 111, history.OK, list(1, 9))
	r := New().Check(context.Background(), b.Events, "")
	if r.Valid != checkers.Invalid || r.Details["unexpected"] != 2 {
		t.Fatalf("got %v %v, want invalid with 2 unexpected", r.Valid, r.Details)
	}
}

func TestNoFinalPhaseIsUnknown(t *testing.T) {
	var b hb.B
	b.Op(0, "n1", "add", "s", 1, 0, 5, history.OK, nil)
	if r := New().Check(context.Background(), b.Events, ""); r.Valid != checkers.Unknown {
		t.Fatalf("got %v, want unknown without a recover", r.Valid)
	}
}

func TestExpectNamesMissingElements(t *testing.T) {
	var b hb.B
	b.Op(0, "n1", "add", "s", 1, 0, 5, history.OK, nil)
	b.Op(1, "n1", "add", "s", 2, 0, 5, history.OK, nil)
	want := Expect(b.Events)
	if why := want("s", list(1)); len(why) != 1 || !strings.Contains(why[0], "2") {
		t.Fatalf("Expect = %v, want it to name element 2", why)
	}
	if why := want("s", list(1, 2)); why != nil {
		t.Fatalf("complete set judged incomplete: %v", why)
	}
}
