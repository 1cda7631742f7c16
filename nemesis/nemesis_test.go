package nemesis

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/systems"
)

// fakeCluster records what faults do to it.
type fakeCluster struct {
	mu      sync.Mutex
	n       int
	leader  int // node whose status says leader; 0 for none
	dead    map[int]bool
	grudge  runtime.Grudge
	actions []string
}

var _ runtime.Cluster = (*fakeCluster)(nil)

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
func (c *fakeCluster) Partition(_ context.Context, g runtime.Grudge) error {
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
func (c *fakeCluster) SetLinkToxic(_ context.Context, from, to int, t runtime.Toxic) error {
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

func TestPlanIsSeededAlternatingAndBounded(t *testing.T) {
	a := Plan(7, 2, 5*time.Second, 30*time.Second)
	b := Plan(7, 2, 5*time.Second, 30*time.Second)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different schedules")
	}
	if len(a) != 5 {
		t.Fatalf("30s at 5s intervals: got %d steps, want 5 (start 5, stop 10, start 15, stop 20, start 25)", len(a))
	}
	for i, s := range a {
		if s.Start != (i%2 == 0) {
			t.Fatalf("step %d start=%v: starts and stops must alternate", i, s.Start)
		}
		if i%2 == 1 && s.Fault != a[i-1].Fault {
			t.Fatalf("step %d stops fault %d, but fault %d was started", i, s.Fault, a[i-1].Fault)
		}
		if s.At >= 30*time.Second {
			t.Fatalf("step %d at %s is past the time limit", i, s.At)
		}
	}
	differs := false
	for seed := uint64(1); seed < 20 && !differs; seed++ {
		differs = !reflect.DeepEqual(a, Plan(seed, 2, 5*time.Second, 30*time.Second))
	}
	if !differs {
		t.Fatal("every seed gave the same schedule")
	}
	if Plan(1, 0, time.Second, time.Minute) != nil {
		t.Fatal("no faults must give an empty schedule")
	}
}

func TestBisectCutsExactlyAcrossTheSplit(t *testing.T) {
	g := Bisect([]int{1, 2, 3, 4, 5}, []int{2, 4})
	want := runtime.Grudge{1: {2, 4}, 2: {1, 3, 5}, 3: {2, 4}, 4: {1, 3, 5}, 5: {2, 4}}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("grudge = %v, want %v", g, want)
	}
}

func TestPartitionAndKillActOnTheClusterAndRecordEvents(t *testing.T) {
	c := newFake(5)
	rec := &memRecorder{}
	faults, err := Default().Get([]string{"partition", "kill"})
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{
		Cluster: c, Faults: faults, Rand: rand.New(rand.NewPCG(1, 2)), History: rec,
		Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), StepTimeout: time.Second,
		Steps: []Step{{At: 0, Fault: 0, Start: true}, {At: 0, Fault: 1, Start: true}},
	}
	r.Run(context.Background(), time.Now())
	c.mu.Lock()
	if len(c.grudge) == 0 {
		t.Error("partition start left no grudge")
	}
	if len(c.dead) == 0 || len(c.dead) > 2 {
		t.Errorf("kill killed %d nodes, want 1..2 of 5", len(c.dead))
	}
	c.mu.Unlock()
	r.StopAll(context.Background())
	if c.grudge != nil || len(c.dead) != 0 {
		t.Fatalf("after StopAll grudge=%v dead=%v, want healed and all restarted", c.grudge, c.dead)
	}
	var fs []string
	for _, e := range rec.ev {
		if e.Process != history.NemesisProcess {
			t.Fatalf("nemesis event on process %d", e.Process)
		}
		if e.Type == history.Info {
			fs = append(fs, e.F)
		}
	}
	for _, f := range []string{"start-partition", "kill", "stop-partition", "restart"} {
		if !slices.Contains(fs, f) {
			t.Errorf("history lacks %s; has %v", f, fs)
		}
	}
	if len(rec.ev) != 8 {
		t.Errorf("recorded %d events, want an invoke and an info for each of 4 steps", len(rec.ev))
	}
}

func TestPartitionCutSpreadsLinkByLinkAndEndsComplete(t *testing.T) {
	c := &countingCluster{fakeCluster: newFake(5)}
	p := &Partition{Onset: 20 * time.Millisecond}
	start := time.Now()
	if _, err := p.Start(context.Background(), c, rand.New(rand.NewPCG(3, 4))); err != nil {
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
	// The final grudge is a clean bisection: symmetric, and every node
	// that hears nobody from the other side hears everyone on its own.
	for a, from := range c.grudge {
		for _, b := range from {
			if !slices.Contains(c.grudge[b], a) {
				t.Fatalf("final grudge %v is not symmetric (%d ignores %d)", c.grudge, a, b)
			}
		}
	}
}

type countingCluster struct {
	*fakeCluster
	calls int
}

func (c *countingCluster) Partition(ctx context.Context, g runtime.Grudge) error {
	c.calls++
	cp := runtime.Grudge{}
	for k, v := range g {
		cp[k] = append([]int(nil), v...)
	}
	return c.fakeCluster.Partition(ctx, cp)
}

func TestSlowDelaysSomeLinksAndStopRemovesExactlyThose(t *testing.T) {
	c := newFake(5)
	s := &Slow{}
	a, err := s.Start(context.Background(), c, rand.New(rand.NewPCG(9, 9)))
	if err != nil {
		t.Fatal(err)
	}
	slowed := len(c.actions)
	if slowed == 0 || slowed == 20 {
		t.Fatalf("slowed %d of 20 links, want some but not all", slowed)
	}
	if links := a.Value.(map[string]any)["links"].([]string); len(links) != slowed {
		t.Fatalf("history names %d links, %d were slowed", len(links), slowed)
	}
	if _, err := s.Stop(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	removed := 0
	for _, act := range c.actions[slowed:] {
		if strings.HasSuffix(act, " 0s") {
			removed++
		}
	}
	if removed != slowed {
		t.Fatalf("stop removed %d delays, want %d", removed, slowed)
	}
}

func TestFaultsAimAtTheLeaderWhenThereIsOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	isolated, killed := 0, 0
	for range 60 {
		c := newFake(5)
		c.leader = 4
		a, err := (&Partition{Onset: -1}).Start(context.Background(), c, rng)
		if err != nil {
			t.Fatal(err)
		}
		if v := a.Value.(map[string]any); v["kind"] == "isolate-leader" {
			if comps := v["components"].([][]string); len(comps[0]) != 1 || comps[0][0] != "n4" {
				t.Fatalf("isolate-leader isolated %v, want n4", comps[0])
			}
			isolated++
		}
		k := &Kill{}
		if _, err := k.Start(context.Background(), c, rng); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(k.killed, 4) {
			killed++
		}
	}
	// A third of partitions isolate the leader; half of kills take it,
	// plus the chance of picking it at random.
	if isolated < 10 || isolated > 30 {
		t.Errorf("leader isolated in %d of 60 partitions, want about 20", isolated)
	}
	if killed < 25 || killed > 50 {
		t.Errorf("leader killed in %d of 60 kills, want about 38", killed)
	}
	// With no leader reported, no partition claims to isolate one.
	c := newFake(5)
	for range 20 {
		a, _ := (&Partition{Onset: -1}).Start(context.Background(), c, rng)
		if a.Value.(map[string]any)["kind"] == "isolate-leader" {
			t.Fatal("isolate-leader without a leader")
		}
	}
}

func TestRegistryRejectsUnknownAndDuplicateFaults(t *testing.T) {
	if _, err := Default().Get([]string{"partition", "flood"}); err == nil {
		t.Fatal("unknown fault accepted")
	} else if want := `unknown nemesis "flood" (valid: kill, partition, slow, or none)`; err.Error() != want {
		t.Fatalf("err = %q, want %q", err, want)
	}
	if _, err := Default().Get([]string{"kill", "kill"}); err == nil {
		t.Fatal("duplicate fault accepted")
	}
	if fs, err := Default().Get([]string{"none"}); err != nil || fs != nil {
		t.Fatalf("none gave %v, %v", fs, err)
	}
}
