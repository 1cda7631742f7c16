package membership

import (
	"context"
	"fmt"
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/internal/hb"
)

func all(s string) map[string]string { return map[string]string{"n1": s, "n2": s, "n3": s} }

func with(n, s string) map[string]string {
	v := all("alive")
	v[n] = s
	return v
}

func TestDetectionTimeRunsFromKillToTheLastLiveViewer(t *testing.T) {
	var b hb.B
	for _, n := range []string{"n1", "n2", "n3"} {
		b.View(n, 0, all("alive"))
	}
	b.Nemesis("kill", 1000, "n3", []any{"n3"})
	b.View("n1", 2000, with("n3", "suspect"))
	b.View("n1", 3500, with("n3", "dead"))
	b.View("n2", 4200, with("n3", "dead"))
	b.Nemesis("restart", 6000, "n3", []any{"n3"})
	b.Nemesis("kill", 7000, "n2", []any{"n2"})
	b.Nemesis("restart", 7500, "n2", []any{"n2"}) // back before anyone noticed
	r := New(Options{}).Check(context.Background(), b.Events)
	if r.Verdict != checkers.Valid || r.Details["detected"] != 1 || r.Details["undetected"] != 1 {
		t.Fatalf("got %v %v", r.Verdict, r.Details)
	}
	if d := r.Details["detection_ms"].(map[string]float64)["max"]; d != 3200 {
		t.Fatalf("detection %vms, want 3200 (kill at 1s, n2 last at 4.2s)", d)
	}
	if r.Details["false_suspicions"] != 0 {
		t.Fatalf("false suspicions %v, want 0", r.Details["false_suspicions"])
	}
	// The second kill is events 10-11, its restart 12-13.
	if len(r.Notes) != 1 || r.Notes[0].Kind != Undetected || fmt.Sprint(r.Notes[0].Events) != "[11 13]" {
		t.Fatalf("notes %+v, want the undetected kill of n2 and its restart", r.Notes)
	}
}

func TestSuspicionOfALiveNodeIsFalseOnlyOutsideNetworkFaults(t *testing.T) {
	var b hb.B
	b.View("n1", 0, all("alive"))
	b.View("n1", 1000, with("n2", "suspect")) // nothing wrong: false
	b.View("n1", 1500, all("alive"))
	b.Nemesis("start-partition", 2000, "", nil)
	b.View("n1", 3000, with("n2", "dead")) // partitioned: expected
	b.Nemesis("stop-partition", 4000, "", nil)
	b.View("n1", 4500, all("alive"))
	b.View("n1", 20000, with("n3", "suspect")) // long after: false
	r := New(Options{}).Check(context.Background(), b.Events)
	if r.Details["false_suspicions"] != 2 || r.Details["suspicions_during_network_faults"] != 1 {
		t.Fatalf("got %v", r.Details)
	}
	if len(r.Notes) != 2 || r.Notes[0].Kind != FalseSuspicion || fmt.Sprint(r.Notes[0].Events, r.Notes[1].Events) != "[1] [9]" {
		t.Fatalf("notes %+v, want the two false suspicions (events 1 and 9)", r.Notes)
	}
}

func TestNoObservationsIsUnknown(t *testing.T) {
	var b hb.B
	b.Nemesis("kill", 1000, "n3", nil)
	if r := New(Options{}).Check(context.Background(), b.Events); r.Verdict != checkers.Unknown {
		t.Fatalf("got %v, want unknown", r.Verdict)
	}
}
