package gossip

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/freeport"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/clock"
)

func testOptions() Options {
	o := DefaultOptions()
	o.Tick = 20 * time.Millisecond
	return o
}

// testCluster runs nodes in-process, wired directly to each other's peer
// ports (no mesh).
type testCluster struct {
	t     *testing.T
	cfgs  map[int]systems.NodeConfig
	stops map[int]func()
}

func newTestCluster(t *testing.T, n int, bugs ...string) *testCluster {
	t.Helper()
	dir := t.TempDir()
	c := &testCluster{t: t, cfgs: map[int]systems.NodeConfig{}, stops: map[int]func(){}}
	addrs := freeport.MustTake(t, 3*n)
	for id := 1; id <= n; id++ {
		peers := map[int]string{}
		for p := 1; p <= n; p++ {
			if p != id {
				peers[p] = addrs[3*(p-1)]
			}
		}
		c.cfgs[id] = systems.NodeConfig{
			System: "gossip", ID: id, Name: systems.NodeName(id),
			PeerListen: addrs[3*(id-1)], ClientListen: addrs[3*(id-1)+1], AdminListen: addrs[3*(id-1)+2],
			Peers: peers, DataDir: filepath.Join(dir, systems.NodeName(id)), Bugs: bugs,
			Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
			Clock:  clock.New(),
		}
	}
	t.Cleanup(func() {
		for id := range c.stops {
			c.stop(id)
		}
	})
	for id := 1; id <= n; id++ {
		c.start(id)
	}
	return c
}

func (c *testCluster) start(id int) {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runNode(ctx, c.cfgs[id], testOptions()) }()
	c.stops[id] = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				c.t.Errorf("n%d exited: %v", id, err)
			}
		case <-time.After(10 * time.Second):
			c.t.Errorf("n%d did not stop within 10s", id)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := c.status(id); err == nil && st.Ready {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatalf("n%d not ready after 10s", id)
}

func (c *testCluster) stop(id int) {
	c.t.Helper()
	c.stops[id]()
	delete(c.stops, id)
}

func (c *testCluster) status(id int) (systems.Status, error) {
	var st systems.Status
	resp, err := http.Get("http://" + c.cfgs[id].AdminListen + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

func (c *testCluster) endpoint(id int) systems.Endpoint {
	cfg := c.cfgs[id]
	return systems.Endpoint{ID: id, Name: cfg.Name, Client: cfg.ClientListen, Admin: cfg.AdminListen}
}

func (c *testCluster) do(cl systems.Client, id int, op systems.Op) systems.Completion {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res := cl.Invoke(ctx, c.endpoint(id), op)
	if res.Type != history.OK {
		c.t.Fatalf("%s %s %v on n%d: %s %s", op.F, op.Key, op.Value, id, res.Type, res.Error)
	}
	return res
}

// eventually waits until every node reads want for key.
func (c *testCluster) eventually(cl systems.Client, key string, want any) {
	c.t.Helper()
	wantKey := history.ValueKey(want)
	deadline := time.Now().Add(10 * time.Second)
	var got map[int]string
	for time.Now().Before(deadline) {
		got = map[int]string{}
		same := true
		for id := range c.stops {
			v := history.ValueKey(c.do(cl, id, systems.Op{F: "read", Key: key}).Value)
			got[id] = v
			same = same && v == wantKey
		}
		if same {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("%s did not converge to %s: %v", key, wantKey, got)
}

func TestSetAddsOnEveryNodeConvergeEverywhere(t *testing.T) {
	c := newTestCluster(t, 3)
	cl := newClient("set")
	want := []any{}
	for i := 1; i <= 30; i++ {
		c.do(cl, 1+i%3, systems.Op{F: "add", Key: "s", Value: i})
	}
	c.do(cl, 2, systems.Op{F: "remove", Key: "s", Value: 1}) // n2 got add 1 from n2 itself
	for i := 2; i <= 30; i++ {
		want = append(want, json.Number(fmt.Sprint(i)))
	}
	// Elements sort as JSON text.
	c.eventually(cl, "s", sortedByText(want))
}

func sortedByText(vs []any) []any {
	out := append([]any(nil), vs...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if history.ValueKey(out[j]) < history.ValueKey(out[i]) {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestCounterSurvivesRestartAndAntiEntropyRepairsIt(t *testing.T) {
	c := newTestCluster(t, 3)
	cl := newClient("counter")
	c.stop(3)
	for i := range 20 {
		c.do(cl, 1+i%2, systems.Op{F: "add", Key: "c", Value: 5})
	}
	c.do(cl, 1, systems.Op{F: "add", Key: "c", Value: -30})
	// n3 was down for every push and n1 restarts: both must end up with
	// everything n1 acknowledged (durable) and n2 holds.
	c.stop(1)
	c.start(1)
	c.start(3)
	c.eventually(cl, "c", json.Number("70"))
}

func TestMembershipViewMarksAStoppedNodeDead(t *testing.T) {
	c := newTestCluster(t, 3)
	c.stop(2)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		a, errA := c.status(1)
		b, errB := c.status(3)
		if errA == nil && errB == nil && a.Members["n2"] == "dead" && b.Members["n2"] == "dead" {
			if a.Members["n3"] != "alive" || b.Members["n1"] != "alive" {
				t.Fatalf("live nodes not alive in views: %v %v", a.Members, b.Members)
			}
			c.start(2)
			for time.Now().Before(deadline) {
				if a, _ := c.status(1); a.Members["n2"] == "alive" {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Fatal("restarted n2 not alive again in n1's view")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("n2 not declared dead by n1 and n3 within 10s")
}

// splitCounts has n1 and n2 count 10 adds each while the other is down,
// then brings every node up.
func splitCounts(c *testCluster, cl *client) {
	// n1 and n2 each count adds while the other is down, so neither copy
	// holds the other's: merging gives 20, but replicas that only ever
	// overwrite can never hold both halves. (Concurrent adds on a live
	// cluster lose something only when copies happen to cross, which
	// depends on load.)
	c.stop(2)
	c.stop(3)
	for range 10 {
		c.do(cl, 1, systems.Op{F: "add", Key: "c", Value: 1})
	}
	c.stop(1)
	c.start(2)
	for range 10 {
		c.do(cl, 2, systems.Op{F: "add", Key: "c", Value: 1})
	}
	c.start(1)
	c.start(3)
}

func TestSplitCountsMerge(t *testing.T) {
	c := newTestCluster(t, 3)
	cl := newClient("counter")
	splitCounts(c, cl)
	c.eventually(cl, "c", json.Number("20"))
}

func TestMergeOverwriteLosesCounterUpdates(t *testing.T) {
	c := newTestCluster(t, 3, BugMergeOverwrite)
	cl := newClient("counter")
	splitCounts(c, cl)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		all := true
		for id := 1; id <= 3; id++ {
			if history.ValueKey(c.do(cl, id, systems.Op{F: "read", Key: "c"}).Value) != "20" {
				all = false
			}
		}
		if all {
			t.Fatal("with merge-overwrite every node still counts all 20 adds")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRegisterIsLastWriterWinsAcrossNodes(t *testing.T) {
	c := newTestCluster(t, 3)
	cl := newClient("register")
	c.do(cl, 1, systems.Op{F: "write", Key: "r", Value: "a"})
	c.eventually(cl, "r", "a")
	c.do(cl, 2, systems.Op{F: "write", Key: "r", Value: "b"})
	c.eventually(cl, "r", "b")
}

func TestBadRequestsFail(t *testing.T) {
	c := newTestCluster(t, 3)
	ctx := context.Background()
	res := newClient("counter").Invoke(ctx, c.endpoint(1), systems.Op{F: "add", Key: "c", Value: "x"})
	if res.Type != history.Fail {
		t.Fatalf("add of a string: %s %s, want fail", res.Type, res.Error)
	}
	res = newClient("set").Invoke(ctx, c.endpoint(1), systems.Op{F: "cas", Key: "s"})
	if res.Type != history.Fail {
		t.Fatalf("unsupported op: %s, want fail", res.Type)
	}
}

// A write that follows another (its node has seen the first) must win even
// when the first writer's clock runs ahead: the HLC carries the causal
// order. Stamped with the bare wall clock (lww-wall-clock), it loses.
func TestLaterWriteWinsDespiteSkewOnlyWithHLC(t *testing.T) {
	for _, tc := range []struct {
		bugs []string
		want string
	}{{nil, "second"}, {[]string{BugLWWWallClock}, "first"}} {
		c := newTestCluster(t, 3, tc.bugs...)
		cl := newClient("register")
		c.cfgs[1].Clock.SetOffset(time.Hour) // n1's clock is an hour ahead
		c.do(cl, 1, systems.Op{F: "write", Key: "r", Value: "first"})
		c.eventually(cl, "r", "first")
		c.do(cl, 2, systems.Op{F: "write", Key: "r", Value: "second"})
		time.Sleep(500 * time.Millisecond)
		c.eventually(cl, "r", tc.want)
		for id := range c.stops {
			c.stop(id)
		}
	}
}
