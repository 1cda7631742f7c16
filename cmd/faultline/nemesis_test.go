package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/cluster/process"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/registry"
)

// Process and clock faults against real nodes of the included systems
// (this test binary runs them as `faultline node`). Network faults are
// tested against the mesh in cluster/process.

type realCluster struct {
	*cluster.Cluster
	t      *testing.T
	ctx    context.Context
	client systems.Client
}

func startReal(t *testing.T, system, storage string, bugs ...string) *realCluster {
	t.Helper()
	t.Setenv("FAULTLINE_AS_CLI", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	c, err := process.Start(ctx, cluster.Spec{
		System: system, Nodes: 3, Bugs: bugs, Storage: storage, RunDir: t.TempDir(),
		Command: []string{os.Args[0], "node", "--parent-watch"},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sys, err := registry.Default().Get(system)
	if err != nil {
		t.Fatal(err)
	}
	client, err := sys.NewClient(systems.ClientConfig{Workload: "register", Nodes: c.Nodes()})
	if err != nil {
		t.Fatal(err)
	}
	return &realCluster{Cluster: c, t: t, ctx: ctx, client: client}
}

// op runs op on any node until it is OK (the cluster may be electing).
func (r *realCluster) op(op systems.Op) any {
	r.t.Helper()
	for attempt := 0; ; attempt++ {
		octx, cancel := context.WithTimeout(r.ctx, 2*time.Second)
		res := r.client.Invoke(octx, r.Nodes()[attempt%3], op)
		cancel()
		if res.Type == history.OK {
			return res.Value
		}
		if r.ctx.Err() != nil {
			r.t.Fatalf("out of time for %s %s", op.F, op.Key)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *realCluster) status(id int) (systems.Status, error) {
	sctx, cancel := context.WithTimeout(r.ctx, 500*time.Millisecond)
	defer cancel()
	return r.Status(sctx, id)
}

func TestPauseFreezesANodeUntilResume(t *testing.T) {
	r := startReal(t, "quorum", "")
	pause := &nemesis.Process{Action: "pause", Targets: []string{"one"}}
	a, err := pause.Start(r.ctx, r, nemesis.Choice{Target: "one", Nodes: []int{2}})
	if err != nil || a.Node != "n2" {
		t.Fatalf("pause: %q, %v", a.Node, err)
	}
	if _, err := r.status(2); err == nil {
		t.Fatal("paused n2 still answers its admin endpoint")
	}
	if _, err := r.status(1); err != nil {
		t.Fatalf("n1 was not paused but does not answer: %v", err)
	}
	r.op(systems.Op{F: "write", Key: "k", Value: 1}) // a majority is up
	if _, err := pause.Stop(r.ctx, r); err != nil {
		t.Fatal(err)
	}
	if st, err := r.status(2); err != nil || !st.Ready {
		t.Fatalf("after resume n2 says %+v, %v", st, err)
	}
}

func TestKillTakesNodesDownAndRestartBringsThemBack(t *testing.T) {
	r := startReal(t, "quorum", "")
	kill := &nemesis.Process{Action: "kill", Targets: []string{"minority"}}
	r.op(systems.Op{F: "write", Key: "k", Value: 7})
	if _, err := kill.Start(r.ctx, r, nemesis.Choice{Target: "minority", Nodes: []int{3}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := process.PID(r.Cluster, 3); ok {
		t.Fatal("killed n3 still runs")
	}
	if _, err := r.status(3); err == nil {
		t.Fatal("killed n3 still answers")
	}
	if _, err := kill.Stop(r.ctx, r); err != nil {
		t.Fatal(err)
	}
	if st, err := r.status(3); err != nil || !st.Ready {
		t.Fatalf("restarted n3 says %+v, %v", st, err)
	}
	if got := r.op(systems.Op{F: "read", Key: "k"}); history.ValueKey(got) != history.ValueKey(7) {
		t.Fatalf("read %v after the restart, want 7", got)
	}
}

func TestClockFaultsShowInTheNodesStatusAndStopResetsThem(t *testing.T) {
	r := startReal(t, "quorum", "")
	bump := &nemesis.Clock{Kinds: []string{"bump"}}
	if _, err := bump.Start(r.ctx, r, nemesis.Choice{Kind: "bump", Nodes: []int{1}, Offsets: map[int]int64{1: -90_000}}); err != nil {
		t.Fatal(err)
	}
	if st, err := r.status(1); err != nil || time.Duration(st.ClockOffsetNS) != -90*time.Second {
		t.Fatalf("after clock-bump of -90s n1 reports offset %s (%v)", time.Duration(st.ClockOffsetNS), err)
	}
	if st, _ := r.status(2); st.ClockOffsetNS != 0 {
		t.Fatalf("n2 was not bumped but reports offset %s", time.Duration(st.ClockOffsetNS))
	}
	if _, err := bump.Stop(r.ctx, r); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.status(1); st.ClockOffsetNS != 0 {
		t.Fatalf("after stop n1 still reports offset %s", time.Duration(st.ClockOffsetNS))
	}

	strobe := &nemesis.Clock{Kinds: []string{"strobe"}}
	ch := nemesis.Choice{Kind: "strobe", Nodes: []int{2}, Offsets: map[int]int64{2: 60_000}, Params: map[string]int64{"period_ms": 40, "duration_ms": 5000}}
	if _, err := strobe.Start(r.ctx, r, ch); err != nil {
		t.Fatal(err)
	}
	seen := map[time.Duration]bool{}
	for i := 0; i < 100 && len(seen) < 2; i++ {
		if st, err := r.status(2); err == nil {
			seen[time.Duration(st.ClockOffsetNS)] = true
		}
		time.Sleep(15 * time.Millisecond)
	}
	if !seen[0] || !seen[time.Minute] || len(seen) != 2 {
		t.Fatalf("strobing n2 between 0 and 1m, its status showed %v", seen)
	}
	if _, err := strobe.Stop(r.ctx, r); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // longer than a flip: none may follow Stop
	if st, _ := r.status(2); st.ClockOffsetNS != 0 {
		t.Fatalf("after stopping the strobe n2 reports offset %s", time.Duration(st.ClockOffsetNS))
	}
}

// lostAfter writes n keys, applies fault to every node, undoes it and
// counts the acknowledged writes that no longer read back.
func lostAfter(t *testing.T, r *realCluster, fault nemesis.Fault, n int) int {
	t.Helper()
	for i := range n {
		r.op(systems.Op{F: "write", Key: fmt.Sprintf("k%d", i), Value: i})
	}
	if _, err := fault.Start(r.ctx, r, nemesis.Choice{Target: "all", Nodes: []int{1, 2, 3}}); err != nil {
		t.Fatal(err)
	}
	for id := 1; id <= 3; id++ {
		if _, ok := process.PID(r.Cluster, id); ok {
			t.Fatalf("n%d survived %s", id, fault.Name())
		}
	}
	if _, err := fault.Stop(r.ctx, r); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for i := range n {
		if got := r.op(systems.Op{F: "read", Key: fmt.Sprintf("k%d", i)}); history.ValueKey(got) != history.ValueKey(i) {
			lost++
		}
	}
	return lost
}

func TestPowerLossLosesWhatWasNotFsyncedAndNothingElse(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping three raft clusters through a power loss")
	}
	powerLoss := func() nemesis.Fault { return &nemesis.Process{Action: "power-loss", Targets: []string{"all"}} }
	// Acks before fsync, lazy storage: the power cut takes the writes.
	r := startReal(t, "raft", systems.StorageLazy, "ack-before-fsync")
	if lost := lostAfter(t, r, powerLoss(), 20); lost == 0 {
		t.Fatal("ack-before-fsync with lazy storage lost no acknowledged write to a power loss of every node")
	} else {
		t.Logf("ack-before-fsync, lazy storage, power loss of all nodes: %d of 20 acknowledged writes gone", lost)
	}
	// The same bug with durable storage: a SIGKILL leaves the OS holding
	// the writes, which is why a plain kill cannot show the bug.
	r = startReal(t, "raft", systems.StorageDurable, "ack-before-fsync")
	if lost := lostAfter(t, r, &nemesis.Process{Action: "kill", Targets: []string{"all"}}, 20); lost != 0 {
		t.Fatalf("durable storage lost %d writes to SIGKILL: the OS should have kept them", lost)
	}
	// Correct raft fsyncs before acknowledging: nothing lost.
	r = startReal(t, "raft", systems.StorageLazy)
	if lost := lostAfter(t, r, powerLoss(), 20); lost != 0 {
		t.Fatalf("correct raft lost %d acknowledged writes to a power loss", lost)
	}
}

func TestQuorumLosesNothingAcknowledgedToPowerLoss(t *testing.T) {
	r := startReal(t, "quorum", systems.StorageLazy)
	if lost := lostAfter(t, r, &nemesis.Process{Action: "power-loss", Targets: []string{"all"}}, 20); lost != 0 {
		t.Fatalf("quorum lost %d acknowledged writes to a power loss of every node", lost)
	}
}

// TestQuietRunUnderEveryLinkToxicPrintsOnlyTheVerdict guards against
// Toxiproxy's own logging (its bandwidth toxic logs through zerolog's
// global logger) reaching the terminal.
func TestQuietRunUnderEveryLinkToxicPrintsOnlyTheVerdict(t *testing.T) {
	results := t.TempDir()
	r := cli(t, 2*time.Minute, nil, "run", "--system", "quorum", "--nodes", "3", "--time-limit", "6s",
		"--nemesis", "link-bandwidth,link-slicer,link-reset", "--nemesis-interval", "1s", "--seed", "2", "--results", results, "-q")
	if r.code != 0 {
		t.Fatalf("run exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, tail(r.stderr, 30))
	}
	if strings.Contains(r.stderr, "Toxic") || strings.Contains(r.stderr, `"level":"trace"`) {
		t.Fatalf("a quiet run printed Toxiproxy's log:\n%s", tail(r.stderr, 10))
	}
	hist, _ := os.ReadFile(filepath.Join(results, "latest", "history.jsonl"))
	if !strings.Contains(string(hist), `"toxic":"bandwidth"`) {
		t.Fatal("the run never put the bandwidth toxic on a link")
	}
}
