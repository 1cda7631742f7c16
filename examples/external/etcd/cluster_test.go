package etcd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/cluster/docker"
	"github.com/faultline/faultline/examples/external"
	"github.com/faultline/faultline/systems"
)

func TestMain(m *testing.M) {
	// Build etcd once for every test here (a copy from the cache when it
	// was built before).
	if _, err := external.EnsureBinary("FAULTLINE_ETCD", "etcd", "etcd"); err != nil {
		fmt.Fprintln(os.Stderr, "etcd tests:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// needEngine skips a test when no Docker engine can be had; CI starts one
// (.ci/run), so there these tests run.
func needEngine(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := docker.Available(ctx); err != nil {
		t.Skipf("skipping: needs a Docker engine: %v", err)
	}
}

// startCluster starts an n-member etcd cluster on the docker runtime,
// closed when the test ends.
func startCluster(t *testing.T, n int) *cluster.Cluster {
	t.Helper()
	needEngine(t)
	sys := New()
	prog, err := sys.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := docker.Start(ctx, cluster.Spec{
		System: sys.Name(), Nodes: n, RunDir: t.TempDir(),
		Foreign: sys, Program: prog, Addressing: sys.Addressing(),
		Admin:  cluster.AdminOf(sys),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c
}

// raftIndex is a member's own raft index (maintenance Status, answered
// by the member alone, so also when it is cut off).
func raftIndex(t *testing.T, ep systems.Endpoint) uint64 {
	t.Helper()
	cl, err := clientv3.New(clientv3.Config{Endpoints: []string{ep.Client}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	st, err := cl.Status(ctx, ep.Client)
	if err != nil {
		t.Fatalf("status of %s: %v", ep.Name, err)
	}
	return st.RaftIndex
}

// TestPartitionedMemberStopsReceivingAppends: with the sidecar mesh, a
// partition really cuts etcd's peer links, which dial one advertised URL
// per member: an isolated member's raft index stands still while the
// others commit writes, and catches up once healed. A one-way grudge is
// one-way: a member that only stops hearing the others still gets
// nothing new either (appends come from the leader), which the second
// half checks the other way round: the majority keeps committing when
// only the leader's link into n3 is cut.
func TestPartitionedMemberStopsReceivingAppends(t *testing.T) {
	c := startCluster(t, 3)
	eps := c.Nodes()
	cl, err := newClient(false).conns.get(eps[0].Client)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wrote := make(chan int, 1)
	go func() { // a steady stream of writes through n1 (or whoever is reachable)
		i := 0
		defer func() { wrote <- i }()
		for ctx.Err() == nil {
			wctx, wcancel := context.WithTimeout(ctx, time.Second)
			if _, err := cl.Put(wctx, "k", fmt.Sprint(i)); err == nil {
				i++
			}
			wcancel()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	if err := c.Partition(ctx, cluster.Grudge{3: {1, 2}, 1: {3}, 2: {3}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // whatever was in flight lands
	cut1, majority1 := raftIndex(t, eps[2]), raftIndex(t, eps[0])
	time.Sleep(3 * time.Second)
	cut2, majority2 := raftIndex(t, eps[2]), raftIndex(t, eps[0])
	if cut2 != cut1 {
		t.Errorf("n3 is cut off but its raft index moved %d -> %d", cut1, cut2)
	}
	if majority2 <= majority1+10 {
		t.Errorf("the majority should keep committing writes: n1's raft index %d -> %d", majority1, majority2)
	}
	if err := c.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for raftIndex(t, eps[2]) <= majority2 {
		if time.Now().After(deadline) {
			t.Fatalf("n3 did not catch up after the heal: index %d, n1 was at %d", raftIndex(t, eps[2]), majority2)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cancel()
	if n := <-wrote; n == 0 {
		t.Fatal("no write succeeded")
	}
}
