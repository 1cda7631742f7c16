package report

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/linearizable"
	"github.com/faultline/faultline/outcome"
)

// BenchmarkWriteReport100k writes the report of a 100,000-operation
// history (10 minutes at ~170 ops/s, faults every 10 s, two failing keys to
// explain) and reports the page's size. Targets: under 3 s and 15 MB.
func BenchmarkWriteReport100k(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "run")
	events := synth{Ops: 100_000, Workers: 10, Rate: 170, Interval: 10, Seed: 3}.events()
	// The verdict as the linearizable checker gives it for the planted
	// anomalies; checking 100k operations is the checker's benchmark, not
	// this one.
	res := outcome.Result{Verdict: checkers.Invalid, Reason: "anomalies found", Checkers: checkers.Results{
		"linearizable": {Verdict: checkers.Invalid, Reason: "2 keys have no linearization",
			Anomalies: []checkers.Anomaly{
				{Checker: "linearizable", Kind: linearizable.NotLinearizable, Key: "stale", Text: `key "stale": no linearization of 3 operations`},
				{Checker: "linearizable", Kind: linearizable.NotLinearizable, Key: evilKey, Text: `key "` + evilKey + `": no linearization of 1 operation`}},
			Details: map[string]any{"failing_keys": []any{"stale", evilKey}}},
	}}
	writeRunDir(b, dir, events, res)
	ops := 0
	for _, e := range events {
		if e.Process >= 0 && e.Type == "invoke" {
			ops++
		}
	}
	b.ResetTimer()
	var size int64
	for b.Loop() {
		path, err := Write(context.Background(), Input{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		size = fi.Size()
	}
	b.ReportMetric(float64(size)/1e6, "MB")
	b.ReportMetric(float64(ops), "ops")
}
