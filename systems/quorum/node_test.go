package quorum

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/freeport"
	"github.com/faultline/faultline/systems"
)

const testPeerTimeout = 300 * time.Millisecond

func testOptions() nodeOptions {
	return nodeOptions{PeerTimeout: testPeerTimeout, ShutdownTimeout: time.Second}
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
	peerAddr := map[int]string{}
	for id := 1; id <= n; id++ {
		peerAddr[id] = addrs[3*(id-1)]
	}
	for id := 1; id <= n; id++ {
		peers := map[int]string{}
		for p, a := range peerAddr {
			if p != id {
				peers[p] = a
			}
		}
		c.cfgs[id] = systems.NodeConfig{
			System: "quorum", ID: id, Name: systems.NodeName(id),
			PeerListen: peerAddr[id], ClientListen: addrs[3*(id-1)+1], AdminListen: addrs[3*(id-1)+2],
			Peers: peers, DataDir: filepath.Join(dir, systems.NodeName(id)), Bugs: bugs,
			Logger: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
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

// start runs node id and waits until its admin endpoint reports ready.
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
	waitReady(c.t, c.cfgs[id].AdminListen, done)
}

func (c *testCluster) stop(id int) {
	c.t.Helper()
	c.stops[id]()
	delete(c.stops, id)
}

func waitReady(t *testing.T, admin string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("node at admin %s exited while starting: %v", admin, err)
		default:
		}
		resp, err := http.Get("http://" + admin + "/status")
		if err == nil {
			var st systems.Status
			err = json.NewDecoder(resp.Body).Decode(&st)
			_ = resp.Body.Close()
			if err == nil && st.Ready {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("node at admin %s not ready after 10s", admin)
}

func (c *testCluster) endpoint(id int) systems.Endpoint {
	cfg := c.cfgs[id]
	return systems.Endpoint{ID: id, Name: cfg.Name, Client: cfg.ClientListen, Admin: cfg.AdminListen}
}

func invoke(t *testing.T, cl systems.Client, ep systems.Endpoint, op systems.Op) systems.Completion {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return cl.Invoke(ctx, ep, op)
}

func mustWrite(t *testing.T, cl systems.Client, ep systems.Endpoint, key string, value any) {
	t.Helper()
	if c := invoke(t, cl, ep, systems.Op{F: "write", Key: key, Value: value}); c.Type != history.OK {
		t.Fatalf("write %s=%v via %s: %s %s", key, value, ep.Name, c.Type, c.Error)
	}
}

func wantRead(t *testing.T, cl systems.Client, ep systems.Endpoint, key string, want any) {
	t.Helper()
	c := invoke(t, cl, ep, systems.Op{F: "read", Key: key})
	if c.Type != history.OK {
		t.Fatalf("read %s via %s: %s %s", key, ep.Name, c.Type, c.Error)
	}
	if history.ValueKey(c.Value) != history.ValueKey(want) {
		t.Fatalf("read %s via %s = %s, want %s", key, ep.Name, history.ValueKey(c.Value), history.ValueKey(want))
	}
}

// peerQuery asks one replica directly what it holds.
func peerQuery(t *testing.T, peerAddr, key string) Versioned {
	t.Helper()
	body, _ := json.Marshal(queryRequest{Key: key})
	resp, err := http.Post("http://"+peerAddr+pathQuery, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("query %s: %v", peerAddr, err)
	}
	defer resp.Body.Close()
	var v Versioned
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func newTestClient(t *testing.T) systems.Client {
	t.Helper()
	cl, err := New().NewClient(systems.ClientConfig{Workload: "register"})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func TestSystemDescription(t *testing.T) {
	s := New()
	if s.Name() != "quorum" || s.MinNodes() != 3 {
		t.Errorf("Name %q MinNodes %d", s.Name(), s.MinNodes())
	}
	if fs := s.Workloads()["register"]; len(fs) != 2 || fs[0] != "read" || fs[1] != "write" {
		t.Errorf("register functions = %v", fs)
	}
	if err := systems.CheckBugs(s, []string{BugNoWriteBack}); err != nil {
		t.Error(err)
	}
	if err := systems.CheckBugs(s, []string{"stale-read"}); err == nil {
		t.Error("CheckBugs accepted an unknown bug")
	}
	if _, err := s.NewClient(systems.ClientConfig{Workload: "bank"}); err == nil {
		t.Error("NewClient accepted an unknown workload")
	}
}

func TestClusterReadsItsWrites(t *testing.T) {
	c := newTestCluster(t, 3)
	cl := newTestClient(t)
	wantRead(t, cl, c.endpoint(2), "absent", nil)
	mustWrite(t, cl, c.endpoint(1), "a", 1)
	for id := 1; id <= 3; id++ {
		wantRead(t, cl, c.endpoint(id), "a", 1)
	}
	mustWrite(t, cl, c.endpoint(3), "a", 2)
	wantRead(t, cl, c.endpoint(1), "a", 2)

	// Arbitrary JSON round-trips exactly, big numbers included.
	doc := map[string]any{"n": json.Number("12345678901234567890"), "l": []any{"x", nil, true}}
	mustWrite(t, cl, c.endpoint(2), "doc", doc)
	wantRead(t, cl, c.endpoint(1), "doc", doc)

	if got := invoke(t, cl, c.endpoint(1), systems.Op{F: "cas", Key: "a"}); got.Type != history.Fail {
		t.Errorf("cas: %s, want fail (unsupported)", got.Type)
	}
}

func TestConcurrentWritersAgree(t *testing.T) {
	c := newTestCluster(t, 5)
	cl := newTestClient(t)
	var wg sync.WaitGroup
	for w := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				op := systems.Op{F: "write", Key: fmt.Sprint("k", i%3), Value: w*100 + i}
				if got := invoke(t, cl, c.endpoint(w%5+1), op); got.Type != history.OK {
					t.Errorf("write: %s %s", got.Type, got.Error)
				}
			}
		}()
	}
	wg.Wait()
	// Quiescent: every node must read the same value of each key.
	for k := range 3 {
		key := fmt.Sprint("k", k)
		first := invoke(t, cl, c.endpoint(1), systems.Op{F: "read", Key: key})
		if first.Type != history.OK || first.Value == nil {
			t.Fatalf("read %s: %s %v %s", key, first.Type, first.Value, first.Error)
		}
		for id := 2; id <= 5; id++ {
			wantRead(t, cl, c.endpoint(id), key, first.Value)
		}
	}
}

func TestMinorityDownStillServesMajorityDownFails(t *testing.T) {
	c := newTestCluster(t, 5)
	cl := newTestClient(t)
	c.stop(4)
	c.stop(5)
	mustWrite(t, cl, c.endpoint(1), "k", 7)
	wantRead(t, cl, c.endpoint(2), "k", 7)
	c.stop(3)
	got := invoke(t, cl, c.endpoint(1), systems.Op{F: "write", Key: "k", Value: 8})
	if got.Type != history.Fail {
		t.Errorf("write with 2 of 5 up: %s %s, want fail", got.Type, got.Error)
	}
	if got := invoke(t, cl, c.endpoint(2), systems.Op{F: "read", Key: "k"}); got.Type != history.Fail {
		t.Errorf("read with 2 of 5 up: %s, want fail", got.Type)
	}
	// Back to a majority: the failed write left no trace.
	c.start(3)
	wantRead(t, cl, c.endpoint(3), "k", 7)
}

func TestRestartKeepsData(t *testing.T) {
	c := newTestCluster(t, 3)
	cl := newTestClient(t)
	for i := range 20 {
		mustWrite(t, cl, c.endpoint(i%3+1), fmt.Sprint("k", i), i)
	}
	for id := 1; id <= 3; id++ {
		c.stop(id)
	}
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	// Each write is durable on a majority; so each key's value must be on
	// at least two replicas' data dirs, as their peer ports now report.
	for i := range 20 {
		key := fmt.Sprint("k", i)
		holders := 0
		for id := 1; id <= 3; id++ {
			if v := peerQuery(t, c.cfgs[id].PeerListen, key); string(v.Value) == fmt.Sprint(i) {
				holders++
			}
		}
		if holders < 2 {
			t.Errorf("%s is on %d replicas after restart, want a majority", key, holders)
		}
		wantRead(t, cl, c.endpoint(i%3+1), key, i)
	}
	// A restarted node issues fresh tags: a write after restart wins.
	mustWrite(t, cl, c.endpoint(1), "k0", "after")
	wantRead(t, cl, c.endpoint(2), "k0", "after")
}

// blackHole accepts connections and never answers, as a partitioned
// Toxiproxy link does.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// soloNode starts node 1 of 3 with the given peer addresses.
func soloNode(t *testing.T, peers map[int]string, bugs ...string) systems.NodeConfig {
	t.Helper()
	addrs := freeport.MustTake(t, 3)
	cfg := systems.NodeConfig{
		System: "quorum", ID: 1, Name: "n1",
		PeerListen: addrs[0], ClientListen: addrs[1], AdminListen: addrs[2],
		Peers: peers, DataDir: t.TempDir(), Bugs: bugs,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runNode(ctx, cfg, testOptions()) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("n1 did not stop within 10s")
		}
	})
	waitReady(t, cfg.AdminListen, done)
	return cfg
}

func TestPartitionedNodeFailsWriteWithinTimeout(t *testing.T) {
	cfg := soloNode(t, map[int]string{2: blackHole(t), 3: blackHole(t)})
	cl := newTestClient(t)
	ep := systems.Endpoint{ID: 1, Name: "n1", Client: cfg.ClientListen}
	start := time.Now()
	got := invoke(t, cl, ep, systems.Op{F: "write", Key: "k", Value: 1})
	elapsed := time.Since(start)
	if got.Type != history.Fail {
		t.Fatalf("write to a node cut off from its peers: %s %q, want fail", got.Type, got.Error)
	}
	// The query phase ends at the peer timeout; the bound is loose on
	// purpose, it catches a missing timeout, not a slow machine.
	if elapsed > 10*testPeerTimeout {
		t.Errorf("write took %v to fail, peer timeout is %v", elapsed, testPeerTimeout)
	}
	t.Logf("write failed after %v: %s", elapsed, got.Error)
	if v := peerQuery(t, cfg.PeerListen, "k"); v.Tag != (Tag{}) {
		t.Errorf("failed write left tag %v on the local replica", v.Tag)
	}
	if got := invoke(t, cl, ep, systems.Op{F: "read", Key: "k"}); got.Type != history.Fail {
		t.Errorf("read: %s, want fail", got.Type)
	}
}

// fakePeer answers queries with a fixed version and either acks stores or
// holds them until the caller gives up.
type fakePeer struct {
	has       Versioned
	holdStore bool
	stores    atomic.Int64
}

func (f *fakePeer) start(t *testing.T) string {
	// The server notices a client hang-up only once a handler has read the
	// body, which a held store does not; release ends held stores first.
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathQuery, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, f.has)
	})
	mux.HandleFunc("POST "+pathStore, func(w http.ResponseWriter, r *http.Request) {
		f.stores.Add(1)
		if f.holdStore {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		writeJSON(w, http.StatusOK, storeResponse{Applied: true})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return srv.Listener.Addr().String()
}

func TestWriteWhoseStoresTimeOutIsInfo(t *testing.T) {
	p2, p3 := &fakePeer{holdStore: true}, &fakePeer{holdStore: true}
	cfg := soloNode(t, map[int]string{2: p2.start(t), 3: p3.start(t)})
	cl := newTestClient(t)
	got := invoke(t, cl, systems.Endpoint{Name: "n1", Client: cfg.ClientListen}, systems.Op{F: "write", Key: "k", Value: 1})
	if got.Type != history.Info {
		t.Fatalf("write whose store phase timed out: %s %q, want info", got.Type, got.Error)
	}
	// It is indeed partly applied: on the coordinator's own replica.
	if v := peerQuery(t, cfg.PeerListen, "k"); string(v.Value) != "1" {
		t.Errorf("local replica holds %s, want the partly applied 1", v.Value)
	}
}

// TestReadWritesBackUnlessBugged runs the named bug over the network: peer
// 2 holds a newer value than the coordinator, peer 3 never answers. The
// read's majority is {n1, n2}; a correct read stores n2's value on n1 (and
// asks n3) before answering, the bugged one does not.
func TestReadWritesBackUnlessBugged(t *testing.T) {
	for _, bug := range []bool{false, true} {
		t.Run(fmt.Sprintf("bug=%v", bug), func(t *testing.T) {
			newer := Versioned{Tag: Tag{Counter: 5, Writer: WriterID(2, 1)}, Value: json.RawMessage(`"new"`)}
			p2 := &fakePeer{has: newer}
			peers := map[int]string{2: p2.start(t), 3: blackHole(t)}
			var bugs []string
			if bug {
				bugs = []string{BugNoWriteBack}
			}
			cfg := soloNode(t, peers, bugs...)
			cl := newTestClient(t)
			wantRead(t, cl, systems.Endpoint{Name: "n1", Client: cfg.ClientListen}, "k", "new")
			local := peerQuery(t, cfg.PeerListen, "k")
			if bug && local.Tag != (Tag{}) {
				t.Errorf("bugged read wrote back %v to n1", local.Tag)
			}
			if !bug && local.Tag != newer.Tag {
				t.Errorf("n1 holds %v after the read, want the written-back %v", local.Tag, newer.Tag)
			}
			if p2.stores.Load() != 0 {
				t.Errorf("write-back went to n2, which already had the value")
			}
		})
	}
}

func TestClientOutcomesWithoutANode(t *testing.T) {
	cl := newTestClient(t)
	dead := systems.Endpoint{Name: "n9", Client: freeport.MustTake(t, 1)[0]}
	if got := invoke(t, cl, dead, systems.Op{F: "write", Key: "k", Value: 1}); got.Type != history.Fail {
		t.Errorf("write to a closed port: %s %q, want fail (never sent)", got.Type, got.Error)
	}
	hole := systems.Endpoint{Name: "n9", Client: blackHole(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if got := cl.Invoke(ctx, hole, systems.Op{F: "write", Key: "k", Value: 1}); got.Type != history.Info {
		t.Errorf("write to a node that never answers: %s %q, want info", got.Type, got.Error)
	}
	if got := cl.Invoke(ctx, hole, systems.Op{F: "read", Key: "k"}); got.Type != history.Info {
		t.Errorf("read that timed out: %s, want info (nobody knows whether it ran)", got.Type)
	}
}
