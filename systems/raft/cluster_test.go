package raft

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/freeport"
	"github.com/faultline/faultline/systems"
)

// testCluster runs n nodes in this process on 127.0.0.1, wired directly
// (no mesh). Stopping a node cancels its ctx; its data dir stays.
type testCluster struct {
	t       testing.TB
	opts    nodeOptions
	cfgs    map[int]systems.NodeConfig
	cancels map[int]context.CancelFunc
	done    map[int]chan error
	eps     []systems.Endpoint
	client  *client
	hc      *http.Client
}

func newTestCluster(t testing.TB, n int, opts nodeOptions) *testCluster {
	t.Helper()
	c := &testCluster{t: t, opts: opts, cfgs: map[int]systems.NodeConfig{}, cancels: map[int]context.CancelFunc{},
		done: map[int]chan error{}, hc: &http.Client{Timeout: time.Second}}
	dir := t.TempDir()
	addrs := freeport.MustTake(t, 3*n)
	peer := map[int]string{}
	for id := 1; id <= n; id++ {
		peer[id] = addrs[3*(id-1)]
	}
	level := slog.LevelWarn
	if os.Getenv("RAFT_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	for id := 1; id <= n; id++ {
		cfg := systems.NodeConfig{
			System: "raft", ID: id, Name: systems.NodeName(id),
			PeerListen: peer[id], ClientListen: addrs[3*(id-1)+1], AdminListen: addrs[3*(id-1)+2],
			Peers: map[int]string{}, DataDir: filepath.Join(dir, systems.NodeName(id)), Logger: logger,
		}
		for j := 1; j <= n; j++ {
			if j != id {
				cfg.Peers[j] = peer[j]
			}
		}
		c.cfgs[id] = cfg
		c.eps = append(c.eps, systems.Endpoint{ID: id, Name: cfg.Name, Client: cfg.ClientListen, Admin: cfg.AdminListen})
	}
	c.client = newClient(c.eps, 5*time.Second)
	t.Cleanup(func() {
		for id := range c.cancels {
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
	if c.cancels[id] != nil {
		c.t.Fatalf("node %d already running", id)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	c.cancels[id], c.done[id] = cancel, done
	cfg := c.cfgs[id]
	go func() { done <- runNode(ctx, cfg, c.opts) }()
	c.waitFor(5*time.Second, fmt.Sprintf("node %d ready", id), func() bool {
		st, err := c.status(id)
		return err == nil && st.Ready
	})
}

func (c *testCluster) stop(id int) {
	c.t.Helper()
	cancel := c.cancels[id]
	if cancel == nil {
		return
	}
	cancel()
	select {
	case err := <-c.done[id]:
		if err != nil {
			c.t.Errorf("node %d exited with %v", id, err)
		}
	case <-time.After(10 * time.Second):
		c.t.Fatalf("node %d did not stop within 10s", id)
	}
	delete(c.cancels, id)
	delete(c.done, id)
}

func (c *testCluster) status(id int) (systems.Status, error) {
	var st systems.Status
	resp, err := c.hc.Get("http://" + c.cfgs[id].AdminListen + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

func (c *testCluster) waitFor(d time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// leader waits until the running nodes agree on one leader, and returns
// its ID.
func (c *testCluster) leader() int {
	c.t.Helper()
	var lead int
	c.waitFor(10*time.Second, "a leader", func() bool {
		lead = 0
		for id := range c.cancels {
			st, err := c.status(id)
			if err != nil {
				return false
			}
			if st.Role == "leader" {
				if lead != 0 {
					return false
				}
				lead = id
			}
		}
		if lead == 0 {
			return false
		}
		name := systems.NodeName(lead)
		for id := range c.cancels {
			if st, err := c.status(id); err != nil || st.Leader != name {
				return false
			}
		}
		return true
	})
	return lead
}

func (c *testCluster) invoke(node int, op systems.Op) systems.Completion {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.client.Invoke(ctx, c.eps[node-1], op)
}

// mustOK runs op (retrying while it certainly failed, e.g. no leader yet)
// and fails the test unless it ends OK.
func (c *testCluster) mustOK(node int, op systems.Op) systems.Completion {
	c.t.Helper()
	var comp systems.Completion
	for range 20 {
		comp = c.invoke(node, op)
		if comp.Type != history.Fail || op.F == "cas" {
			break
		}
	}
	if comp.Type != history.OK {
		c.t.Fatalf("%s %s %v on n%d: %s %s", op.F, op.Key, op.Value, node, comp.Type, comp.Error)
	}
	return comp
}

func testOptions() nodeOptions { return defaultNodeOptions() }

func valueOf(c systems.Completion) string { return history.ValueKey(c.Value) }

func TestClusterReadWriteCAS(t *testing.T) {
	c := newTestCluster(t, 3, testOptions())
	lead := c.leader()
	follower := lead%3 + 1
	// Through a follower: the client follows the redirect.
	comp := c.mustOK(follower, systems.Op{F: "write", Key: "a", Value: 1})
	if comp.Node != systems.NodeName(lead) {
		t.Errorf("write through n%d served by %q, want the leader n%d", follower, comp.Node, lead)
	}
	if got := valueOf(c.mustOK(follower, systems.Op{F: "read", Key: "a"})); got != "1" {
		t.Fatalf("read a = %s, want 1", got)
	}
	if got := c.mustOK(lead, systems.Op{F: "read", Key: "missing"}); got.Value != nil {
		t.Fatalf("read of a missing key = %v, want nil", got.Value)
	}
	c.mustOK(lead, systems.Op{F: "cas", Key: "a", Value: []any{1, 2}})
	if comp := c.invoke(lead, systems.Op{F: "cas", Key: "a", Value: []any{1, 3}}); comp.Type != history.Fail || comp.Error != errCASMismatch {
		t.Fatalf("cas with a stale expected value: %s %q, want fail %q", comp.Type, comp.Error, errCASMismatch)
	}
	if got := valueOf(c.mustOK(lead, systems.Op{F: "read", Key: "a"})); got != "2" {
		t.Fatalf("read a after cas = %s, want 2", got)
	}
	// JSON values other than numbers round-trip, and cas compares them
	// canonically.
	c.mustOK(lead, systems.Op{F: "write", Key: "o", Value: map[string]any{"y": 1, "x": []int{2}}})
	c.mustOK(lead, systems.Op{F: "cas", Key: "o", Value: []any{json.RawMessage(`{"x":[2],  "y":1}`), "s"}})
	if got := valueOf(c.mustOK(lead, systems.Op{F: "read", Key: "o"})); got != `"s"` {
		t.Fatalf("read o = %s, want \"s\"", got)
	}
	if comp := c.invoke(lead, systems.Op{F: "incr", Key: "a"}); comp.Type != history.Fail {
		t.Fatalf("unsupported op: %s, want fail", comp.Type)
	}
}

func TestClusterFailoverKeepsData(t *testing.T) {
	c := newTestCluster(t, 3, testOptions())
	lead := c.leader()
	for i := range 20 {
		c.mustOK(lead, systems.Op{F: "write", Key: fmt.Sprintf("k%d", i), Value: i})
	}
	c.stop(lead)
	newLead := c.leader()
	if newLead == lead {
		t.Fatalf("stopped node %d still leads", lead)
	}
	for i := range 20 {
		if got := valueOf(c.mustOK(newLead, systems.Op{F: "read", Key: fmt.Sprintf("k%d", i)})); got != fmt.Sprint(i) {
			t.Fatalf("after failover k%d = %s, want %d", i, got, i)
		}
	}
	c.mustOK(newLead, systems.Op{F: "write", Key: "after", Value: "x"})
	// The old leader restarts on its data dir and rejoins as a follower.
	c.start(lead)
	if got := c.leader(); got != newLead {
		t.Logf("leadership moved again to n%d", got)
	}
	// Restart everyone: the data comes back from disk.
	for id := 1; id <= 3; id++ {
		c.stop(id)
	}
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	lead = c.leader()
	for i := range 20 {
		if got := valueOf(c.mustOK(lead, systems.Op{F: "read", Key: fmt.Sprintf("k%d", i)})); got != fmt.Sprint(i) {
			t.Fatalf("after full restart k%d = %s, want %d", i, got, i)
		}
	}
	if got := valueOf(c.mustOK(lead, systems.Op{F: "read", Key: "after"})); got != `"x"` {
		t.Fatalf("after full restart: after = %s", got)
	}
}

// A follower that was down while the leader compacted its log catches up
// through a snapshot, and keeps the state across its own restart.
func TestClusterSnapshotCatchUp(t *testing.T) {
	opts := testOptions()
	opts.snapshotEvery = 50
	c := newTestCluster(t, 3, opts)
	lead := c.leader()
	lagger := lead%3 + 1
	c.stop(lagger)
	for i := range 200 {
		c.mustOK(lead, systems.Op{F: "write", Key: fmt.Sprintf("s%d", i), Value: i})
	}
	if _, err := os.Stat(filepath.Join(c.cfgs[lead].DataDir, snapName)); err != nil {
		t.Fatalf("leader has no snapshot after 200 writes with snapshotEvery 50: %v", err)
	}
	// Restart the lagging node with stale-local-read, a window onto its
	// own state machine.
	cfg := c.cfgs[lagger]
	cfg.Bugs = []string{BugStaleLocalRead}
	c.cfgs[lagger] = cfg
	c.start(lagger)
	check := func(what string) {
		c.waitFor(10*time.Second, what, func() bool {
			for i := range 200 {
				comp := c.invoke(lagger, systems.Op{F: "read", Key: fmt.Sprintf("s%d", i)})
				if comp.Type != history.OK || valueOf(comp) != fmt.Sprint(i) {
					return false
				}
			}
			return true
		})
	}
	check("the lagging node to hold all 200 values")
	if _, err := os.Stat(filepath.Join(cfg.DataDir, snapName)); err != nil {
		t.Fatalf("the lagging node saved no snapshot: %v", err)
	}
	c.stop(lagger)
	c.start(lagger)
	check("the lagging node to recover all 200 values from disk")
}

// 50 rounds of: write, kill the leader, write while it is down, restart
// it. Every acknowledged write must be readable at the end.
func TestClusterSurvivesKillLeaderRounds(t *testing.T) {
	if testing.Short() {
		t.Skip("kill-leader rounds take ~30s")
	}
	c := newTestCluster(t, 3, testOptions())
	acked := map[string]int{}
	deadline := time.Now().Add(3 * time.Minute)
	for round := range 50 {
		if time.Now().After(deadline) {
			t.Fatalf("50 rounds did not fit in 3 minutes (reached round %d)", round)
		}
		lead := c.leader()
		for i := range 3 {
			k := fmt.Sprintf("r%d-%d", round, i)
			if comp := c.invoke(lead, systems.Op{F: "write", Key: k, Value: round}); comp.Type == history.OK {
				acked[k] = round
			}
		}
		c.stop(lead)
		other := lead%3 + 1
		k := fmt.Sprintf("r%d-down", round)
		for range 20 {
			comp := c.invoke(other, systems.Op{F: "write", Key: k, Value: round})
			if comp.Type == history.OK {
				acked[k] = round
			}
			if comp.Type != history.Fail {
				break
			}
		}
		c.start(lead)
	}
	if len(acked) < 150 {
		t.Errorf("only %d of 200 writes acknowledged", len(acked))
	}
	lead := c.leader()
	for k, v := range acked {
		if got := valueOf(c.mustOK(lead, systems.Op{F: "read", Key: k})); got != fmt.Sprint(v) {
			t.Errorf("acknowledged write %s=%d reads back as %s", k, v, got)
		}
	}
}

func TestSystemContract(t *testing.T) {
	s := New()
	if s.Name() != "raft" || s.MinNodes() != 3 {
		t.Fatalf("name %q min nodes %d", s.Name(), s.MinNodes())
	}
	if got := s.Workloads()["register"]; len(got) != 3 {
		t.Fatalf("register ops %v, want read, write, cas", got)
	}
	if got := s.Workloads()["lock"]; len(got) != 4 {
		t.Fatalf("lock ops %v, want acquire, renew, release, fenced-write", got)
	}
	var names []string
	for _, b := range s.Bugs() {
		if b.Description == "" {
			t.Errorf("bug %s has no description", b.Name)
		}
		names = append(names, b.Name)
	}
	if err := systems.CheckBugs(s, names); err != nil {
		t.Fatal(err)
	}
	if len(names) != 8 {
		t.Fatalf("bugs %v, want 8", names)
	}
	if _, err := s.NewClient(systems.ClientConfig{Workload: "bank"}); err == nil {
		t.Fatalf("NewClient accepted an unknown workload")
	}
}

// The ack-before-fsync node still works (its damage needs a power loss).
func TestClusterAckBeforeFsyncRuns(t *testing.T) {
	c := newTestCluster(t, 3, testOptions())
	for id := 1; id <= 3; id++ {
		c.stop(id)
		cfg := c.cfgs[id]
		cfg.Bugs = []string{BugAckBeforeFsync}
		c.cfgs[id] = cfg
		c.start(id)
	}
	lead := c.leader()
	c.mustOK(lead, systems.Op{F: "write", Key: "a", Value: 1})
	if got := valueOf(c.mustOK(lead, systems.Op{F: "read", Key: "a"})); got != "1" {
		t.Fatalf("read a = %s", got)
	}
}
