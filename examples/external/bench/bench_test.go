// Package bench compares the included Raft store with etcd under the same
// client load on the same machine: 3 nodes each on the process runtime
// (loopback), 32 clients, a phase of writes then a phase of linearizable
// reads, through each system's own faultline client (raft's HTTP client,
// etcd's clientv3). It is a benchmark, not a test: it prints figures.
//
//	make bench-etcd      (or: cd examples/external && go test -run '^$' -bench RaftVsEtcd -benchtime 2000x ./bench)
//
// -benchtime Nx sets the operations per phase.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/cluster/process"
	"github.com/faultline/faultline/examples/external"
	"github.com/faultline/faultline/examples/external/etcd"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/raft"
)

func TestMain(m *testing.M) {
	faultline.RunNodeIfChild() // the raft nodes are this binary
	if _, err := external.EnsureBinary("FAULTLINE_ETCD", "etcd", "etcd"); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

const (
	nodes   = 3
	clients = 32
)

// phase is one phase's figures.
type phase struct {
	ops, failed int
	took        time.Duration
	p50, p99    time.Duration
}

func (p phase) perSec() float64 { return float64(p.ops) / p.took.Seconds() }

func (p phase) String() string {
	return fmt.Sprintf("%8.0f ops/s  p50 %6.2f ms  p99 %7.2f ms  (%d ok, %d failed)",
		p.perSec(), ms(p.p50), ms(p.p99), p.ops, p.failed)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// start starts a 3-node cluster of sys on the process runtime.
func start(b *testing.B, sys systems.System) *cluster.Cluster {
	b.Helper()
	spec := cluster.Spec{
		System: sys.Name(), Nodes: nodes, RunDir: b.TempDir(), Admin: cluster.AdminOf(sys),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if f, ok := sys.(systems.Foreign); ok {
		prog, err := f.Executable()
		if err != nil {
			b.Fatal(err)
		}
		spec.Foreign, spec.Program, spec.Addressing = f, prog, f.Addressing()
	} else {
		exe, err := os.Executable()
		if err != nil {
			b.Fatal(err)
		}
		spec.Command = []string{exe, faultline.NodeArg, "--parent-watch"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := process.Start(ctx, spec)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// run runs n operations made by op(i) over the clients, each client on
// node i%3, and returns the figures.
func run(cl systems.Client, eps []systems.Endpoint, n int, op func(i int) systems.Op) phase {
	var next atomic.Int64
	lat := make([][]time.Duration, clients)
	failed := make([]int, clients)
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			ep := eps[w%len(eps)]
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				s := time.Now()
				c := cl.Invoke(ctx, ep, op(i))
				d := time.Since(s)
				cancel()
				if c.Type != history.OK {
					failed[w]++
					continue
				}
				lat[w] = append(lat[w], d)
			}
		})
	}
	wg.Wait()
	p := phase{took: time.Since(t0)}
	all := slices.Concat(lat...)
	slices.Sort(all)
	p.ops = len(all)
	for _, f := range failed {
		p.failed += f
	}
	if len(all) > 0 {
		p.p50, p.p99 = all[len(all)*50/100], all[min(len(all)-1, len(all)*99/100)]
	}
	return p
}

// BenchmarkRaftVsEtcd runs the same load against both systems and prints
// each phase's throughput, p50 and p99, and etcd's figures relative to
// raft's.
func BenchmarkRaftVsEtcd(b *testing.B) {
	results := map[string][2]phase{}
	for _, sys := range []systems.System{raft.New(), etcd.New()} {
		b.Run(sys.Name(), func(b *testing.B) {
			c := start(b, sys)
			cl, err := sys.NewClient(systems.ClientConfig{Workload: "register", Nodes: c.Nodes()})
			if err != nil {
				b.Fatal(err)
			}
			if cl, ok := cl.(io.Closer); ok {
				defer cl.Close()
			}
			key := func(i int) string { return fmt.Sprintf("k%d", i%256) }
			b.ResetTimer()
			w := run(cl, c.Nodes(), b.N, func(i int) systems.Op {
				return systems.Op{F: history.OpWrite, Key: key(i), Value: i}
			})
			r := run(cl, c.Nodes(), b.N, func(i int) systems.Op { return systems.Op{F: history.OpRead, Key: key(i)} })
			b.StopTimer()
			b.ReportMetric(w.perSec(), "writes/s")
			b.ReportMetric(r.perSec(), "reads/s")
			b.ReportMetric(ms(w.p99), "write-p99-ms")
			b.ReportMetric(ms(r.p99), "read-p99-ms")
			results[sys.Name()] = [2]phase{w, r}
		})
	}
	rf, et := results["raft"], results["etcd"]
	if rf[0].ops == 0 || et[0].ops == 0 {
		return
	}
	b.Logf("\n%d nodes (process runtime, loopback), %d clients, %d ops per phase\n"+
		"raft  writes: %s\nraft  reads:  %s\netcd  writes: %s\netcd  reads:  %s\n"+
		"etcd/raft throughput: writes %.2fx, reads %.2fx",
		nodes, clients, rf[0].ops+rf[0].failed, rf[0], rf[1], et[0], et[1],
		et[0].perSec()/rf[0].perSec(), et[1].perSec()/rf[1].perSec())
}
