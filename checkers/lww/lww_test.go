package lww

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/internal/hb"
	"github.com/faultline/faultline/history"
)

func TestSettlingOnAValueAWriterHadSeenIsALostWrite(t *testing.T) {
	var b hb.B
	b.Op(0, "n1", "write", "r", 1, 0, 5, history.OK, nil)
	b.Op(1, "n2", "read", "r", nil, 10, 12, history.OK, 1)  // n2 sees 1 ...
	b.Op(2, "n2", "write", "r", 2, 20, 25, history.OK, nil) // ... then writes 2
	b.Nemesis("recover", 100, "", nil)
	b.Op(3, "n1", "read", "r", nil, 110, 111, history.OK, 1)
	b.Op(4, "n2", "read", "r", nil, 110, 111, history.OK, 1)
	r := New().Check(context.Background(), b.Events)
	if r.Verdict != checkers.Invalid || r.Details["superseded_finals"] != 1 {
		t.Fatalf("got %v %v %v", r.Verdict, r.Details, r.Anomalies)
	}
	// Events: 0-1 write 1, 2-3 n2's read of 1, 4-5 n2's write 2, 6-7
	// recover, 9 n1's final read.
	a := r.Anomalies[0]
	if a.Kind != LostWrite || a.Key != "r" || fmt.Sprint(a.Events) != "[9 5 3]" ||
		!strings.Contains(a.Text, "settled on 1 (n1's final read, event 9)") || !strings.Contains(a.Text, "2 by n2 (event 5; had read it at event 3)") {
		t.Fatalf("anomaly %+v, want the final read, the superseding write and the read that showed its node 1", a)
	}
}

func TestConcurrentWritesMaySettleEitherWay(t *testing.T) {
	var b hb.B
	b.Op(0, "n1", "write", "r", 1, 0, 5, history.OK, nil)
	b.Op(1, "n2", "write", "r", 2, 10, 15, history.OK, nil) // n2 never saw 1
	b.Op(2, "n2", "read", "r", nil, 20, 21, history.OK, 1)  // seen after its write
	b.Nemesis("recover", 100, "", nil)
	b.Op(3, "n1", "read", "r", nil, 110, 111, history.OK, 1)
	b.Op(4, "n2", "read", "r", nil, 110, 111, history.OK, 1)
	if r := New().Check(context.Background(), b.Events); r.Verdict != checkers.Valid {
		t.Fatalf("got %v %v", r.Verdict, r.Anomalies)
	}
}

func TestARestartBetweenReadAndWriteBreaksTheCausalLink(t *testing.T) {
	var b hb.B
	b.Op(0, "n1", "write", "r", 1, 0, 5, history.OK, nil)
	b.Op(1, "n2", "read", "r", nil, 10, 12, history.OK, 1)
	b.Nemesis("kill", 14, "n2", nil)
	b.Nemesis("restart", 16, "n2", nil)
	b.Op(2, "n2", "write", "r", 2, 20, 25, history.OK, nil)
	b.Nemesis("recover", 100, "", nil)
	b.Op(3, "n1", "read", "r", nil, 110, 111, history.OK, 1)
	if r := New().Check(context.Background(), b.Events); r.Verdict != checkers.Valid {
		t.Fatalf("got %v %v", r.Verdict, r.Anomalies)
	}
}

// A register settles on a value some write may have left: one no write
// carried, one whose every write failed, or nothing after an acknowledged
// write, is an anomaly of its own kind. Written from the definition of an
// LWW register: its value is the value of some write that may have taken
// effect, and once a write took effect the register is never empty.
func TestSettlingOnWhatNoClientCouldHaveLeft(t *testing.T) {
	for _, c := range []struct {
		name  string
		final any
		extra func(b *hb.B)
		want  checkers.Kind
	}{
		{"a value nobody wrote", 99, nil, UnwrittenValue},
		{"the value of a failed write", 7, func(b *hb.B) { b.Op(5, "n2", "write", "r", 7, 20, 25, history.Fail, nil) }, FailedWriteValue},
		{"nothing after an acknowledged write", nil, nil, EmptyAfterWrite},
		{"the value of an unknown write", 7, func(b *hb.B) { b.Op(5, "n2", "write", "r", 7, 20, 25, history.Info, nil) }, ""},
		{"the acknowledged value, written 1.0 read 1", json1(), nil, ""},
	} {
		var b hb.B
		b.Op(0, "n1", "write", "r", 1, 0, 5, history.OK, nil)
		if c.extra != nil {
			c.extra(&b)
		}
		b.Nemesis("recover", 100, "", nil)
		b.Op(3, "n1", "read", "r", nil, 110, 111, history.OK, c.final)
		b.Op(4, "n2", "read", "r", nil, 110, 111, history.OK, c.final)
		r := New().Check(context.Background(), b.Events)
		if c.want == "" {
			if r.Verdict != checkers.Valid {
				t.Errorf("%s: %v %v", c.name, r.Verdict, r.Anomalies)
			}
			continue
		}
		if r.Verdict != checkers.Invalid || len(r.Anomalies) != 1 || r.Anomalies[0].Kind != c.want {
			t.Errorf("%s: %v %+v, want one %s anomaly (reported once per value, not per node)", c.name, r.Verdict, r.Anomalies, c.want)
		}
	}
	// A key never acknowledged may settle empty.
	var b hb.B
	b.Op(0, "n1", "write", "r", 1, 0, 5, history.Info, nil)
	b.Nemesis("recover", 100, "", nil)
	b.Op(3, "n1", "read", "r", nil, 110, 111, history.OK, nil)
	if r := New().Check(context.Background(), b.Events); r.Verdict != checkers.Valid {
		t.Errorf("empty after an unknown write: %v %v", r.Verdict, r.Anomalies)
	}
}

func json1() any { return json.Number("1.0") }
