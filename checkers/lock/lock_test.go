package lock

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/internal/hb"
	"github.com/faultline/faultline/history"
)

// Helpers for hand-written histories: times in ms, TTL 100 ms.
func acquire(b *hb.B, p int, owner string, inv, done int, typ history.Type, token int) {
	in := map[string]any{"owner": owner, "ttl_ms": 100}
	out := map[string]any{"owner": owner, "ttl_ms": 100}
	if typ == history.OK {
		out["token"] = token
	}
	b.OpOut(p, "n1", history.OpAcquire, "L", in, inv, done, typ, out)
}

func renew(b *hb.B, p int, owner string, token, inv, done int, typ history.Type) {
	b.Op(p, "n1", history.OpRenew, "L", map[string]any{"owner": owner, "token": token, "ttl_ms": 100}, inv, done, typ, nil)
}

func release(b *hb.B, p int, owner string, token, inv, done int, typ history.Type) {
	b.Op(p, "n1", history.OpRelease, "L", map[string]any{"owner": owner, "token": token}, inv, done, typ, nil)
}

func write(b *hb.B, p int, owner string, token, value, inv, done int, typ history.Type) {
	b.Op(p, "n1", history.OpFencedWrite, "L", map[string]any{"owner": owner, "token": token, "value": value}, inv, done, typ, nil)
}

func check(t *testing.T, b *hb.B) checkers.Result {
	t.Helper()
	return New().Check(context.Background(), b.Events)
}

func TestOverlappingGrantsAreAnAnomalyNamingBothHolders(t *testing.T) {
	var b hb.B
	acquire(&b, 0, "a", 0, 10, history.OK, 5)  // a holds until 0+100 ms
	acquire(&b, 1, "b", 20, 30, history.OK, 7) // granted by 30 ms: inside a's lease
	r := check(t, &b)
	if r.Verdict != checkers.Invalid || r.Details["overlapping_holds"] != 1 || len(r.Anomalies) != 1 {
		t.Fatalf("got %v %v %v", r.Verdict, r.Details, r.Anomalies)
	}
	a := r.Anomalies[0]
	if a.Kind != OverlappingHolds || a.Key != "L" || fmt.Sprint(a.Events) != "[1 3]" {
		t.Fatalf("anomaly %+v: want overlapping-holds on L pointing at both grants' completions", a)
	}
	for _, want := range []string{"a (token 5)", "b (token 7)", "until at least 0.100s"} {
		if !strings.Contains(a.Text, want) {
			t.Fatalf("text %q lacks %q", a.Text, want)
		}
	}
}

func TestAHandoverAfterExpiryIsValid(t *testing.T) {
	var b hb.B
	acquire(&b, 0, "a", 0, 10, history.OK, 5)
	write(&b, 0, "a", 5, 1, 20, 25, history.OK)
	acquire(&b, 1, "b", 30, 40, history.Fail, 0)    // refused while a holds
	acquire(&b, 1, "b", 95, 105, history.OK, 9)     // completes after a's lease (100 ms)
	write(&b, 1, "b", 9, 2, 110, 115, history.OK)   // b writes with its token
	write(&b, 0, "a", 5, 3, 120, 125, history.Fail) // a, late, is rejected
	r := check(t, &b)
	if r.Verdict != checkers.Valid {
		t.Fatalf("got %v %v", r.Verdict, r.Anomalies)
	}
	d := r.Details
	if d["grants"] != 2 || d["refusals"] != 1 || d["writes_accepted"] != 2 || d["writes_rejected"] != 1 ||
		d["overlapping_holds"] != 0 || d["longest_wait_ms"] != int64(75) {
		t.Fatalf("details %v", d)
	}
}

func TestAGrantInsideTheUncertaintyWindowIsNotJudged(t *testing.T) {
	var b hb.B
	// b's grant completes at 105 ms, after a's lease end: b may have been
	// granted any time in [95, 105], so no overlap is certain.
	acquire(&b, 0, "a", 0, 10, history.OK, 5)
	acquire(&b, 1, "b", 95, 105, history.OK, 9)
	if r := check(t, &b); r.Verdict != checkers.Valid {
		t.Fatalf("got %v %v", r.Verdict, r.Anomalies)
	}
}

func TestAnInfoGrantIsPossiblyGrantedNeverAnOverlap(t *testing.T) {
	var b hb.B
	acquire(&b, 0, "a", 0, 10, history.Info, 0) // may hold, unknown token
	acquire(&b, 1, "b", 20, 30, history.OK, 7)  // inside a's would-be lease
	r := check(t, &b)
	if r.Verdict != checkers.Valid || r.Details["possible_grants"] != 1 || r.Details["grants"] != 1 {
		t.Fatalf("got %v %v %v", r.Verdict, r.Details, r.Anomalies)
	}
}

func TestAReleaseEndsTheHoldButAFailedOneDoesNot(t *testing.T) {
	var b hb.B
	acquire(&b, 0, "a", 0, 10, history.OK, 5)
	release(&b, 0, "a", 5, 20, 25, history.Info) // may have released at 20 ms
	acquire(&b, 1, "b", 30, 40, history.OK, 9)
	if r := check(t, &b); r.Verdict != checkers.Valid {
		t.Fatalf("info release: got %v %v", r.Verdict, r.Anomalies)
	}
	var c hb.B
	acquire(&c, 0, "a", 0, 10, history.OK, 5)
	release(&c, 0, "a", 5, 20, 25, history.Fail) // certainly no effect
	acquire(&c, 1, "b", 30, 40, history.OK, 9)
	if r := check(t, &c); r.Verdict != checkers.Invalid {
		t.Fatalf("failed release: got %v, want the overlap", r.Verdict)
	}
}

func TestARenewalExtendsTheHold(t *testing.T) {
	var b hb.B
	acquire(&b, 0, "a", 0, 10, history.OK, 5)
	renew(&b, 0, "a", 5, 80, 90, history.OK)     // holds again from 90 to 180 ms
	acquire(&b, 1, "b", 140, 150, history.OK, 9) // granted inside the renewed lease
	r := check(t, &b)
	if r.Verdict != checkers.Invalid || len(r.Anomalies) != 1 || !strings.Contains(r.Anomalies[0].Text, "renewal") {
		t.Fatalf("got %v %v", r.Verdict, r.Anomalies)
	}
	var c hb.B // the same renewal known only as info extends nothing
	acquire(&c, 0, "a", 0, 10, history.OK, 5)
	renew(&c, 0, "a", 5, 80, 90, history.Info)
	acquire(&c, 1, "b", 140, 150, history.OK, 9)
	if r := check(t, &c); r.Verdict != checkers.Valid {
		t.Fatalf("info renewal: got %v %v", r.Verdict, r.Anomalies)
	}
}

func TestAStaleTokenWriteAcceptedAfterANewerOneIsUnfenced(t *testing.T) {
	var b hb.B
	acquire(&b, 0, "a", 0, 10, history.OK, 5)
	acquire(&b, 1, "b", 150, 160, history.OK, 9) // after a's lease: fine
	write(&b, 1, "b", 9, 2, 170, 175, history.OK)
	write(&b, 0, "a", 5, 1, 180, 185, history.OK) // a woke from a pause; accepted
	r := check(t, &b)
	if r.Verdict != checkers.Invalid || r.Details["unfenced_writes"] != 1 || len(r.Anomalies) != 1 {
		t.Fatalf("got %v %v %v", r.Verdict, r.Details, r.Anomalies)
	}
	a := r.Anomalies[0]
	if a.Kind != StaleWrite || fmt.Sprint(a.Events) != "[7 5]" {
		t.Fatalf("anomaly %+v: want stale-write pointing at a's write, then b's", a)
	}
	for _, want := range []string{"a's write of 1 with the stale token 5", "b's write of 2 with token 9"} {
		if !strings.Contains(a.Text, want) {
			t.Fatalf("text %q lacks %q", a.Text, want)
		}
	}
}

func TestConcurrentWritesAreNotJudged(t *testing.T) {
	var b hb.B
	write(&b, 1, "b", 9, 2, 170, 190, history.OK)
	write(&b, 0, "a", 5, 1, 180, 185, history.OK) // invoked before b's write completed
	acquire(&b, 2, "c", 0, 5, history.OK, 1)
	if r := check(t, &b); r.Verdict != checkers.Valid {
		t.Fatalf("got %v %v", r.Verdict, r.Anomalies)
	}
}

func TestATokenThatDoesNotGrowIsAnAnomaly(t *testing.T) {
	var b hb.B
	acquire(&b, 0, "a", 0, 10, history.OK, 9)
	release(&b, 0, "a", 9, 20, 25, history.OK)
	acquire(&b, 1, "b", 30, 40, history.OK, 9) // after a's release, same token
	r := check(t, &b)
	if r.Verdict != checkers.Invalid || r.Details["token_order"] != 1 || r.Anomalies[0].Kind != TokenOrder {
		t.Fatalf("got %v %v %v", r.Verdict, r.Details, r.Anomalies)
	}
}

func TestNothingGrantedIsUnknownAndBadInputIsNamed(t *testing.T) {
	var b hb.B
	acquire(&b, 0, "a", 0, 10, history.Fail, 0)
	if r := check(t, &b); r.Verdict != checkers.Unknown {
		t.Fatalf("no grant: got %v", r.Verdict)
	}
	var c hb.B
	c.Op(0, "n1", history.OpRead, "L", nil, 0, 1, history.OK, 1)
	if err := Validate(c.Events); err == nil || !strings.Contains(err.Error(), `"read" is not a lock operation`) {
		t.Fatalf("foreign op: err %v", err)
	}
	var d hb.B
	d.Op(0, "n1", history.OpAcquire, "L", "not an object", 0, 1, history.OK, nil)
	if r := check(t, &d); r.Verdict != checkers.Unknown || !strings.Contains(r.Reason, "is not {owner") {
		t.Fatalf("bad value: got %v %q", r.Verdict, r.Reason)
	}
}
