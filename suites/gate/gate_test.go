// Package gate tests the CI gate itself: `make ci-gate` must fail when a
// spec of the correct system runs with a bug switched on.
package gate

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGateFailsWhenACorrectSpecHasABug runs the real make target on one
// short spec (raft under partitions and kills) with FAULTLINE_GATE_BUG
// switching on stale-local-read, and expects a non-zero exit, a JUnit
// report with the failure, and a summary naming the invalid run. That bug
// shows in every run (followers answer reads stale even without a fault);
// one that random faults catch only most of the time would make this test
// flaky.
func TestGateFailsWhenACorrectSpecHasABug(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 20 s chaos test through make ci-gate")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	results := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-C", "../..", "--no-print-directory", "ci-gate",
		"FILTER=raft && short", "RESULTS="+results)
	cmd.Env = append(os.Environ(), "FAULTLINE_GATE_BUG=raft:stale-local-read")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("make ci-gate did not finish:\n%s", tail(out.String()))
	}
	if err == nil {
		t.Fatalf("make ci-gate passed with stale-local-read switched on in a correct-system spec:\n%s", tail(out.String()))
	}
	for _, want := range []string{"ci-gate: FAILED", "JUnit report: " + results + "/junit.xml",
		"| raft register under partition,kill for 20s stays valid | failed | invalid (anomalies found) | 1 | stale-local-read |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, tail(out.String()))
		}
	}
	junit, err := os.ReadFile(filepath.Join(results, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(junit, []byte("<failure")) || !bytes.Contains(junit, []byte("Expected the run to be valid, but it was invalid")) {
		t.Errorf("junit.xml has no failure for the spec:\n%s", junit)
	}
}

func tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
