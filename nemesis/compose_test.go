package nemesis

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// Today's seeded schedule is one value among others: RandomOver over all
// faults expands to exactly what Plan drew before plans existed, so old
// seeds keep their schedules.
func TestRandomOverIsTheSeededPlan(t *testing.T) {
	fs := mustGet(t, "partition", "kill", "clock")
	for seed := range uint64(5) {
		got, err := Expand(RandomOver(2*time.Second), seed, fs, ids5(), 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if want := Plan(seed, fs, ids5(), 2*time.Second, 30*time.Second); !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: RandomOver expanded to %d steps, Plan to %d; they differ", seed, len(got), len(want))
		}
	}
	// Over some faults only: their steps alone, indexed into all faults.
	got, err := Expand(RandomOver(time.Second, "clock"), 1, fs, ids5(), 10*time.Second)
	if err != nil || len(got) == 0 {
		t.Fatalf("random over clock: %d steps, %v", len(got), err)
	}
	for _, s := range got {
		if s.Fault != 2 || s.Name != "clock" {
			t.Fatalf("random over clock made step %+v", s)
		}
	}
}

func labels(steps []Step) string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Label())
	}
	return strings.Join(out, " ")
}

func TestCombinatorsExpandInOrder(t *testing.T) {
	fs := mustGet(t, "partition-one", "kill-one", "pause-one")
	plan := Seq(
		Until("leader", 3*time.Second),
		Times(2, Episode("kill-one", time.Second)),
		OneOf(StartFault("partition-one", nil), StartFault("pause-one", nil)),
		SleepFor(500*time.Millisecond),
	)
	steps, err := Expand(plan, 7, fs, ids5(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got := labels(steps)
	if !strings.HasPrefix(got, "until leader (3s) +kill-one sleep 1s -kill-one +kill-one sleep 1s -kill-one +") || !strings.HasSuffix(got, " sleep 500ms") {
		t.Fatalf("expanded to %q", got)
	}
	if err := CheckSchedule(steps, fs); err != nil {
		t.Fatalf("an expanded plan fails the schedule check: %v", err)
	}
	// One-of is seeded: the same seed picks the same branch, and over
	// seeds both branches come up.
	picked := map[string]bool{}
	for seed := range uint64(20) {
		a, _ := Expand(plan, seed, fs, ids5(), time.Minute)
		b, _ := Expand(plan, seed, fs, ids5(), time.Minute)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d expanded twice differently", seed)
		}
		picked[a[7].Name] = true
	}
	if !picked["partition-one"] || !picked["pause-one"] {
		t.Fatalf("one-of over 20 seeds picked only %v", picked)
	}
	// Forever fills the time limit by the time its sleeps take.
	steps, err = Expand(Forever(Episode("kill-one", time.Second)), 1, fs, ids5(), 10*time.Second)
	if err != nil || len(steps) != 30 {
		t.Fatalf("forever over 1s episodes in 10s: %d steps (%v), want 10 episodes of 3", len(steps), err)
	}
	// A plan is data: it survives JSON, and so do its steps.
	b, _ := json.Marshal(plan)
	var back Sched
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, plan) {
		t.Fatalf("plan through JSON: %s -> %+v (%v)", b, back, err)
	}
	if !strings.Contains(string(b), `"d":"3s"`) {
		t.Fatalf("durations are not written as text: %s", b)
	}
}

func TestExpandRejectsBadPlans(t *testing.T) {
	fs := mustGet(t, "kill-one")
	for _, tc := range []struct {
		plan Sched
		want string
	}{
		{StartFault("partition-one", nil), `names fault "partition-one", which the run does not have`},
		{Until("the-moon", time.Second), `unknown condition "the-moon"`},
		{Sched{Op: "loop"}, `unknown schedule op "loop"`},
		{Forever(StopFault("kill-one")), "takes no time"},
		{OneOf(), "at least one"},
	} {
		if _, err := Expand(tc.plan, 1, fs, ids5(), time.Minute); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%+v: err %v, want %q", tc.plan, err, tc.want)
		}
	}
	if err := CheckSchedule([]Step{{Fault: -1, Until: "soon"}}, fs); err == nil {
		t.Fatal("a stored wait on an unknown condition passed the check")
	}
}

// A random schedule too dense to run (a 1ns interval over 30s would be
// 30 billion episodes) is refused after drawing a bounded number of
// steps, not laid out whole; and a lane that is full for the rest of the
// time limit ends the drawing early.
func TestDenseRandomScheduleIsRefusedQuickly(t *testing.T) {
	fs := mustGet(t, "kill-one", "partition-one")
	start := time.Now()
	_, err := Expand(RandomOver(time.Nanosecond), 1, fs, ids5(), 30*time.Second)
	if err == nil || !strings.Contains(err.Error(), "more than 4000 steps") {
		t.Fatalf("err %v, want the step bound", err)
	}
	if steps := Plan(1, fs, ids5(), time.Nanosecond, 30*time.Second); len(steps) > maxSteps+2 {
		t.Fatalf("Plan drew %d steps, want at most about %d", len(steps), maxSteps)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("took %s", took)
	}
}

// electing is a fake whose leadership follows the faults as a Raft
// cluster's would: cut off or killed, a leader is replaced by the lowest
// node that still sees a majority.
type electing struct {
	*fakeCluster
	term, commit uint64
}

func (c *electing) reelect() {
	c.mu.Lock()
	defer c.mu.Unlock()
	ok := func(id int) bool {
		if c.dead[id] {
			return false
		}
		sees := 0
		for j := 1; j <= c.n; j++ {
			if !c.dead[j] && !slices.Contains(c.grudge[id], j) {
				sees++
			}
		}
		return sees > c.n/2
	}
	if c.leader > 0 && ok(c.leader) {
		return
	}
	c.leader = 0
	for id := 1; id <= c.n; id++ {
		if ok(id) {
			c.leader, c.term = id, c.term+1
			return
		}
	}
}

func (c *electing) Partition(ctx context.Context, g cluster.Grudge) error {
	err := c.fakeCluster.Partition(ctx, g)
	c.reelect()
	return err
}
func (c *electing) Kill(ctx context.Context, id int) error {
	err := c.fakeCluster.Kill(ctx, id)
	c.reelect()
	return err
}
func (c *electing) Start(ctx context.Context, id int) error {
	err := c.fakeCluster.Start(ctx, id)
	c.reelect()
	return err
}
func (c *electing) Status(ctx context.Context, id int) (systems.Status, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead[id] {
		return systems.Status{}, context.DeadlineExceeded
	}
	if id == c.leader {
		c.commit++ // every look finds more committed
		return systems.Status{Ready: true, Role: "leader", Term: c.term, Commit: c.commit}, nil
	}
	return systems.Status{Ready: true, Role: "follower", Term: c.term}, nil
}

// The figure8 round aims every step at the nodes the cluster's state
// names: the old leader and a follower are cut off, the bystanders are
// killed and the new leader isolated, and once the old side leads and
// commits it is cut off again; the waits see each election.
func TestFigure8AimsAtTheLeadersItWaitsFor(t *testing.T) {
	seq, _ := SequenceByName("figure8")
	fs := mustGet(t, "figure8")
	if got := faultNames(fs); !reflect.DeepEqual(got, seq.Faults) {
		t.Fatalf("figure8 brings faults %v, want %v", got, seq.Faults)
	}
	steps, err := Expand(seq.Body(), 1, fs, ids5(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for i := range steps { // the fake needs no time to settle
		if steps[i].Sleep > 0 {
			steps[i].Sleep = time.Millisecond
		}
	}
	c := &electing{fakeCluster: newFake(5), term: 1}
	c.leader = 3
	rec := &memRecorder{}
	for _, f := range fs {
		if p, ok := f.(*Partition); ok {
			p.Onset = -1
		}
	}
	r := &Runner{Cluster: c, Faults: fs, Steps: steps, History: rec, Logger: slog.New(slog.DiscardHandler), StepTimeout: time.Second}
	r.Run(context.Background(), time.Now())
	r.StopAll(context.Background())
	var did []string
	for _, e := range rec.ev {
		if e.Type == history.Info && (e.Process == history.NemesisProcess || e.F == history.Wait) {
			did = append(did, string(e.F)+" "+e.Node)
		}
	}
	old := r.aim.Old
	if old != 3 || r.aim.New == 0 || r.aim.New == old || r.aim.New == r.aim.Buddy {
		t.Fatalf("aim after the round: %+v, want old leader n3 and a different new leader", r.aim)
	}
	newL := systems.NodeName(r.aim.New)
	var rest []string
	for id := 1; id <= 5; id++ {
		if id != old && id != r.aim.Buddy && id != r.aim.New {
			rest = append(rest, systems.NodeName(id))
		}
	}
	slow := append(slices.Clone(rest), newL)
	slices.Sort(slow)
	want := []string{
		"wait n3",
		"start-partition n3," + systems.NodeName(r.aim.Buddy),
		"start-link " + strings.Join(slow, ","),
		"wait " + newL,
		"kill " + strings.Join(rest, ","),
		"start-partition " + newL,
	}
	got := strings.Join(did, "; ")
	for i, w := range want {
		if i >= len(did) || !strings.HasPrefix(did[i], w) {
			t.Fatalf("figure8 did %q; step %d want %q", got, i, w)
		}
	}
	buddy := systems.NodeName(r.aim.Buddy)
	side := "start-partition n3," + buddy
	if !strings.Contains(got, "wait "+buddy+"; "+side) && !strings.Contains(got, "wait n3; "+side) {
		t.Fatalf("figure8 did not wait for the old side to lead and commit, then cut it off: %q", got)
	}
}

// runRoundOnFake runs one round of seq, its sleeps cut to a millisecond
// and its cuts landing at once, against five fake nodes led by n3.
func runRoundOnFake(t *testing.T, seq Sequence, fs []Fault, seed uint64) (*Runner, *memRecorder) {
	t.Helper()
	steps, err := Expand(seq.Body(), seed, fs, ids5(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for i := range steps {
		if steps[i].Sleep > 0 {
			steps[i].Sleep = time.Millisecond
		}
	}
	c := newFake(5)
	c.leader = 3
	for _, f := range fs {
		if p, ok := f.(*Partition); ok {
			p.Onset = -1
		}
	}
	rec := &memRecorder{}
	r := &Runner{Cluster: c, Faults: fs, Steps: steps, History: rec, Logger: slog.New(slog.DiscardHandler), StepTimeout: time.Second}
	r.Run(context.Background(), time.Now())
	r.StopAll(context.Background())
	return r, rec
}

// The lagging-follower round, twice over, isolates a follower (never the
// leader), then cuts the leader, that follower and one more node (a bare
// majority of five) off from the rest, and kills that side but the
// follower.
func TestLaggingFollowerAimsAtTheLeaderAndTheFollowerItCutOff(t *testing.T) {
	seq, _ := SequenceByName("lagging-follower")
	fs := mustGet(t, "lagging-follower")
	if got := faultNames(fs); !reflect.DeepEqual(got, seq.Faults) {
		t.Fatalf("lagging-follower brings faults %v, want %v", got, seq.Faults)
	}
	for seed := uint64(1); seed <= 5; seed++ {
		r, rec := runRoundOnFake(t, seq, fs, seed)
		lag, side := r.aim.Lag, r.aim.LagSide
		if lag == 0 || lag == 3 || len(side) != 2 || !slices.Contains(side, 3) || slices.Contains(side, lag) {
			t.Fatalf("seed %d: aim %+v, want a lagging follower (not n3) and a side of n3 and one other", seed, r.aim)
		}
		var did []string
		for _, e := range rec.ev {
			if e.Type == history.Info && e.Process == history.NemesisProcess {
				did = append(did, string(e.F)+" "+e.Node)
			}
		}
		majority := append(slices.Clone(side), lag)
		slices.Sort(majority)
		want := []string{
			"start-partition " + systems.NodeName(lag),
			"stop-partition",
			"start-partition " + nodeField(majority),
			"kill " + nodeField(side),
			"stop-partition",
			"restart " + nodeField(side),
		}
		if len(did) != 2*len(want) { // the aim holds the second cycle's nodes
			t.Fatalf("seed %d: lagging-follower did %q, want twice %q", seed, did, want)
		}
		for i, w := range want {
			if !strings.HasPrefix(did[len(want)+i], w) || !strings.HasPrefix(did[i], strings.Fields(w)[0]) {
				t.Fatalf("seed %d: lagging-follower did %q; step %d want %q", seed, did, i, w)
			}
		}
	}
}

// The stale-leader round makes the node its one-node cut isolated the hub
// of the rest once the leader is killed.
func TestStaleLeaderMakesTheNodeItCutOffTheHubOfTheRest(t *testing.T) {
	seq, _ := SequenceByName("stale-leader")
	fs := mustGet(t, "stale-leader")
	for seed := uint64(1); seed <= 5; seed++ {
		_, rec := runRoundOnFake(t, seq, fs, seed)
		var cut, hub string
		var hubGrudge map[string][]string
		for _, e := range rec.ev {
			if e.Type != history.Info || e.Process != history.NemesisProcess || e.F != history.StartPartition {
				continue
			}
			v, _ := e.Value.(map[string]any)
			switch v["fault"] {
			case "partition-one":
				cut = e.Node
			case "partition-hub":
				hub = e.Node
				hubGrudge, _ = v["grudge"].(map[string][]string)
			}
		}
		if cut == "" || hub != cut {
			t.Fatalf("seed %d: partition-one cut off %q, the hub is %q; want the same node", seed, cut, hub)
		}
		// Every node but the hub stops hearing the three others but the hub
		// (the dead leader included); the hub hears everyone.
		if len(hubGrudge[hub]) != 0 || len(hubGrudge) != 4 {
			t.Fatalf("seed %d: hub grudge %v, want four nodes cut from each other and %s from no one", seed, hubGrudge, hub)
		}
		for n, from := range hubGrudge {
			if len(from) != 3 || slices.Contains(from, hub) {
				t.Fatalf("seed %d: %s stops hearing %v, want the three others but hub %s", seed, n, from, hub)
			}
		}
	}
}
