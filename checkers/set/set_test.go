package set

import (
	"context"
	"fmt"
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
	r := New().Check(context.Background(), b.Events)
	if r.Verdict != checkers.Invalid || r.Details["lost"] != 1 {
		t.Fatalf("got %v %v, want invalid with 1 lost (1 on n2)", r.Verdict, r.Details)
	}
	// Events: 0-1 add 1, 2-3 add 2, 4-5 add 3, 6-7 the read of [2],
	// 8-9 recover, 10-11 n1's final read, 12-13 n2's.
	if len(r.Anomalies) != 1 {
		t.Fatalf("anomalies %+v, want one lost element", r.Anomalies)
	}
	a := r.Anomalies[0]
	if a.Kind != Lost || a.Key != "s" || fmt.Sprint(a.Events) != "[1 11 13]" || !strings.Contains(a.Text, "s: 1 ") || !strings.Contains(a.Text, "n2") {
		t.Fatalf("lost anomaly %+v, want element 1 of s: its add (1), the last read that saw it (n1's final read, 11) and n2's final read (13)", a)
	}
	if r.Details["stale"] != 1 || len(r.Notes) != 1 || r.Notes[0].Kind != Stale || fmt.Sprint(r.Notes[0].Events) != "[1 7]" {
		t.Fatalf("stale = %v, notes %+v; want 1: the read at 10ms (event 7) lacked element 1 acked at 5ms (event 1)", r.Details["stale"], r.Notes)
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
	r := New().Check(context.Background(), b.Events)
	if r.Verdict != checkers.Valid {
		t.Fatalf("got %v: %v %v", r.Verdict, r.Anomalies, r.Details)
	}
}

func TestElementReadButNeverAddedOrFailedIsUnexpected(t *testing.T) {
	var b hb.B
	b.Op(0, "n1", "add", "s", 1, 0, 5, history.Fail, nil)
	b.Nemesis("recover", 100, "", nil)
	b.Op(1, "n1", "read", "s", nil, 110, 111, history.OK, list(1, 9))
	r := New().Check(context.Background(), b.Events)
	if r.Verdict != checkers.Invalid || r.Details["unexpected"] != 2 {
		t.Fatalf("got %v %v, want invalid with 2 unexpected", r.Verdict, r.Details)
	}
	// The failed add of 1 is events 0-1; the read, 4-5.
	for _, a := range r.Anomalies {
		want := "[5]" // 9 was never added
		if strings.Contains(a.Text, "s: 1 ") {
			want = "[5 1]" // the read, then the failed add
		}
		if a.Kind != Unexpected || fmt.Sprint(a.Events) != want {
			t.Errorf("anomaly %+v, want kind unexpected, events %s", a, want)
		}
	}
}

func TestNoFinalPhaseIsUnknown(t *testing.T) {
	var b hb.B
	b.Op(0, "n1", "add", "s", 1, 0, 5, history.OK, nil)
	if r := New().Check(context.Background(), b.Events); r.Verdict != checkers.Unknown {
		t.Fatalf("got %v, want unknown without a recover", r.Verdict)
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

// The same element added twice is judged per operation: acknowledged once
// and failed (or unknown) once, it is acknowledged — missing from a final
// read it is lost, present it is not unexpected.
func TestARepeatedAddIsJudgedPerOperation(t *testing.T) {
	for _, other := range []history.Type{history.Fail, history.Info} {
		// Present everywhere: valid, whichever add came first.
		for _, okFirst := range []bool{true, false} {
			var b hb.B
			first, second := history.OK, other
			if !okFirst {
				first, second = other, history.OK
			}
			b.Op(0, "n1", "add", "s", 1, 0, 5, first, nil)
			b.Op(1, "n2", "add", "s", 1, 10, 15, second, nil)
			b.Nemesis("recover", 100, "", nil)
			b.Op(10, "n1", "read", "s", nil, 110, 111, history.OK, list(1))
			b.Op(11, "n2", "read", "s", nil, 110, 111, history.OK, list(1))
			if r := New().Check(context.Background(), b.Events); r.Verdict != checkers.Valid {
				t.Errorf("ok and %s adds (ok first %v), element present: %v %v", other, okFirst, r.Verdict, r.Anomalies)
			}
			// Missing from n2's final read: lost.
			var c hb.B
			c.Op(0, "n1", "add", "s", 1, 0, 5, first, nil)
			c.Op(1, "n2", "add", "s", 1, 10, 15, second, nil)
			c.Nemesis("recover", 100, "", nil)
			c.Op(10, "n1", "read", "s", nil, 110, 111, history.OK, list(1))
			c.Op(11, "n2", "read", "s", nil, 110, 111, history.OK, list())
			r := New().Check(context.Background(), c.Events)
			if r.Verdict != checkers.Invalid || r.Details["lost"] != 1 || r.Details["unexpected"] != 0 {
				t.Errorf("ok and %s adds (ok first %v), missing on n2: %v %v", other, okFirst, r.Verdict, r.Details)
			}
		}
	}
	// Every add failed: reading it is unexpected.
	var b hb.B
	b.Op(0, "n1", "add", "s", 1, 0, 5, history.Fail, nil)
	b.Op(1, "n2", "add", "s", 1, 10, 15, history.Fail, nil)
	b.Nemesis("recover", 100, "", nil)
	b.Op(10, "n1", "read", "s", nil, 110, 111, history.OK, list(1))
	if r := New().Check(context.Background(), b.Events); r.Verdict != checkers.Invalid || r.Details["unexpected"] != 1 {
		t.Errorf("two failed adds, read: %v %v", r.Verdict, r.Details)
	}
}

// Observed-remove: a remove acknowledged on a node that had returned the
// element, whose only add came before, deletes it for good.
func TestAnObservedRemoveMustHold(t *testing.T) {
	build := func(mod func(b *hb.B)) []history.Event {
		var b hb.B
		b.Op(0, "n1", "add", "s", 1, 0, 5, history.OK, nil)
		b.Op(1, "n2", "read", "s", nil, 10, 12, history.OK, list(1)) // n2 has seen 1
		if mod != nil {
			mod(&b)
		}
		b.Op(2, "n2", "remove", "s", 1, 20, 25, history.OK, nil)
		b.Nemesis("recover", 100, "", nil)
		b.Op(10, "n1", "read", "s", nil, 110, 111, history.OK, list(1))
		b.Op(11, "n2", "read", "s", nil, 110, 111, history.OK, list(1))
		return b.Events
	}
	r := New().Check(context.Background(), build(nil))
	if r.Verdict != checkers.Invalid || len(r.Anomalies) != 1 || r.Anomalies[0].Kind != Resurrected {
		t.Fatalf("survived an observed remove: %v %+v", r.Verdict, r.Anomalies)
	}
	for name, mod := range map[string]func(b *hb.B){
		// A second add the remover may not have seen may survive.
		"a second add": func(b *hb.B) { b.Op(5, "n3", "add", "s", 1, 14, 16, history.Info, nil) },
		// A restart may have made n2 forget the element.
		"a restart of the remover": func(b *hb.B) {
			b.Nemesis("kill", 14, "n2", nil)
			b.Nemesis("restart", 16, "n2", nil)
		},
	} {
		if r := New().Check(context.Background(), build(mod)); r.Verdict != checkers.Valid {
			t.Errorf("%s: %v %+v", name, r.Verdict, r.Anomalies)
		}
	}
	// An unobserved remove (n3 never read it) may lose to the add.
	var b hb.B
	b.Op(0, "n1", "add", "s", 1, 0, 5, history.OK, nil)
	b.Op(2, "n3", "remove", "s", 1, 20, 25, history.OK, nil)
	b.Nemesis("recover", 100, "", nil)
	b.Op(10, "n1", "read", "s", nil, 110, 111, history.OK, list(1))
	if r := New().Check(context.Background(), b.Events); r.Verdict != checkers.Valid {
		t.Errorf("unobserved remove: %v %+v", r.Verdict, r.Anomalies)
	}
}

// A node that acknowledged an add, or returned the element, and lacks it
// in a later read (no remove, no restart in between) lost it: judged
// mid-run, and without a final phase, so a prefix of the run shows it.
func TestAnElementAReplicaHeldMustNotVanishFromIt(t *testing.T) {
	restartAfter := false
	build := func(mod func(b *hb.B), final bool) []history.Event {
		var b hb.B
		b.Op(0, "n1", "add", "s", 1, 0, 5, history.OK, nil)
		b.Op(1, "n2", "add", "s", 2, 0, 5, history.OK, nil)
		b.Op(2, "n3", "read", "s", nil, 6, 8, history.OK, list(2)) // n3 has 2
		if mod != nil {
			mod(&b)
		}
		b.Op(3, "n1", "read", "s", nil, 20, 22, history.OK, list(2)) // n1 lacks its own 1
		b.Op(4, "n3", "read", "s", nil, 20, 22, history.OK, list(1)) // n3 lacks 2 it returned
		if restartAfter {
			b.Nemesis("restart", 25, "n1,n3", nil)
		}
		if final {
			b.Nemesis("recover", 100, "", nil)
			for i, n := range []string{"n1", "n2", "n3"} {
				b.Op(10+i, n, "read", "s", nil, 110, 111, history.OK, list(1, 2))
			}
		}
		return b.Events
	}
	for _, final := range []bool{true, false} {
		r := New().Check(context.Background(), build(nil, final))
		if r.Verdict != checkers.Invalid || r.Details["vanished"] != 2 || len(r.Anomalies) != 2 {
			t.Fatalf("final phase %v: got %v %v %+v, want invalid with 2 vanished", final, r.Verdict, r.Details, r.Anomalies)
		}
		// Events: 0-1 add 1, 2-3 add 2, 4-5 n3's read of [2], 6-7 n1's
		// read, 8-9 n3's read.
		want := map[string]string{"s: 1 ": "[1 7]", "s: 2 ": "[5 9]"}
		for _, a := range r.Anomalies {
			for prefix, ev := range want {
				if strings.HasPrefix(a.Text, prefix) && (a.Kind != Vanished || fmt.Sprint(a.Events) != ev) {
					t.Errorf("anomaly %+v, want kind vanished with events %s", a, ev)
				}
			}
		}
	}
	for name, mod := range map[string]func(b *hb.B){
		// The restart is recorded after the new process already answered
		// (the harness waits for it to be ready): the kill ends the life.
		"restarts of both nodes": func(b *hb.B) {
			b.Nemesis("kill", 10, "n1,n3", nil)
			restartAfter = true
		},
		"removes of both elements": func(b *hb.B) {
			b.Op(5, "n2", "remove", "s", 1, 10, 30, history.Info, nil)
			b.Op(6, "n2", "remove", "s", 2, 10, 12, history.Fail, nil) // certainly failed: still judged
		},
	} {
		restartAfter = false
		r := New().Check(context.Background(), build(mod, true))
		switch name {
		case "restarts of both nodes":
			if r.Verdict != checkers.Valid || r.Details["vanished"] != 0 {
				t.Errorf("%s: %v %+v", name, r.Verdict, r.Anomalies)
			}
		default:
			if r.Details["vanished"] != 1 || r.Anomalies[0].Kind != Vanished || !strings.HasPrefix(r.Anomalies[0].Text, "s: 2 ") {
				t.Errorf("%s: %v %+v, want only 2 vanished (1's remove may have happened)", name, r.Verdict, r.Anomalies)
			}
		}
	}
	// A read on another node that lacks an element is stale, not vanished;
	// a read begun before the sign completed proves nothing.
	var b hb.B
	b.Op(0, "n1", "add", "s", 1, 0, 5, history.OK, nil)
	b.Op(1, "n2", "read", "s", nil, 10, 12, history.OK, list())
	b.Op(2, "n1", "read", "s", nil, 4, 12, history.OK, list())
	b.Nemesis("recover", 100, "", nil)
	b.Op(10, "n1", "read", "s", nil, 110, 111, history.OK, list(1))
	b.Op(11, "n2", "read", "s", nil, 110, 111, history.OK, list(1))
	if r := New().Check(context.Background(), b.Events); r.Verdict != checkers.Valid || r.Details["stale"] != 1 {
		t.Errorf("stale read on another node: %v %v %+v", r.Verdict, r.Details, r.Anomalies)
	}
}
