package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/cluster/inmem"
	"github.com/faultline/faultline/systems"
)

// The core's rules over the in-memory driver: what it asks the driver, in
// which order, and what it answers. cluster/process and cluster/docker
// test the same rules against real processes and containers.

func spec(t *testing.T, d *inmem.Driver, nodes int) cluster.Spec {
	return cluster.Spec{System: "fake", Nodes: nodes, RunDir: t.TempDir(), Admin: d.Admin()}
}

func start(t *testing.T, d *inmem.Driver, nodes int) *cluster.Cluster {
	t.Helper()
	c, err := cluster.Start(context.Background(), spec(t, d, nodes), d)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// since returns the driver's events after the first n.
func since(d *inmem.Driver, n int) []string { return d.Events()[n:] }

func TestNoOpRules(t *testing.T) {
	d := inmem.New(nil)
	c := start(t, d, 3)
	ctx := context.Background()
	got := d.Events() // nodes start at once, in any order
	slices.Sort(got)
	if !slices.Equal(got, []string{"spawn n1", "spawn n2", "spawn n3"}) {
		t.Fatalf("start: driver saw %q", got)
	}
	steps := []struct {
		do   func() error
		want []string // what the driver sees
	}{
		{func() error { return c.Kill(ctx, 2) }, []string{"kill n2"}},
		{func() error { return c.Kill(ctx, 2) }, nil},   // killing a dead node: no-op
		{func() error { return c.Resume(ctx, 2) }, nil}, // resuming a dead node: no-op
		{func() error { return c.Start(ctx, 2) }, []string{"spawn n2"}},
		{func() error { return c.Start(ctx, 2) }, nil},  // starting a running node: no-op
		{func() error { return c.Resume(ctx, 3) }, nil}, // resuming a running node: no-op
		{func() error { return c.Pause(ctx, 3) }, []string{"stop n3"}},
		{func() error { return c.Pause(ctx, 3) }, nil}, // pausing a paused node: no-op
		{func() error { return c.Resume(ctx, 3) }, []string{"cont n3"}},
		{func() error { return c.Pause(ctx, 1) }, []string{"stop n1"}},
		{func() error { return c.Kill(ctx, 1) }, []string{"kill n1"}}, // a paused node can be killed
		{func() error { return c.Resume(ctx, 1) }, nil},               // and is no longer paused
		{func() error { return c.Start(ctx, 1) }, []string{"spawn n1"}},
	}
	for i, s := range steps {
		n := len(d.Events())
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := since(d, n); !slices.Equal(got, s.want) {
			t.Fatalf("step %d: driver saw %q, want %q", i, got, s.want)
		}
	}
	if err := c.Kill(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.Pause(ctx, 2); !errors.Is(err, cluster.ErrNotRunning) || !strings.Contains(err.Error(), "pause n2") {
		t.Fatalf("Pause of a killed node: %v, want pause n2: not running", err)
	}
	if err := c.Kill(ctx, 9); err == nil || !strings.Contains(err.Error(), "no node 9 (nodes are 1..3)") {
		t.Fatalf("Kill of node 9: %v", err)
	}
}

func TestStatusClockAndHandles(t *testing.T) {
	d := inmem.New(nil)
	c := start(t, d, 2)
	ctx := context.Background()
	eps := c.Nodes()
	if len(eps) != 2 || eps[1] != (systems.Endpoint{ID: 2, Name: "n2", Client: "n2:client", Admin: "n2:admin"}) {
		t.Fatalf("Nodes() = %+v", eps)
	}
	if err := c.SetClock(ctx, 2, time.Minute); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Status(ctx, 2); err != nil || !st.Ready || st.ClockOffsetNS != int64(time.Minute) {
		t.Fatalf("Status(2) = %+v, %v", st, err)
	}
	if _, ok := c.Handle(2); !ok {
		t.Fatal("no handle for a running node")
	}
	if err := c.Pause(ctx, 2); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := c.Status(short, 2); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "status of n2") {
		t.Fatalf("Status of a paused node: %v, want a deadline error naming n2", err)
	}
	if err := c.Kill(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Handle(2); ok {
		t.Fatal("a handle for a killed node")
	}
}

func TestAKillOutlivesItsCaller(t *testing.T) {
	d := inmem.New(nil)
	c := start(t, d, 1)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Kill(gone, 1); err != nil {
		t.Fatalf("Kill with an ended context: %v", err)
	}
	if d.Running(1) {
		t.Fatal("n1 runs after Kill returned")
	}
}

func TestCloseStopsEverythingOnce(t *testing.T) {
	d := inmem.New(nil)
	c := start(t, d, 3)
	ctx := context.Background()
	if err := c.Pause(ctx, 2); err != nil { // Close must take paused nodes too
		t.Fatal(err)
	}
	n := len(d.Events())
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	got := since(d, n)
	if len(got) != 4 || got[3] != "close" {
		t.Fatalf("Close: driver saw %q, want three kills, then close", got)
	}
	slices.Sort(got[:3])
	if !slices.Equal(got[:3], []string{"kill n1", "kill n2", "kill n3"}) {
		t.Fatalf("Close killed %q", got[:3])
	}
	for id := 1; id <= 3; id++ {
		if d.Running(id) {
			t.Errorf("n%d runs after Close", id)
		}
	}
	if err := c.Close(); err != nil || len(since(d, n)) != 4 {
		t.Fatalf("second Close: %v, driver saw %q", err, since(d, n))
	}
	if err := c.Start(ctx, 1); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Start after Close: %v", err)
	}
	if _, err := c.LinkFaults(ctx); err == nil {
		t.Fatal("the mesh answers after Close")
	}
}

func TestLinksGoThroughTheDriversMesh(t *testing.T) {
	d := inmem.New(nil)
	c := start(t, d, 3)
	ctx := context.Background()
	if err := c.Partition(ctx, cluster.Grudge{2: {1}}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetLinkToxic(ctx, 1, 3, cluster.Toxic{Name: "slow", Type: "latency"}); err != nil {
		t.Fatal(err)
	}
	faults, err := c.LinkFaults(ctx)
	if want := []string{"partition n1->n2", "toxic slow n1->n3"}; err != nil || !slices.Equal(faults, want) {
		t.Fatalf("LinkFaults = %q, %v; want %q", faults, err, want)
	}
	if d.Mesh().Hears(2, 1) || !d.Mesh().Hears(1, 2) {
		t.Fatal("the grudge did not reach the mesh one-way")
	}
	if err := c.RemoveLinkToxic(ctx, 1, 3, "slow"); err != nil {
		t.Fatal(err)
	}
	if err := c.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	if faults, _ := c.LinkFaults(ctx); len(faults) != 0 {
		t.Fatalf("after Heal: %q", faults)
	}
}

// notReady says node fail is never ready; the others answer as inmem's.
type notReady struct {
	cluster.Admin
	fail int
}

func (a notReady) Status(ctx context.Context, ep systems.Endpoint) (systems.Status, error) {
	if ep.ID == a.fail {
		return systems.Status{Node: ep.Name}, nil
	}
	return a.Admin.Status(ctx, ep)
}

func TestAFailedStartQuotesTheLogAndClosesEverything(t *testing.T) {
	d := inmem.New(func(ctx context.Context, cfg systems.NodeConfig) error {
		if cfg.ID == 2 {
			for i := 1; i <= 30; i++ {
				cfg.Logger.Info(fmt.Sprintf("boom #%02d", i))
			}
			return errors.New("cannot start")
		}
		<-ctx.Done()
		return nil
	})
	s := spec(t, d, 3)
	s.Admin = notReady{d.Admin(), 2}
	_, err := cluster.Start(context.Background(), s, d)
	if err == nil {
		t.Fatal("Start succeeded although n2 fails")
	}
	for _, want := range []string{"inmem runtime: cluster did not come up", "n2 exited before it was ready (failed: cannot start)", "boom #30", "boom #11"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "boom #10") {
		t.Errorf("error quotes more than the last %d lines:\n%v", cluster.LogTailLines, err)
	}
	if ev := d.Events(); !d.Closed() || ev[len(ev)-1] != "close" {
		t.Fatalf("after a failed start the driver saw %q", ev)
	}
	for id := 1; id <= 3; id++ {
		if d.Running(id) {
			t.Errorf("n%d runs after a failed start", id)
		}
	}
	log, _ := os.ReadFile(filepath.Join(s.RunDir, "nodes", "n2.log"))
	if !strings.HasPrefix(string(log), "--- faultline: starting n2 at ") || !strings.Contains(string(log), ": inmem-node --system fake --id 2 ") {
		t.Fatalf("n2.log does not start with the start line and the command line:\n%s", log)
	}
}

func TestTheReadinessWaitIsBounded(t *testing.T) {
	d := inmem.New(nil)
	s := spec(t, d, 1)
	s.Admin = notReady{d.Admin(), 1}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := cluster.Start(ctx, s, d)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "n1 not ready") || !strings.Contains(err.Error(), "status says not ready") {
		t.Fatalf("Start of a node that never gets ready: %v", err)
	}
	if d.Running(1) || !d.Closed() {
		t.Fatal("a node that never got ready was left running")
	}
}

func TestBadSpecs(t *testing.T) {
	for _, s := range []cluster.Spec{{Nodes: 0, RunDir: t.TempDir()}, {Nodes: 1}} {
		d := inmem.New(nil)
		if c, err := cluster.Start(context.Background(), s, d); err == nil {
			c.Close()
			t.Errorf("Start(%+v) should fail", s)
		}
		if len(d.Events()) != 0 {
			t.Errorf("Start(%+v) reached the driver: %q", s, d.Events())
		}
	}
}

// A listener that accepts and closes at once (Docker's published port
// with nothing behind it) is not ready; one that keeps the connection
// open, or speaks first, is.
func TestTCPProbeWantsTheConnectionKeptOpen(t *testing.T) {
	serve := func(handle func(net.Conn)) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go handle(c)
			}
		}()
		return l.Addr().String()
	}
	closer := serve(func(c net.Conn) { c.Close() })
	silent := serve(func(c net.Conn) { time.Sleep(time.Second); c.Close() })
	talker := serve(func(c net.Conn) { c.Write([]byte("INFO {}\r\n")); time.Sleep(time.Second); c.Close() })
	for addr, want := range map[string]bool{closer: false, silent: true, talker: true} {
		st, err := cluster.TCPProbe{}.Status(context.Background(), systems.Endpoint{Name: "n1", Client: addr})
		if st.Ready != want || (err == nil) != want {
			t.Errorf("%s: ready %v (%v), want %v", addr, st.Ready, err, want)
		}
	}
	if _, err := (cluster.TCPProbe{}).Status(context.Background(), systems.Endpoint{Name: "n1", Client: "127.0.0.1:1"}); err == nil {
		t.Errorf("a refused connection is ready")
	}
}
