package linearizable

import (
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/histgen"
)

// The simulator must produce histories the checker can fault: a valid one,
// and an invalid one after corrupting a single read.
func TestSimulatedHistory(t *testing.T) {
	events := histgen.Registers(7, 5000, 50, 10)
	c := New(Options{})
	res := c.Check(t.Context(), events)
	if res.Verdict != checkers.Valid {
		t.Fatalf("simulated history: %v %s %q", res.Verdict, res.Reason, res.Anomalies)
	}
	info := 0
	for _, e := range events {
		if e.Type == history.Info {
			info++
		}
	}
	if info == 0 {
		t.Errorf("simulated history has no info ops")
	}
	for i := len(events) / 2; i < len(events); i++ {
		if e := &events[i]; e.F == "read" && e.Type == history.OK && e.Value != nil {
			e.Value = 17 // never written: writes and cas stay below 5
			bad := e.Key
			res = c.Check(t.Context(), events)
			if res.Verdict != checkers.Invalid || res.Details["failing_keys"].([]string)[0] != bad {
				t.Fatalf("corrupted read on %s: %v %q", bad, res.Verdict, res.Anomalies)
			}
			return
		}
	}
	t.Fatal("no ok read to corrupt")
}

func BenchmarkCheck100kOps1kKeys(b *testing.B) {
	const ops = 100_000
	events := histgen.Registers(1, ops, 1000, 10)
	c := New(Options{})
	for b.Loop() {
		res := c.Check(b.Context(), events)
		if res.Verdict != checkers.Valid {
			b.Fatalf("verdict %v: %s %q", res.Verdict, res.Reason, res.Anomalies)
		}
		if res.Details["keys_checked"] != 1000 {
			b.Fatalf("details %v", res.Details)
		}
	}
	b.ReportMetric(float64(ops)*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
