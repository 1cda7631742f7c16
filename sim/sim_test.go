package sim

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/outcome"
)

// smoke is a short simulation of each system under every fault kind.
func smoke(system, workload string) Config {
	c := DefaultConfig()
	c.System, c.Workload, c.Steps = system, workload, 300
	c.Faults = []string{"partition", "kill", "pause", "power-loss"}
	c.FaultInterval = 500 * time.Millisecond
	return c
}

func historyBytes(t *testing.T, r *Result) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := history.Write(&b, r.Events); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The correct systems stay valid through every fault kind, and the same
// seed gives a byte-identical history.
func TestSmokeCorrectSystemsAreValidAndDeterministic(t *testing.T) {
	for _, tc := range []struct{ system, workload string }{
		{"raft", "register"}, {"quorum", "register"}, {"gossip", "counter"}, {"gossip", "set"},
	} {
		t.Run(tc.system+"-"+tc.workload, func(t *testing.T) {
			c := smoke(tc.system, tc.workload)
			a, err := Try(context.Background(), c, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if a.Outcome.Verdict != checkers.Valid {
				t.Fatalf("correct %s: %s (%s)", tc.system, a.Outcome.Verdict, a.Outcome.Reason)
			}
			if a.Result.Faults == 0 || a.Result.Ops < c.Steps {
				t.Fatalf("ran %d faults and %d ops, want some faults and at least %d ops", a.Result.Faults, a.Result.Ops, c.Steps)
			}
			b, err := Run(c)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(historyBytes(t, a.Result), historyBytes(t, b)) {
				t.Fatalf("seed %d gave two different histories (%d and %d events)", c.Seed, len(a.Result.Events), len(b.Events))
			}
			c.Seed++
			d, err := Run(c)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(historyBytes(t, a.Result), historyBytes(t, d)) {
				t.Fatalf("seeds %d and %d gave the same history", c.Seed-1, c.Seed)
			}
		})
	}
}

// A search stops at a failing seed; replaying that seed gives the
// identical history, and shrinking keeps it failing with fewer steps.
func TestSearchFindsReplaysAndShrinks(t *testing.T) {
	c := DefaultConfig()
	c.System, c.Bugs, c.Steps = "raft", []string{"stale-local-read"}, 400
	f, err := Search(context.Background(), c, SearchOptions{First: 1, Seeds: 20, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if f.Failing == nil {
		t.Fatalf("stale-local-read not found in %d seeds", f.Tried)
	}
	seed := f.Failing.Result.Config.Seed
	replay := c
	replay.Seed = seed
	again, err := Try(context.Background(), replay, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Invalid() || !bytes.Equal(historyBytes(t, again.Result), historyBytes(t, f.Failing.Result)) {
		t.Fatalf("replaying seed %d: %s, identical history %v", seed, again.Outcome.Verdict,
			bytes.Equal(historyBytes(t, again.Result), historyBytes(t, f.Failing.Result)))
	}
	small := Shrink(context.Background(), f.Failing, 8, time.Minute)
	if !small.Invalid() {
		t.Fatal("shrunk trial is not failing")
	}
	if small.Result.Config.Steps >= c.Steps {
		t.Fatalf("shrinking kept %d steps of %d", small.Result.Config.Steps, c.Steps)
	}
}

// A power loss reaches ack-before-fsync: the lost writes are found.
func TestPowerLossFindsAckBeforeFsync(t *testing.T) {
	c := DefaultConfig()
	c.System, c.Bugs, c.Faults, c.Steps = "raft", []string{"ack-before-fsync"}, []string{"power-loss-all"}, 400
	f, err := Search(context.Background(), c, SearchOptions{First: 1, Seeds: 10, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if f.Failing == nil {
		t.Fatalf("ack-before-fsync not found in %d seeds under power-loss", f.Tried)
	}
	// The same schedule with kills (page cache survives) finds nothing.
	c.Faults = []string{"kill-all"}
	c.Seed = f.Failing.Result.Config.Seed
	k, err := Try(context.Background(), c, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if k.Invalid() {
		t.Fatalf("kills alone lost writes: %s", k.Outcome.Reason)
	}
}

// Store writes a normal run dir that check and the report read.
func TestStoreWritesARunDir(t *testing.T) {
	c := DefaultConfig()
	c.Steps = 100
	tr, err := Try(context.Background(), c, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	results := t.TempDir()
	res, err := Judge(context.Background(), tr.Result, time.Minute, false)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := Store(context.Background(), results, tr.Result, res, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	events, err := history.ReadFile(filepath.Join(dir, store.HistoryFile))
	if err != nil || len(events) != len(tr.Result.Events) {
		t.Fatalf("stored history: %d events, %v; want %d", len(events), err, len(tr.Result.Events))
	}
	spec, err := outcome.ReadSpec(dir)
	if err != nil || spec.Runtime != "sim" || spec.System != "quorum" || spec.Seed != 1 {
		t.Fatalf("test.json: %+v, %v", spec, err)
	}
	var tf TestFile
	if err := store.ReadJSON(dir, store.TestFile, &tf); err != nil || tf.Sim.Steps != 100 {
		t.Fatalf("test.json's sim config: %+v, %v", tf.Sim, err)
	}
	var stored outcome.Result
	if err := store.ReadJSON(dir, store.ResultsFile, &stored); err != nil || stored.Verdict != checkers.Valid {
		t.Fatalf("results.json: %s, %v", stored.Verdict, err)
	}
	page, err := os.ReadFile(filepath.Join(dir, store.ReportFile))
	if err != nil || !strings.Contains(string(page), "quorum") {
		t.Fatalf("report.html: %v", err)
	}
}

func TestValidateNamesWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.System = "etcd" }, "unknown system"},
		{func(c *Config) { c.Bugs = []string{"nope"} }, "unknown bug"},
		{func(c *Config) { c.Faults = []string{"clock"} }, "unknown fault"},
		{func(c *Config) { c.Faults = []string{"figure8"} }, "needs a leader"},
		{func(c *Config) { c.Steps, c.TimeLimit = 0, 0 }, "steps or a time limit"},
		{func(c *Config) { c.Workload = "set" }, "does not serve"},
		{func(c *Config) { c.Nodes = 2 }, "at least 3"},
		{func(c *Config) { c.System, c.Workload = "raft", "lock" }, "client sessions"},
	} {
		c := DefaultConfig()
		tc.mut(&c)
		if _, err := Run(c); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error containing %q", err, tc.want)
		}
	}
}
