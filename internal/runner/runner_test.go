package runner

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/outcome"
)

// The runner over the in-memory driver (cluster/inmem) and an in-memory
// system (memsystem_test.go): whole runs, with faults, in milliseconds.

// memTest is a short run of the mem system: 3 nodes, 150
// milliseconds of a register workload at a modest rate.
func memTest(t *testing.T, faults ...string) Test {
	tt := DefaultTest()
	tt.System, tt.Nodes, tt.Nemesis = "mem", 3, faults
	tt.TimeLimit, tt.Concurrency, tt.Rate = Duration(150*time.Millisecond), 4, 400
	tt.OpTimeout, tt.RecoveryTimeout, tt.CheckTimeout = Duration(100*time.Millisecond), Duration(2*time.Second), Duration(10*time.Second)
	tt.NemesisInterval = Duration(time.Second)
	tt.ResultsDir = t.TempDir()
	return tt
}

// runMem runs tt on a fresh mem system over a fresh in-memory driver.
func runMem(ctx context.Context, t *testing.T, tt Test, setup func(*memSystem)) (*outcome.Result, *memSystem, error) {
	t.Helper()
	sys, d := newMemSystem()
	if setup != nil {
		setup(sys)
	}
	tt.Impl = sys
	out, err := Run(ctx, tt, Options{Driver: d})
	if !d.Closed() {
		t.Errorf("the run returned without closing its driver")
	}
	for id := 1; id <= tt.Nodes; id++ {
		if d.Running(id) {
			t.Errorf("n%d still runs after the run", id)
		}
	}
	return out, sys, err
}

// nemesisEvents lists the run's completed nemesis events as "f node".
func nemesisEvents(t *testing.T, dir string) []string {
	t.Helper()
	events, err := history.ReadFile(filepath.Join(dir, store.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		if e.IsNemesis() && e.Type == history.Info {
			out = append(out, strings.TrimSpace(string(e.F)+" "+e.Node))
		}
	}
	return out
}

func TestRunFollowsItsScheduleAndRecovers(t *testing.T) {
	tt := memTest(t, "kill-one")
	tt.Schedule = []nemesis.Step{
		{At: 20 * time.Millisecond, Fault: 0, Name: "kill-one", Start: true, Choice: &nemesis.Choice{Target: "one", Nodes: []int{2}}},
		{At: 80 * time.Millisecond, Fault: 0, Name: "kill-one"},
	}
	out, sys, err := runMem(context.Background(), t, tt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.ExitCode() != 0 || out.Verdict != checkers.Valid {
		t.Fatalf("exit %d, results %+v; want a valid run", out.ExitCode(), out)
	}
	if got, want := nemesisEvents(t, out.RunDir), []string{"kill n2", "restart n2", "recover"}; !slices.Equal(got, want) {
		t.Fatalf("nemesis events %q, want %q", got, want)
	}
	// The schedule reached the driver: n2 was killed and spawned again,
	// and nothing else was.
	var n2 []string
	for _, e := range sys.d.Events() {
		if strings.HasSuffix(e, "n2") {
			n2 = append(n2, e)
		}
	}
	if want := []string{"spawn n2", "kill n2", "spawn n2", "kill n2"}; !slices.Equal(n2, want) {
		t.Fatalf("driver saw %q for n2, want %q (start, fault, restart, close)", n2, want)
	}
	if h := out.Healed; h == nil || !*out.Recovered || h.NodesUp != 3 {
		t.Fatalf("recovery: %+v %+v", out.Recovered, h)
	}
	if out.Stats.Ops.Total == 0 {
		t.Fatalf("no client operations recorded: %+v", out.Stats)
	}
}

func TestRunAppliesAPartitionToTheMeshAndHealsIt(t *testing.T) {
	tt := memTest(t, "partition-grudge")
	tt.Grudge = cluster.Grudge{2: {1}}
	tt.Schedule = []nemesis.Step{
		{At: 20 * time.Millisecond, Fault: 0, Start: true, Choice: &nemesis.Choice{Kind: "grudge", Grudge: tt.Grudge}},
		{At: 100 * time.Millisecond, Fault: 0},
	}
	sys, d := newMemSystem()
	// Watch the mesh while the run goes on.
	seen := map[string]bool{}
	ctx, stop := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for ctx.Err() == nil {
			if m := d.Mesh(); m != nil {
				faults, _ := m.Faults()
				for _, f := range faults {
					seen[f] = true
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	tt.Impl = sys
	out, err := Run(context.Background(), tt, Options{Driver: d})
	stop()
	<-watched
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || !seen["partition n1->n2"] {
		t.Fatalf("the mesh showed %v during the run, want only n2 not hearing n1", seen)
	}
	if got, want := nemesisEvents(t, out.RunDir), []string{"start-partition n2", "stop-partition", "recover"}; !slices.Equal(got, want) {
		t.Fatalf("nemesis events %q, want %q", got, want)
	}
	if faults, _ := d.Mesh().Faults(); !out.Healed.LinksHealed || len(faults) != 0 {
		t.Fatalf("after the run: healed %+v, mesh %v", out.Healed, faults)
	}
	if out.ExitCode() != 0 {
		t.Fatalf("exit %d: %+v", out.ExitCode(), out)
	}
}

func TestRunOfANodeThatCannotStartSaysWhyAndLeavesNothing(t *testing.T) {
	tt := memTest(t)
	_, _, err := runMem(context.Background(), t, tt, func(s *memSystem) { s.failStart = 2 })
	var ce *exitcode.ClusterError
	if !errors.As(err, &ce) || exitcode.FromError(err) != exitcode.Unknown {
		t.Fatalf("err = %v (%T), want a *exitcode.ClusterError (exit 3)", err, err)
	}
	for _, want := range []string{"cluster did not come up", "n2 exited before it was ready", "cannot start", "boom #30", "boom #11"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "boom #10") {
		t.Errorf("error quotes more than the log's last %d lines:\n%v", cluster.LogTailLines, err)
	}
	runs, _ := filepath.Glob(filepath.Join(tt.ResultsDir, "*-mem-*"))
	if len(runs) != 1 {
		t.Fatalf("run dirs %v, want one", runs)
	}
	res, err := outcome.Read(runs[0])
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != checkers.Unknown || !strings.Contains(res.Reason, "n2 exited before it was ready") {
		t.Fatalf("results.json: %+v; want unknown, saying n2 did not start", res)
	}
}

func TestInterruptedRunIsJudgedOnWhatItRecorded(t *testing.T) {
	tt := memTest(t, "pause-one")
	tt.TimeLimit = Duration(time.Minute) // only the interrupt ends it
	tt.Schedule = []nemesis.Step{
		{At: 20 * time.Millisecond, Fault: 0, Name: "pause-one", Start: true, Choice: &nemesis.Choice{Target: "one", Nodes: []int{3}}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	out, sys, err := runMem(ctx, t, tt, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := out
	if !r.Interrupted || r.Verdict != checkers.Unknown || out.ExitCode() != 3 || r.Recovered != nil {
		t.Fatalf("results %+v; want interrupted, unknown (exit 3), no recovery attempted", r)
	}
	if !strings.Contains(r.Reason, "interrupted") || r.Stats.Ops.Total == 0 {
		t.Fatalf("reason %q, %d ops; want the interruption named and the recorded ops checked", r.Reason, r.Stats.Ops.Total)
	}
	if got := nemesisEvents(t, out.RunDir); !slices.Equal(got, []string{"pause n3"}) {
		t.Fatalf("nemesis events %q, want the pause only (an interrupted run does not recover)", got)
	}
	if ev := sys.d.Events(); !slices.Contains(ev, "stop n3") || ev[len(ev)-1] != "close" {
		t.Fatalf("driver events %q: want n3 stopped and the driver closed last", ev)
	}
}

func TestRunFindsTheAnomaliesOfABuggySystem(t *testing.T) {
	tt := memTest(t)
	tt.Bugs = []string{bugStaleRead}
	out, _, err := runMem(context.Background(), t, tt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.ExitCode() != 1 || out.Verdict != checkers.Invalid || out.Reason != "anomalies found" {
		t.Fatalf("exit %d, results %+v; nodes that each keep their own copy must not look linearizable", out.ExitCode(), out)
	}
}
