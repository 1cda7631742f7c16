package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Every numeric and duration flag of run, check, sim and shrink is bounded
// (internal/bounds): a value out of bounds is refused up front with one
// line naming the flag, the value and what is allowed, exit 2, and nothing
// written — no run dir, no latest link, no report.
func TestFlagsOutOfBoundsAreRefusedWithNothingWritten(t *testing.T) {
	hist := filepath.Join(t.TempDir(), "h.jsonl")
	_ = os.WriteFile(hist, []byte(`{"process":0,"type":"invoke","f":"write","key":"x","value":1}`+"\n"+`{"process":0,"type":"ok","f":"write","key":"x","value":1}`+"\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--concurrency", "2147483647"}, `--concurrency 2147483647: want 1..1000`},
		{[]string{"run", "--concurrency", "0"}, `--concurrency 0: want 1..1000`},
		{[]string{"run", "--rate", "NaN"}, `--rate NaN: want 0..100000 (0: unlimited)`},
		{[]string{"run", "--rate", "+Inf"}, `--rate +Inf: want 0..100000`},
		{[]string{"run", "--rate", "-1"}, `--rate -1: want 0..100000`},
		{[]string{"run", "--rate", "1e9"}, `--rate 1e+09: want 0..100000`},
		{[]string{"run", "--nemesis-interval", "1ns"}, `--nemesis-interval 1ns: want 100ms..1h`},
		{[]string{"run", "--nemesis-interval", "100ms", "--time-limit", "10m"}, `--time-limit 10m with --nemesis-interval 100ms is about 6000 fault episodes: want at most 1000`},
		{[]string{"run", "--nodes", "16"}, `--nodes 16: want 1..15`},
		{[]string{"run", "--nodes", "-1"}, `--nodes -1: want 1..15`},
		{[]string{"run", "--op-timeout", "1ns"}, `--op-timeout 1ns: want 10ms..10m`},
		{[]string{"run", "--op-timeout", "11m"}, `--op-timeout 11m0s: want 10ms..10m`},
		{[]string{"run", "--recovery-timeout", "0s"}, `--recovery-timeout 0s: want 1s..1h`},
		{[]string{"run", "--recovery-timeout", "2h"}, `--recovery-timeout 2h0m0s: want 1s..1h`},
		{[]string{"run", "--time-limit", "25h"}, `--time-limit 25h0m0s: want 100ms..24h`},
		{[]string{"run", "--time-limit", "0s"}, `--time-limit 0s: want 100ms..24h`},
		{[]string{"run", "--check-timeout", "0s"}, `--check-timeout 0s: want 1s..24h`},
		// check agrees with run: 0 and negative are refused, not replaced.
		{[]string{"check", "--check-timeout", "0s", hist}, `--check-timeout 0s: want 1s..24h`},
		{[]string{"check", "--check-timeout", "-5s", hist}, `--check-timeout -5s: want 1s..24h`},
		{[]string{"check", "--check-timeout", "25h", hist}, `--check-timeout 25h0m0s: want 1s..24h`},
		{[]string{"sim", "--rate", "NaN"}, `--rate NaN: want more than 0, at most 1000000`},
		{[]string{"sim", "--drop", "NaN"}, `--drop NaN: want 0..0.99`},
		{[]string{"sim", "--dup", "1"}, `--dup 1: want 0..0.99`},
		{[]string{"sim", "--concurrency", "2147483647"}, `--concurrency 2147483647: want 1..1000`},
		{[]string{"sim", "--fault-interval", "1ns"}, `--fault-interval 1ns: want 10ms..24h`},
		{[]string{"sim", "--check-timeout", "0s"}, `--check-timeout 0s: want 1s..24h`},
		{[]string{"sim", "--workers", "-1", "--seeds", "3"}, `--workers -1: want 0..1024`},
		{[]string{"sim", "--max-delay", "2m"}, `--max-delay 2m0s: want 0s..1m`},
		{[]string{"shrink", "--replays", "1000", "x"}, `--replays 1000: want 1..100`},
		{[]string{"shrink", "--max-time", "-1s", "x"}, `--max-time -1s: want 0 (no limit) or 1s..168h`},
	}
	for _, c := range cases {
		dir := t.TempDir()
		results := filepath.Join(dir, "results")
		args := c.args
		switch args[0] {
		case "run", "sim":
			args = append(args, "--results", results)
		case "shrink":
			args = append(args[:len(args)-1], "--out", results, filepath.Join(dir, "x"))
		}
		r := cli(t, 30*time.Second, nil, args...)
		if !wantUsageLine(t, c.args, r, c.want) {
			continue
		}
		if _, err := os.Stat(results); err == nil {
			t.Errorf("%v: a refused run wrote %s", c.args, results)
		}
		if m, _ := filepath.Glob(hist + "*.html"); len(m) > 0 || fileExists(strings.TrimSuffix(hist, ".jsonl")+".report.html") {
			t.Errorf("%v: a refused check wrote a report", c.args)
		}
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// --help states every flag's bounds, and they are the ones enforced.
func TestHelpStatesTheBounds(t *testing.T) {
	for cmd, wants := range map[string][]string{
		"run":    {"--concurrency int             client workers; 1..1000", "0..100000 (0: unlimited)", "100ms..1h", "at most 1000 per --time-limit", "1s..24h", "10ms..10m"},
		"check":  {"--check-timeout duration", "1s..24h (default 2m0s)"},
		"sim":    {"1..1000", "more than 0, at most 1000000", "0..0.99", "10ms..24h"},
		"shrink": {"1..100", "0 (no limit) or 1s..168h"},
	} {
		r := cli(t, 30*time.Second, nil, cmd, "--help")
		for _, w := range wants {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("faultline %s --help does not say %q:\n%s", cmd, w, r.stdout)
			}
		}
	}
}

// A cluster whose nodes never become ready: start-up ends at its bound
// (--start-timeout) with a clear error, exit 3, a goroutine dump in the
// run's harness.log and an unknown results.json.
func TestStartUpPastItsBoundExitsThreeWithAGoroutineDump(t *testing.T) {
	results := t.TempDir()
	start := time.Now()
	r := cli(t, time.Minute, []string{"FAULTLINE_TEST_NODE_HANGS=1"}, "run", "--nodes", "3", "--time-limit", "5s",
		"--start-timeout", "2s", "--results", results, "-q")
	took := time.Since(start)
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "faultline: cluster did not come up within its start-up bound (start timeout 2s per node") || !strings.Contains(r.stderr, "goroutine dump in ") {
		t.Errorf("stderr does not say which bound expired:\n%s", r.stderr)
	}
	t.Logf("start-up gave up %s after the command began (start timeout 2s)", took.Round(time.Millisecond))
	log, err := os.ReadFile(filepath.Join(results, "latest", "harness.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "=== goroutine dump: cluster did not come up") || !strings.Contains(string(log), "goroutine ") {
		t.Errorf("harness.log has no goroutine dump:\n%s", log)
	}
	if res := readResults(t, filepath.Join(results, "latest")); res["valid"] != "unknown" {
		t.Errorf("results.json valid = %v, want unknown", res["valid"])
	}
}
