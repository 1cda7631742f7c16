package runner

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/nemesis"
)

// A sequence about a leader on a system that has none is a usage error
// (exit 2) naming the systems that have one, not a run that waits for a
// leader in vain.
func TestLeaderSequenceOnALeaderlessSystemIsAUsageError(t *testing.T) {
	tt := DefaultTest()
	tt.System, tt.Nemesis = "quorum", []string{"figure8"}
	_, err := Resolve(tt)
	var ce *exitcode.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "nemesis figure8 needs a system whose nodes elect a leader, and quorum has none (systems with leaders: raft)") {
		t.Fatalf("figure8 on quorum: %v", err)
	}
	if exitcode.FromError(err) != exitcode.Usage {
		t.Fatalf("figure8 on quorum exits %d, want %d", exitcode.FromError(err), exitcode.Usage)
	}
	tt.System = "raft"
	if _, err := Resolve(tt); err != nil {
		t.Fatalf("figure8 on raft: %v", err)
	}
	tt.System, tt.Nemesis = "quorum", []string{"strand-write"}
	if _, err := Resolve(tt); err != nil {
		t.Fatalf("strand-write on quorum: %v", err)
	}
}

// withPlan stores the plan as data and its steps; a test that names a
// sequence gets the sequence's rounds, not the random schedule.
func TestWithPlanStoresThePlanAndItsSteps(t *testing.T) {
	tt := DefaultTest()
	tt.System, tt.Nemesis, tt.Seed = "raft", []string{"partition", "kill"}, 3
	res, err := Resolve(tt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := withPlan(tt, res.Faults)
	if err != nil {
		t.Fatal(err)
	}
	if got.Plan == nil || got.Plan.Op != "random" {
		t.Fatalf("default plan %+v, want random", got.Plan)
	}
	if want := nemesis.Plan(3, res.Faults, []int{1, 2, 3, 4, 5}, 5*time.Second, 30*time.Second); !reflect.DeepEqual(got.Schedule, want) {
		t.Fatal("the default plan's steps are not the seeded schedule of before")
	}
	tt.Nemesis = []string{"figure8"}
	res, _ = Resolve(tt)
	got, err = withPlan(tt, res.Faults)
	if err != nil || got.Plan.Op != "forever" || got.Schedule[0].Until != "leader" {
		t.Fatalf("figure8 plan %+v, first step %+v (%v)", got.Plan, got.Schedule[0], err)
	}
}

// A test.json from before plans existed (a schedule, no plan) still
// loads for replay, with its schedule as it was.
func TestReplayOfATestFileWithoutAPlan(t *testing.T) {
	dir := t.TempDir()
	old := `{"system":"raft","workload":"register","nemesis":["kill"],"nodes":5,"runtime":"process",
"time_limit":"10s","concurrency":2,"rate":10,"op_timeout":"1s","nemesis_interval":"2s","recovery_timeout":"5s",
"check_timeout":"5s","final_reads":true,"seed":4,"results_dir":"results",
"schedule":[{"at":1000000000,"fault":0,"name":"kill","start":true,"choice":{"target":"one","nodes":[2]}},{"at":2000000000,"fault":0,"name":"kill","start":false}]}`
	if err := os.WriteFile(filepath.Join(dir, store.TestFile), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	tt, err := LoadReplay(dir)
	if err != nil {
		t.Fatal(err)
	}
	if tt.Plan != nil || len(tt.Schedule) != 2 || tt.Schedule[0].At != time.Second || tt.Schedule[0].Choice.Nodes[0] != 2 {
		t.Fatalf("old test.json loaded as plan %v, schedule %+v", tt.Plan, tt.Schedule)
	}
	res, err := Resolve(tt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := withPlan(tt, res.Faults)
	if err != nil || !reflect.DeepEqual(got.Schedule, tt.Schedule) {
		t.Fatalf("replay re-planned the stored schedule: %v", err)
	}
	b, _ := json.Marshal(got)
	if strings.Contains(string(b), `"plan"`) {
		t.Fatalf("a replay of an old file grew a plan: %s", b)
	}
}

// The default mix is partitions and kills plus the sequences aimed at
// the system (systems.Aimed); a system with none keeps the seeded random
// schedule.
func TestDefaultMixAddsTheSystemsAimedSequences(t *testing.T) {
	for _, tc := range []struct {
		system, plan string
		want         []string
	}{
		{"raft", "forever", []string{"partition", "kill", "stale-leader", "lagging-follower"}},
		{"quorum", "forever", []string{"partition", "kill", "strand-write"}},
		{"gossip", "random", []string{"partition", "kill"}},
	} {
		tt := DefaultTest()
		tt.System, tt.Workload = tc.system, "register"
		if tc.system == "gossip" {
			tt.Workload = "set"
		}
		res, err := Resolve(tt)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res.Test.Nemesis, tc.want) {
			t.Fatalf("%s: default mix %v, want %v", tc.system, res.Test.Nemesis, tc.want)
		}
		got, err := withPlan(res.Test, res.Faults)
		if err != nil || got.Plan.Op != tc.plan {
			t.Fatalf("%s: plan %+v (%v), want %s", tc.system, got.Plan, err, tc.plan)
		}
	}
}
