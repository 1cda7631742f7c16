package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/outcome"
	"github.com/faultline/faultline/systems"
)

// harnessLog reads the run's harness.log.
func harnessLog(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, store.HarnessLog))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// onlyRun is the one run dir under results.
func onlyRun(t *testing.T, results string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(results, "*-mem-*"))
	if len(m) != 1 {
		t.Fatalf("want one run dir under %s, got %v", results, m)
	}
	return m[0]
}

func wantDump(t *testing.T, log string) {
	t.Helper()
	if !strings.Contains(log, "=== goroutine dump: ") || !strings.Contains(log, "goroutine ") || !strings.Contains(log, "runner.(*run).") {
		t.Errorf("harness.log has no goroutine dump:\n%s", log)
	}
}

// Nodes that never become ready: start-up ends at its bound (the start
// timeout) with a clear error, a goroutine dump in harness.log, an
// unknown results.json and a *ClusterError (exit 3).
func TestStartUpPastItsBoundFailsWithAGoroutineDump(t *testing.T) {
	tt := memTest(t)
	tt.StartTimeout = Duration(time.Second)
	start := time.Now()
	_, _, err := runMem(context.Background(), t, tt, func(s *memSystem) { s.notReady.Store(true) })
	took := time.Since(start)
	var ce *exitcode.ClusterError
	if !errors.As(err, &ce) || exitcode.FromError(err) != exitcode.Unknown {
		t.Fatalf("err %v (%T), want a *ClusterError (exit 3)", err, err)
	}
	if !strings.Contains(err.Error(), "did not come up within its start-up bound (start timeout 1s per node") || !strings.Contains(err.Error(), "goroutine dump in ") {
		t.Errorf("error does not say which bound expired: %v", err)
	}
	if took > 10*time.Second {
		t.Errorf("start-up took %s with a 1s start timeout", took)
	}
	dir := onlyRun(t, tt.ResultsDir)
	wantDump(t, harnessLog(t, dir))
	var res outcome.Result
	if err := store.ReadJSON(dir, store.ResultsFile, &res); err != nil || res.Verdict != checkers.Unknown || !strings.Contains(res.Reason, "start-up bound") {
		t.Errorf("results.json: verdict %v, reason %q (%v); want unknown with the reason", res.Verdict, res.Reason, err)
	}
}

// A status probe that ignores its deadline: start-up would wait forever.
// The run stops waiting phaseGrace after the bound, dumps the goroutines
// (the stuck probe among them) and fails; what the start makes is closed
// once it returns.
func TestStartUpStuckPastItsBoundIsAbandoned(t *testing.T) {
	defer func(g, s time.Duration) { phaseGrace, layoutSlack = g, s }(phaseGrace, layoutSlack)
	phaseGrace, layoutSlack = 300*time.Millisecond, 200*time.Millisecond
	tt := memTest(t)
	tt.StartTimeout = Duration(time.Second)
	sys, d := newMemSystem()
	sys.statusHang = make(chan struct{})
	defer close(sys.statusHang)
	tt.Impl = sys
	start := time.Now()
	_, err := Run(context.Background(), tt, Options{Driver: d})
	took := time.Since(start)
	var ce *exitcode.ClusterError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "did not end within its bound of 1.2s") || !strings.Contains(err.Error(), "ignores its deadline") {
		t.Fatalf("err %v, want a *ClusterError saying start-up overran its bound", err)
	}
	if took > 5*time.Second {
		t.Errorf("the run gave up after %s; the bound is 1.2s + 0.3s", took)
	}
	log := harnessLog(t, onlyRun(t, tt.ResultsDir))
	wantDump(t, log)
	if !strings.Contains(log, "memSystem).Status") {
		t.Errorf("the dump does not show the stuck probe:\n%s", log)
	}
}

// Nodes that do not come back after the faults: recovery ends at the
// recovery timeout, the verdict is unknown (exit 3), and harness.log has
// the goroutine dump.
func TestRecoveryPastItsBoundIsUnknownWithAGoroutineDump(t *testing.T) {
	tt := memTest(t)
	tt.RecoveryTimeout = Duration(time.Second)
	res, _, err := runMem(context.Background(), t, tt, func(s *memSystem) {
		s.onInvoke = func(systems.Op) { s.notReady.Store(true) }
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != checkers.Unknown || res.ExitCode() != exitcode.Unknown || !strings.Contains(res.Reason, "did not recover within 1s") {
		t.Errorf("verdict %v, reason %q; want unknown: not recovered", res.Verdict, res.Reason)
	}
	wantDump(t, harnessLog(t, res.RunDir))
}

// An interrupt before the run starts (while the test is resolved and its
// schedule laid out) ends it at once, unknown, with nothing written.
func TestInterruptBeforeTheRunStartsWritesNothing(t *testing.T) {
	tt := memTest(t, "kill", "partition")
	tt.ResultsDir = filepath.Join(t.TempDir(), "results")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sys, d := newMemSystem()
	tt.Impl = sys
	_, err := Run(ctx, tt, Options{Driver: d})
	if !errors.Is(err, context.Canceled) || exitcode.FromError(err) != exitcode.Unknown {
		t.Fatalf("err %v, want an interrupt (exit 3)", err)
	}
	if _, err := os.Stat(tt.ResultsDir); err == nil {
		t.Errorf("an interrupted start wrote %s", tt.ResultsDir)
	}
}
