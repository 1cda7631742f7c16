package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGossipRunReportsConvergenceAndDetection runs the gossip store with
// the set workload through a kill and expects a valid verdict whose
// results.json carries the convergence time and the membership figures,
// and a `check` of the stored history that agrees.
func TestGossipRunReportsConvergenceAndDetection(t *testing.T) {
	results := t.TempDir()
	r := cli(t, 2*time.Minute, nil, "run", "--system", "gossip", "--workload", "set", "--nodes", "3",
		"--time-limit", "9s", "--nemesis", "kill", "--nemesis-interval", "4s", "--seed", "3", "--results", results, "-q")
	if r.code != 0 {
		t.Fatalf("run exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, tail(r.stderr, 30))
	}
	latest := filepath.Join(results, "latest")
	cs := readResults(t, latest)["checkers"].(map[string]any)
	conv := cs["convergence"].(map[string]any)["details"].(map[string]any)
	if _, ok := conv["convergence_time_ms"].(float64); !ok || conv["converged_keys"] != conv["keys"] {
		t.Fatalf("convergence details %v lack a time or a converged key", conv)
	}
	mem := cs["membership"].(map[string]any)["details"].(map[string]any)
	if mem["kills"].(float64) < 1 || mem["observations"].(float64) < 3 {
		t.Fatalf("membership details %v: want at least one kill and views of every node", mem)
	}
	for _, k := range []string{"detected", "undetected", "false_suspicions", "per_kill"} {
		if _, ok := mem[k]; !ok {
			t.Errorf("membership details lack %q: %v", k, mem)
		}
	}
	set := cs["set"].(map[string]any)["details"].(map[string]any)
	if set["acknowledged"].(float64) < 100 || set["lost"].(float64) != 0 {
		t.Fatalf("set details %v: want 100+ acknowledged, none lost", set)
	}
	if c := cli(t, time.Minute, nil, "check", latest); c.code != 0 || !strings.Contains(c.stdout, "convergence: valid") {
		t.Fatalf("check exit %d, want 0:\n%s\n%s", c.code, c.stdout, c.stderr)
	}
}

// TestGossipMergeOverwriteLosesCounts: the counter workload catches a
// replica that takes incoming copies in place of merging, with no fault.
func TestGossipMergeOverwriteLosesCounts(t *testing.T) {
	results := t.TempDir()
	r := cli(t, 2*time.Minute, nil, "run", "--system", "gossip", "--workload", "counter", "--nodes", "3",
		"--bug", "merge-overwrite", "--time-limit", "5s", "--nemesis", "none", "--seed", "1", "--results", results, "-q")
	if r.code != 1 || !strings.Contains(r.stdout, "counter: invalid") {
		t.Fatalf("run exit %d, want 1 with the counter checker invalid\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, tail(r.stderr, 20))
	}
}
