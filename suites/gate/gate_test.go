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
		"FILTER=raft && short && !bugs", "GATE_SUITES=./suites/raft", "RESULTS="+results)
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

// TestGateFailsWhenNoSpecRan runs make ci-gate's verdict step on JUnit
// reports Ginkgo wrote: one where a label filter matched no spec (taken
// from a real `make ci-gate FILTER=no-such-label`), and the same with one
// spec that ran. A gate that checked nothing must fail even when Ginkgo
// exits 0, and say why; it does so in well under a second (no suite is
// compiled, no chaos run).
func TestGateFailsWhenNoSpecRan(t *testing.T) {
	verdict := func(junit string, rc string) (string, error) {
		out, err := exec.Command("sh", "verdict.sh", junit, rc, "short && (no-such-label)").CombinedOutput()
		return string(out), err
	}
	out, err := verdict("testdata/junit-none-ran.xml", "0")
	if err == nil || !strings.Contains(out, "ci-gate: FAILED: no spec ran") || !strings.Contains(out, "(0 specs ran)") {
		t.Fatalf("no spec ran, Ginkgo exit 0: err %v, output:\n%s", err, out)
	}
	if out, err := verdict(filepath.Join(t.TempDir(), "missing.xml"), "0"); err == nil {
		t.Fatalf("no JUnit report at all passed:\n%s", out)
	}
	none, err := os.ReadFile("testdata/junit-none-ran.xml")
	if err != nil {
		t.Fatal(err)
	}
	// Turn one skipped spec into one that ran.
	one := strings.Replace(string(none), `for 20s stays valid [quorum, register, slow, short]" classname="quorum" status="skipped"`,
		`for 20s stays valid [quorum, register, slow, short]" classname="quorum" status="passed"`, 1)
	if one == string(none) {
		t.Fatal("testdata changed: no skipped quorum slow spec to turn into a passed one")
	}
	ran := filepath.Join(t.TempDir(), "junit.xml")
	if err := os.WriteFile(ran, []byte(one), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := verdict(ran, "0"); err != nil || !strings.Contains(out, "(1 specs ran)") || !strings.Contains(out, "ci-gate: passed") {
		t.Fatalf("one spec ran, Ginkgo exit 0: err %v, output:\n%s", err, out)
	}
	if out, err := verdict(ran, "1"); err == nil || !strings.Contains(out, "ci-gate: FAILED (anomalies") {
		t.Fatalf("one spec ran, Ginkgo exit 1: err %v, output:\n%s", err, out)
	}
	// make ci-gate ends in this step.
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "sh suites/gate/verdict.sh $(RESULTS)/junit.xml $$?") {
		t.Error("make ci-gate no longer ends in suites/gate/verdict.sh")
	}
}

func tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
