package raft

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// BenchmarkCluster measures a 3-node loopback cluster without faults: 32
// concurrent clients sending writes (or reads) to the leader. It reports
// throughput and client-seen latency percentiles.
//
//	go test -run '^$' -bench Cluster -benchtime 20000x ./systems/raft
func BenchmarkCluster(b *testing.B) {
	for _, f := range []history.Func{history.OpWrite, history.OpRead} {
		b.Run(string(f), func(b *testing.B) {
			const clients, keys = 32, 1000
			c := newTestCluster(b, 3, defaultNodeOptions())
			lead := c.leader()
			ep := c.eps[lead-1]
			if f == "read" {
				for k := range keys {
					c.mustOK(lead, systems.Op{F: "write", Key: fmt.Sprintf("b%d", k), Value: k})
				}
			}
			var next, failed atomic.Int64
			lat := make([][]time.Duration, clients)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := range clients {
				wg.Go(func() {
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						op := systems.Op{F: f, Key: fmt.Sprintf("b%d", i%keys)}
						if f == "write" {
							op.Value = i
						}
						t0 := time.Now()
						ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
						comp := c.client.Invoke(ctx, ep, op)
						cancel()
						lat[w] = append(lat[w], time.Since(t0))
						if comp.Type != history.OK {
							failed.Add(1)
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			pct := func(p float64) float64 {
				return float64(all[min(len(all)-1, int(p*float64(len(all))))]) / float64(time.Millisecond)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(failed.Load()), "not-ok")
		})
	}
}
