package sim_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/sim"
	"github.com/faultline/faultline/suites/catalog"
)

// BenchmarkCorrectMillion runs each correct system through 1,000,000
// simulated client operations under partitions and kills, and fails on
// any anomaly. `make bench-sim` runs it:
//
//	go test -run '^$' -bench CorrectMillion -benchtime 1x -timeout 2h ./sim
func BenchmarkCorrectMillion(b *testing.B) {
	for _, tc := range []struct{ system, workload string }{
		{"raft", "register"}, {"quorum", "register"}, {"gossip", "counter"},
	} {
		b.Run(tc.system, func(b *testing.B) {
			c := sim.DefaultConfig()
			c.System, c.Workload, c.Steps = tc.system, tc.workload, 1_000_000
			c.Concurrency, c.Rate = 10, 300
			for b.Loop() {
				start := time.Now()
				r, err := sim.Run(c)
				if err != nil {
					b.Fatal(err)
				}
				ran := time.Since(start)
				res, err := sim.Judge(context.Background(), r, time.Hour, true)
				if err != nil {
					b.Fatal(err)
				}
				res.Judge()
				if res.Verdict != checkers.Valid {
					b.Fatalf("correct %s: %s (%s)", tc.system, res.Verdict, res.Reason)
				}
				b.ReportMetric(float64(r.Ops), "sim-ops")
				b.ReportMetric(float64(r.Ops)/ran.Seconds(), "sim-ops/s")
				b.ReportMetric(r.SimTime.Seconds()/ran.Seconds(), "sim-s/wall-s")
				b.ReportMetric(float64(r.Faults), "faults")
				b.ReportMetric(time.Since(start).Seconds()-ran.Seconds(), "check-s")
			}
		})
	}
}

// BenchmarkSeedsToFailure searches each catalogued bug's simulation
// scenario from several first seeds (SIM_WINDOWS, default 3: seeds 1…,
// 10001…, 20001…), each within 60 s, and reports the median wall time
// and seeds to the first failure, and how many windows found it.
func BenchmarkSeedsToFailure(b *testing.B) {
	windows := 3
	if v, err := strconv.Atoi(os.Getenv("SIM_WINDOWS")); err == nil && v > 0 {
		windows = v
	}
	for _, bug := range catalog.SimBugs {
		if bug.Unreachable != "" {
			continue
		}
		b.Run(bug.Config.System+"/"+bug.Name, func(b *testing.B) {
			for b.Loop() {
				var secs, seeds []float64
				found := 0
				for w := range windows {
					c := bug.Config
					c.Bugs = []string{bug.Name}
					first := 1 + uint64(w)*10000
					f, err := sim.Search(context.Background(), c, sim.SearchOptions{
						First: first, Seeds: 10000, Deadline: time.Now().Add(60 * time.Second)})
					if err != nil {
						b.Fatal(err)
					}
					if f.Failing != nil {
						found++
						secs = append(secs, f.Wall.Seconds())
						seeds = append(seeds, float64(f.Failing.Result.Config.Seed-first+1))
					}
				}
				b.ReportMetric(float64(found), "found/"+fmt.Sprint(windows))
				b.ReportMetric(median(secs), "median-s")
				b.ReportMetric(median(seeds), "median-seeds")
			}
		})
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}
