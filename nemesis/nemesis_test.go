package nemesis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// fakeCluster records what faults do to it.
type fakeCluster struct {
	mu      sync.Mutex
	n       int
	leader  int // node whose status says leader; 0 for none
	dead    map[int]bool
	grudge  cluster.Grudge
	actions []string
}

var _ Cluster = (*fakeCluster)(nil)

func newFake(n int) *fakeCluster { return &fakeCluster{n: n, dead: map[int]bool{}} }

func (c *fakeCluster) Nodes() []systems.Endpoint {
	var out []systems.Endpoint
	for id := 1; id <= c.n; id++ {
		out = append(out, systems.Endpoint{ID: id, Name: systems.NodeName(id)})
	}
	return out
}
func (c *fakeCluster) log(s string) { c.mu.Lock(); c.actions = append(c.actions, s); c.mu.Unlock() }
func (c *fakeCluster) Kill(_ context.Context, id int) error {
	c.mu.Lock()
	c.dead[id] = true
	c.mu.Unlock()
	c.log("kill " + systems.NodeName(id))
	return nil
}
func (c *fakeCluster) Start(_ context.Context, id int) error {
	c.mu.Lock()
	delete(c.dead, id)
	c.mu.Unlock()
	c.log("start " + systems.NodeName(id))
	return nil
}
func (c *fakeCluster) Pause(context.Context, int) error  { return nil }
func (c *fakeCluster) Resume(context.Context, int) error { return nil }
func (c *fakeCluster) Status(_ context.Context, id int) (systems.Status, error) {
	if id == c.leader {
		return systems.Status{Ready: true, Role: "leader", Term: 3}, nil
	}
	return systems.Status{Ready: true, Role: "follower"}, nil
}
func (c *fakeCluster) Partition(_ context.Context, g cluster.Grudge) error {
	c.mu.Lock()
	c.grudge = g
	c.mu.Unlock()
	c.log("partition")
	return nil
}
func (c *fakeCluster) Heal(context.Context) error {
	c.mu.Lock()
	c.grudge = nil
	c.mu.Unlock()
	c.log("heal")
	return nil
}
func (c *fakeCluster) SetLinkToxic(_ context.Context, from, to int, t cluster.Toxic) error {
	c.log(fmt.Sprintf("%s %d->%d %vms", t.Name, from, to, t.Attributes["latency"]))
	return nil
}
func (c *fakeCluster) RemoveLinkToxic(_ context.Context, from, to int, name string) error {
	c.log(fmt.Sprintf("%s %d->%d 0s", name, from, to))
	return nil
}
func (c *fakeCluster) LinkFaults(context.Context) ([]string, error) { return nil, nil }
func (c *fakeCluster) SetClock(_ context.Context, id int, d time.Duration) error {
	c.log(fmt.Sprintf("clock %s %s", systems.NodeName(id), d))
	return nil
}
func (c *fakeCluster) Close() error { return nil }

type memRecorder struct {
	mu sync.Mutex
	ev []history.Event
}

func (m *memRecorder) Record(e history.Event) history.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.Index = len(m.ev)
	m.ev = append(m.ev, e)
	return e
}

func ids5() []int { return []int{1, 2, 3, 4, 5} }

func mustGet(t *testing.T, names ...string) []Fault {
	t.Helper()
	fs, err := Default().Get(names, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestPlanIsSeededAndKeepsEachLaneFreeOfOverlap(t *testing.T) {
	plan := func(seed uint64) []Step {
		return Plan(seed, mustGet(t, "all"), ids5(), 2*time.Second, 60*time.Second)
	}
	a, b := plan(7), plan(7)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different schedules")
	}
	if reflect.DeepEqual(a, plan(8)) {
		t.Fatal("seeds 7 and 8 gave the same schedule")
	}
	faults := mustGet(t, "all")
	if err := CheckSchedule(a, faults); err != nil {
		t.Fatal(err)
	}
	busy := map[string]int{} // lane -> fault active in it, +1
	overlap := false
	active := 0
	starts := map[string]int{}
	for i, s := range a {
		lane := faults[s.Fault].Lane()
		if s.At >= 60*time.Second || (i > 0 && s.At < a[i-1].At) {
			t.Fatalf("step %d at %s: out of order or past the time limit", i, s.At)
		}
		if s.Start {
			if busy[lane] != 0 {
				t.Fatalf("step %d starts %s while %s runs in lane %s", i, s.Name, faults[busy[lane]-1].Name(), lane)
			}
			busy[lane] = s.Fault + 1
			starts[s.Name]++
			active++
			overlap = overlap || active > 1
		} else {
			busy[lane] = 0
			active--
		}
	}
	if !overlap {
		t.Error("no two faults ever overlapped; faults of different lanes should")
	}
	for _, fam := range Families {
		if starts[fam] == 0 {
			t.Errorf("a minute of all at 2s intervals never started %s (starts: %v)", fam, starts)
		}
	}
	if Plan(1, nil, ids5(), time.Second, time.Minute) != nil {
		t.Fatal("no faults must give an empty schedule")
	}
}

func TestPlanOfOneFaultAlternatesAroundTheInterval(t *testing.T) {
	steps := Plan(3, mustGet(t, "partition"), ids5(), 5*time.Second, 60*time.Second)
	if len(steps) < 8 {
		t.Fatalf("a minute at 5s intervals gave %d steps, want at least 8", len(steps))
	}
	for i, s := range steps {
		if s.Start != (i%2 == 0) {
			t.Fatalf("step %d start=%v: one fault's starts and stops must alternate", i, s.Start)
		}
		if s.Start && (s.Choice == nil || len(s.Choice.Grudge) == 0 && s.Choice.Kind != "leader") {
			t.Fatalf("step %d: a partition start without its grudge: %+v", i, s.Choice)
		}
	}
}

func TestBisectCutsExactlyAcrossTheSplit(t *testing.T) {
	g := Bisect([]int{1, 2, 3, 4, 5}, []int{2, 4})
	want := cluster.Grudge{1: {2, 4}, 2: {1, 3, 5}, 3: {2, 4}, 4: {1, 3, 5}, 5: {2, 4}}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("grudge = %v, want %v", g, want)
	}
}

// hears reports whether a hears b under g.
func hears(g cluster.Grudge, a, b int) bool { return a == b || !slices.Contains(g[a], b) }

func TestMajorityRingGivesEveryNodeADifferentMajority(t *testing.T) {
	for _, n := range []int{3, 4, 5, 6, 7} {
		ids := make([]int, n)
		for i := range ids {
			ids[i] = i + 1
		}
		rng := rand.New(rand.NewPCG(uint64(n), 1))
		g := MajorityRing(rng.Perm(n), ids)
		seen := map[string]int{}
		for _, a := range ids {
			var sees []int
			for _, b := range ids {
				if hears(g, a, b) {
					sees = append(sees, b)
				}
			}
			if len(sees) != n/2+1 {
				t.Fatalf("n=%d: node %d hears %v, want a bare majority of %d", n, a, sees, n/2+1)
			}
			key := fmt.Sprint(sees)
			if other, dup := seen[key]; dup {
				t.Fatalf("n=%d: nodes %d and %d hear the same majority %v", n, other, a, sees)
			}
			seen[key] = a
		}
	}
}

func TestBridgeAndOneWayShapes(t *testing.T) {
	ids := ids5()
	g := Bridge(ids, 3, []int{1, 2})
	for _, a := range ids {
		for _, b := range ids {
			side := func(x int) int {
				if x == 1 || x == 2 {
					return 0
				}
				return 1
			}
			want := a == 3 || b == 3 || side(a) == side(b)
			if hears(g, a, b) != want {
				t.Fatalf("bridge: n%d hears n%d = %v, want %v (grudge %v)", a, b, !want, want, g)
			}
		}
	}
	g = OneWay(ids, []int{2})
	for _, b := range []int{1, 3, 4, 5} {
		if hears(g, 2, b) || !hears(g, b, 2) {
			t.Fatalf("one-way: n2 must not hear n%d while n%d hears n2 (grudge %v)", b, b, g)
		}
	}
}

func TestEveryShapeChoosesAGrudgeThatCutsSomething(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, shape := range PartitionShapes {
		p := &Partition{Kinds: []string{shape}, Onset: -1}
		ch := p.Choose(rng, ids5())
		if ch.Kind != shape {
			t.Fatalf("partition-%s chose %q", shape, ch.Kind)
		}
		c := newFake(5)
		if _, err := p.Start(context.Background(), c, ch); err != nil {
			t.Fatal(err)
		}
		if len(c.grudge) == 0 {
			t.Fatalf("partition-%s cut nothing", shape)
		}
		if _, err := p.Stop(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		if len(c.grudge) != 0 {
			t.Fatalf("partition-%s: stop left grudge %v", shape, c.grudge)
		}
		if slices.Contains(c.actions, "heal") {
			t.Fatalf("partition-%s: stop healed everything, which would remove other faults' link toxics", shape)
		}
	}
}

func TestRunnerRecordsStepsAndStopAllUndoesEverything(t *testing.T) {
	c := newFake(5)
	rec := &memRecorder{}
	faults := mustGet(t, "partition-halves", "kill-minority")
	rng := rand.New(rand.NewPCG(1, 2))
	ch0, ch1 := faults[0].Choose(rng, ids5()), faults[1].Choose(rng, ids5())
	r := &Runner{
		Cluster: c, Faults: faults, History: rec,
		Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), StepTimeout: time.Second,
		Steps: []Step{{At: 0, Fault: 0, Start: true, Choice: &ch0}, {At: 0, Fault: 1, Start: true, Choice: &ch1}},
	}
	r.Run(context.Background(), time.Now())
	c.mu.Lock()
	if len(c.grudge) == 0 {
		t.Error("partition start left no grudge")
	}
	if len(c.dead) == 0 || len(c.dead) > 2 {
		t.Errorf("kill-minority killed %d nodes, want 1..2 of 5", len(c.dead))
	}
	c.mu.Unlock()
	r.StopAll(context.Background())
	if len(c.grudge) != 0 || len(c.dead) != 0 {
		t.Fatalf("after StopAll grudge=%v dead=%v, want healed and all restarted", c.grudge, c.dead)
	}
	var fs []string
	for _, e := range rec.ev {
		if e.Process != history.NemesisProcess {
			t.Fatalf("nemesis event on process %d", e.Process)
		}
		if e.Type == history.Info {
			fs = append(fs, string(e.F))
			v := e.Value.(map[string]any)
			if (e.F == "start-partition" || e.F == "kill") && v[StepKey] == nil {
				t.Errorf("%s event has no step index: %v", e.F, v)
			}
		}
	}
	for _, f := range []string{"start-partition", "kill", "stop-partition", "restart"} {
		if !slices.Contains(fs, f) {
			t.Errorf("history lacks %s; has %v", f, fs)
		}
	}
}

func TestPartitionCutSpreadsLinkByLinkAndEndsComplete(t *testing.T) {
	c := &countingCluster{fakeCluster: newFake(5)}
	p := &Partition{Onset: 20 * time.Millisecond, Kinds: []string{"halves"}}
	ch := p.Choose(rand.New(rand.NewPCG(3, 4)), ids5())
	start := time.Now()
	if _, err := p.Start(context.Background(), c, ch); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 20*time.Millisecond {
		t.Fatalf("the cut took %s, less than its onset", took)
	}
	links := 0
	for _, from := range c.grudge {
		links += len(from)
	}
	if c.calls != links {
		t.Fatalf("%d Partition calls for %d cut links: want one step per link", c.calls, links)
	}
	for _, from := range c.grudge {
		slices.Sort(from)
	}
	if !reflect.DeepEqual(c.grudge, ch.Grudge) {
		t.Fatalf("final grudge %v, want the chosen %v", c.grudge, ch.Grudge)
	}
}

type countingCluster struct {
	*fakeCluster
	calls int
}

func (c *countingCluster) Partition(ctx context.Context, g cluster.Grudge) error {
	c.calls++
	cp := cluster.Grudge{}
	for k, v := range g {
		cp[k] = append([]int(nil), v...)
	}
	return c.fakeCluster.Partition(ctx, cp)
}

func TestLinkFaultsPutTheirToxicOnChosenLinksAndStopRemovesExactlyThose(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, kind := range append(slices.Clone(LinkKinds), "slow") {
		c := newFake(5)
		l := &Link{Kinds: []string{kind}}
		ch := l.Choose(rng, ids5())
		a, err := l.Start(context.Background(), c, ch)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		set := len(c.actions)
		if set == 0 || set != len(ch.Links) {
			t.Fatalf("%s: %d toxics set for %d chosen links", kind, set, len(ch.Links))
		}
		if links := a.Value["links"].([]string); len(links) != set {
			t.Fatalf("%s: history names %d links, %d got the toxic", kind, len(links), set)
		}
		if _, err := l.Stop(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		removed := 0
		for _, act := range c.actions[set:] {
			if strings.HasSuffix(act, " 0s") {
				removed++
			}
		}
		if removed != set {
			t.Fatalf("%s: stop removed %d toxics, want %d", kind, removed, set)
		}
	}
}

func TestFaultsAimAtTheLeaderAndReplayPinsIt(t *testing.T) {
	c := newFake(5)
	c.leader = 4
	p := &Partition{Kinds: []string{"leader"}, Onset: -1}
	ch := p.Choose(rand.New(rand.NewPCG(1, 1)), ids5())
	a, err := p.Start(context.Background(), c, ch)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Resolved, []int{4}) || !reflect.DeepEqual(c.grudge[4], []int{1, 2, 3, 5}) || a.Value["leader"] != "found" {
		t.Fatalf("partition-leader isolated %v (resolved %v), want n4", c.grudge, a.Resolved)
	}
	k := &Process{Action: "kill", Targets: []string{"leader"}}
	if a, err := k.Start(context.Background(), c, k.Choose(rand.New(rand.NewPCG(1, 1)), ids5())); err != nil || a.Node != "n4" {
		t.Fatalf("kill-leader killed %q (%v), want n4", a.Node, err)
	}
	// Pinned (a replay): the recorded node, whoever leads now.
	c = newFake(5)
	c.leader = 2
	ch.Nodes, ch.Pinned = []int{4}, true
	if a, _ := p.Start(context.Background(), c, ch); a.Resolved != nil || len(c.grudge[4]) != 4 || a.Value["leader"] != "pinned" {
		t.Fatalf("pinned partition-leader isolated %v, want n4 as recorded", c.grudge)
	}
	// No leader: the fallback chosen from the seed.
	c = newFake(5)
	ch.Pinned, ch.Nodes = false, []int{1}
	if a, _ := p.Start(context.Background(), c, ch); a.Resolved != nil || len(c.grudge[1]) != 4 || a.Value["leader"] != "fallback" {
		t.Fatalf("leaderless partition-leader isolated %v, want the fallback n1", c.grudge)
	}
}

func TestPinTakesResolvedNodesFromTheRecordedHistory(t *testing.T) {
	steps := []Step{
		{At: time.Second, Start: true, Choice: &Choice{Target: "leader", Nodes: []int{1}}},
		{At: 2 * time.Second},
	}
	events := []history.Event{
		{Process: history.NemesisProcess, Type: history.Invoke, F: "kill"},
		{Process: history.NemesisProcess, Type: history.Info, F: "kill", Value: map[string]any{StepKey: json.Number("0"), ResolvedKey: []any{json.Number("3")}}},
	}
	out := Pin(steps, events)
	if ch := out[0].Choice; !ch.Pinned || !reflect.DeepEqual(ch.Nodes, []int{3}) {
		t.Fatalf("pinned choice %+v, want nodes [3] pinned", ch)
	}
	if steps[0].Choice.Pinned {
		t.Fatal("Pin changed its input")
	}
}

func TestProcessTargetsPickTheRightNumberOfNodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	want := map[string][2]int{"one": {1, 1}, "minority": {1, 2}, "majority": {3, 3}, "all": {5, 5}, "leader": {1, 1}}
	for target, w := range want {
		p := &Process{Action: "pause", Targets: []string{target}}
		for range 20 {
			ch := p.Choose(rng, ids5())
			if n := len(ch.Nodes); n < w[0] || n > w[1] {
				t.Fatalf("pause-%s chose %v, want %d..%d nodes", target, ch.Nodes, w[0], w[1])
			}
		}
	}
}

func TestClockFaultsSetOffsetsAndStopResetsThem(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, kind := range ClockKinds {
		c := newFake(5)
		k := &Clock{Kinds: []string{kind}}
		ch := k.Choose(rng, ids5())
		if len(ch.Nodes) == 0 || len(ch.Offsets) != len(ch.Nodes) {
			t.Fatalf("%s chose nodes %v offsets %v", kind, ch.Nodes, ch.Offsets)
		}
		for _, ms := range ch.Offsets {
			if ms > -100 && ms < 100 || ms > 300_000 || ms < -300_000 {
				t.Fatalf("%s: offset %dms outside ±100ms..5min", kind, ms)
			}
		}
		if _, err := k.Start(context.Background(), c, ch); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Stop(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		last := map[string]string{}
		for _, a := range c.actions {
			f := strings.Fields(a)
			last[f[1]] = f[2]
		}
		for _, id := range ch.Nodes {
			if got := last[systems.NodeName(id)]; got != "0s" {
				t.Fatalf("%s: n%d left at offset %s after stop", kind, id, got)
			}
		}
	}
}

func TestRegistryNamesFamiliesMembersAliasesAndAll(t *testing.T) {
	r := Default()
	if _, err := r.Expand([]string{"partition", "flood"}); err == nil || !strings.Contains(err.Error(), `unknown nemesis "flood" (valid: all, none, a family — partition, link, kill, pause, clock, power-loss — or a member`) {
		t.Fatalf("unknown fault: err = %v", err)
	}
	if _, err := r.Expand([]string{"kill", "kill"}); err == nil {
		t.Fatal("duplicate fault accepted")
	}
	if _, err := r.Expand([]string{"kill-leader", "kill:leader"}); err == nil {
		t.Fatal("alias of a fault already given accepted twice")
	}
	if got, err := r.Expand([]string{"none"}); err != nil || got != nil {
		t.Fatalf("none gave %v, %v", got, err)
	}
	if got, _ := r.Expand([]string{"all"}); !reflect.DeepEqual(got, Families) {
		t.Fatalf("all = %v, want %v", got, Families)
	}
	got, err := r.Expand([]string{"partition:bridge", "Kill:Leader", "power-loss"})
	if err != nil || !reflect.DeepEqual(got, []string{"partition-bridge", "kill-leader", "power-loss"}) {
		t.Fatalf("aliases gave %v, %v", got, err)
	}
	if _, err := r.Get([]string{"partition-grudge"}, Options{}); err == nil || !strings.Contains(err.Error(), "--grudge") {
		t.Fatalf("partition-grudge without a grudge: %v", err)
	}
	fs := mustGet(t, "power-loss-all", "pause")
	if !NeedsLazyStorage(fs) || NeedsLazyStorage(fs[1:]) {
		t.Fatal("NeedsLazyStorage must be true exactly when a power loss is among the faults")
	}
	for _, e := range r.Entries() {
		if e.Summary == "" {
			t.Errorf("%s has no description", e.Name)
		}
	}
}

func TestParseGrudge(t *testing.T) {
	g, err := ParseGrudge("n1,n2|3", 5)
	if err != nil || !reflect.DeepEqual(g, cluster.Grudge{1: {3}, 2: {3}, 3: {1, 2}}) {
		t.Fatalf("components: %v, %v", g, err)
	}
	g, err = ParseGrudge(`{"n1": ["n2", "n3"]}`, 3)
	if err != nil || !reflect.DeepEqual(g, cluster.Grudge{1: {2, 3}}) {
		t.Fatalf("json: %v, %v", g, err)
	}
	for _, bad := range []string{"", "n1,n2", "n1|n9", `{"n1": ["n1"]}`, "n1|n1", "{"} {
		if _, err := ParseGrudge(bad, 5); err == nil {
			t.Errorf("grudge %q accepted", bad)
		}
	}
}

// slowCluster's Start takes a while, like a node restart waiting for ready.
type slowCluster struct{ *fakeCluster }

func (c slowCluster) Start(ctx context.Context, id int) error {
	select {
	case <-time.After(50 * time.Millisecond):
		return c.fakeCluster.Start(ctx, id)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestAStepBegunBeforeTheTimeLimitFinishesButCancelCutsIt(t *testing.T) {
	for _, cancelled := range []bool{false, true} {
		c := slowCluster{newFake(3)}
		k := &Process{Action: "kill", Targets: []string{"one"}}
		r := &Runner{Cluster: c, Faults: []Fault{k}, History: &memRecorder{},
			Logger: slog.New(slog.DiscardHandler), StepTimeout: time.Second}
		r.do(context.Background(), 0, 0, true, &Choice{Target: "one", Nodes: []int{2}})
		var ctx context.Context
		var cancel context.CancelFunc
		if cancelled {
			ctx, cancel = context.WithCancel(context.Background())
			time.AfterFunc(10*time.Millisecond, cancel)
		} else {
			ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
		}
		r.do(ctx, 1, 0, false, nil)
		cancel()
		if restarted := !c.dead[2]; restarted == cancelled {
			t.Errorf("cancelled=%v: restart finished=%v; the time limit must not cut a step short, a cancel must", cancelled, restarted)
		}
	}
}

// Every fault's start event says in words what it did and names the nodes
// it acted on, so a report shows both without decoding Value.
func TestEveryFaultLabelsItsStartAndNamesItsNodes(t *testing.T) {
	for _, tc := range []struct {
		fault string
		label *regexp.Regexp
	}{
		{"partition-halves", regexp.MustCompile(`^halves: n\d( n\d)* \| n\d( n\d)*$`)},
		{"partition-one", regexp.MustCompile(`^one: n\d \| n\d n\d n\d n\d$`)},
		{"partition-majority-ring", regexp.MustCompile(`^majority-ring: cut (n\d )*n\d→n\d`)},
		{"partition-bridge", regexp.MustCompile(`^bridge: cut `)},
		{"partition-one-way", regexp.MustCompile(`^one-way: cut `)},
		{"slow", regexp.MustCompile(`^link slow: 50±50 ms on \d+ links$`)},
		{"link-blackhole", regexp.MustCompile(`^link blackhole on \d+ links`)},
		{"kill-minority", regexp.MustCompile(`^kill n\d( n\d)? \(minority\)$`)},
		{"pause-one", regexp.MustCompile(`^pause n\d \(one\)$`)},
		{"clock-bump", regexp.MustCompile(`^clock bump: n\d [+-]\d`)},
	} {
		f := mustGet(t, tc.fault)[0]
		ch := f.Choose(rand.New(rand.NewPCG(3, 4)), ids5())
		a, err := f.Start(context.Background(), newFake(5), ch)
		if err != nil {
			t.Fatalf("%s: %v", tc.fault, err)
		}
		if !tc.label.MatchString(a.Label) {
			t.Errorf("%s: label %q, want %s", tc.fault, a.Label, tc.label)
		}
		if a.Node == "" || !regexp.MustCompile(`^n\d(,n\d)*$`).MatchString(a.Node) {
			t.Errorf("%s: start names nodes %q, want the nodes it acted on", tc.fault, a.Node)
		}
	}
}
