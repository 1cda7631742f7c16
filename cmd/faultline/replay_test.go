package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/history"
)

// nemesisEvents returns the completed nemesis steps of a run dir's
// history, without the final recovery.
func nemesisEvents(t *testing.T, dir string) []history.Event {
	t.Helper()
	events, err := history.ReadFile(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []history.Event
	for _, e := range events {
		if e.Process == history.NemesisProcess && e.Type == history.Info && e.F != "recover" {
			out = append(out, e)
		}
	}
	return out
}

// TestReplayReproducesTheFaultSchedule runs raft under leader-aimed and
// seeded faults, replays the run dir, and compares the two histories'
// faults: the same faults on the same nodes at the same times (within a
// tolerance for how long the steps before took), leader targets included
// although the replay's cluster may elect another leader.
func TestReplayReproducesTheFaultSchedule(t *testing.T) {
	results := t.TempDir()
	args := []string{"run", "--system", "raft", "--nodes", "3", "--time-limit", "10s", "--concurrency", "3", "--rate", "50",
		"--nemesis", "partition-leader,kill-leader,clock-bump,link-latency,pause-minority", "--nemesis-interval", "1s",
		"--seed", "4", "--results", results, "-q"}
	r := cli(t, 3*time.Minute, nil, args...)
	if r.code != 0 {
		t.Fatalf("run exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, tail(r.stderr, 30))
	}
	orig, err := filepath.EvalSymlinks(filepath.Join(results, "latest"))
	if err != nil {
		t.Fatal(err)
	}
	bad := cli(t, 30*time.Second, nil, "run", "--replay", orig, "--seed", "5")
	if bad.code != 2 || !strings.Contains(bad.stderr, "--seed") {
		t.Fatalf("--replay with --seed: exit %d, %q; want 2 naming --seed", bad.code, bad.stderr)
	}
	r = cli(t, 3*time.Minute, nil, "run", "--replay", filepath.Join(results, "latest"), "--results", results, "-q")
	if r.code != 0 {
		t.Fatalf("replay exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, tail(r.stderr, 30))
	}
	replay, _ := filepath.EvalSymlinks(filepath.Join(results, "latest"))
	if replay == orig {
		t.Fatal("the replay did not make a run dir of its own")
	}

	var test struct {
		ReplayOf string `json:"replay_of"`
		Seed     uint64 `json:"seed"`
		Schedule []struct {
			Choice *struct {
				Pinned bool `json:"pinned"`
			} `json:"choice"`
		} `json:"schedule"`
	}
	b, _ := os.ReadFile(filepath.Join(replay, "test.json"))
	if err := json.Unmarshal(b, &test); err != nil || test.ReplayOf != orig || test.Seed != 4 {
		t.Fatalf("replay's test.json: replay_of %q seed %d (%v), want %q and 4", test.ReplayOf, test.Seed, err, orig)
	}
	pinned := 0
	for _, s := range test.Schedule {
		if s.Choice != nil && s.Choice.Pinned {
			pinned++
		}
	}

	a, bb := nemesisEvents(t, orig), nemesisEvents(t, replay)
	if len(a) < 8 {
		t.Fatalf("the original run recorded only %d fault steps in 10s at 1s intervals", len(a))
	}
	if len(a) != len(bb) {
		t.Fatalf("original recorded %d fault steps, replay %d", len(a), len(bb))
	}
	const tolerance = 1500 * time.Millisecond
	for i := range a {
		x, y := a[i], bb[i]
		if x.F != y.F || x.Node != y.Node {
			t.Errorf("step %d: original %s on %q, replay %s on %q", i, x.F, x.Node, y.F, y.Node)
		}
		if d := time.Duration(x.Time - y.Time); d > tolerance || d < -tolerance {
			t.Errorf("step %d (%s): original at %s, replay at %s", i, x.F, time.Duration(x.Time), time.Duration(y.Time))
		}
	}
	if pinned == 0 {
		t.Error("no leader target was pinned from the original history")
	}
	t.Logf("%d fault steps replayed alike; %d leader targets pinned", len(a), pinned)
}
