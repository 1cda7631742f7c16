package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/histgen"
)

// The first SIGINT stops a check within a second in whichever phase it is —
// reading a large history, preparing it, checking it, writing the report —
// with exit 3, one line, and no report or artifacts written. The signal is
// sent at several points of the check's life, a real signal to a real
// process.
func TestInterruptStopsACheckOfALargeHistoryWithinASecond(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and checks a 300,000-operation history")
	}
	dir := t.TempDir()
	hist := filepath.Join(dir, "big.jsonl")
	f, err := os.Create(hist)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	if err := history.Write(w, histgen.Registers(1, 300_000, 1000, 20)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var worst time.Duration
	stopped := 0
	for _, after := range []time.Duration{200 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second} {
		out := filepath.Join(dir, "out-"+after.String())
		cmd := exec.Command(os.Args[0], "check", "--out", out, hist)
		cmd.Env = append(os.Environ(), "FAULTLINE_AS_CLI=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
			t.Logf("signal after %s: the check was over before it", after)
			continue
		case <-time.After(after):
		}
		sent := time.Now()
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("signal after %s: check still running 10s after SIGINT", after)
		}
		took := time.Since(sent)
		worst = max(worst, took)
		code := cmd.ProcessState.ExitCode()
		t.Logf("signal after %s: exit %d %s later: %s", after, code, took.Round(time.Millisecond), strings.TrimSpace(stderr.String()))
		if code == 0 {
			continue // it finished as the signal came: a verdict, fine
		}
		stopped++
		// A second is the bound; the slack is for a loaded 2-core machine
		// that takes that long to schedule the process at all.
		if took > 2*time.Second {
			t.Errorf("signal after %s: exit %s after SIGINT, want within a second", after, took)
		}
		if code != 3 || !strings.Contains(stderr.String(), "interrupted, no verdict") {
			t.Errorf("signal after %s: exit %d, stderr %q; want 3 and interrupted", after, code, stderr.String())
		}
		if _, err := os.Stat(strings.TrimSuffix(hist, ".jsonl") + ".report.html"); err == nil {
			t.Errorf("signal after %s: an interrupted check wrote its report", after)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("signal after %s: an interrupted check wrote artifacts", after)
		}
	}
	if stopped == 0 {
		t.Skip("every check finished before its signal; nothing measured")
	}
	t.Logf("slowest stop: %s after SIGINT", worst.Round(time.Millisecond))
}
