package mesh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/internal/freeport"
)

// How long a check waits for bytes that must arrive, and how long it
// listens for bytes that must not.
const (
	arriveWithin = 3 * time.Second
	silenceFor   = 250 * time.Millisecond
)

// node is a stand-in for a node's peer listener: it hands every connection
// it accepts to the test, which then speaks for the node on it.
type node struct {
	ln       net.Listener
	accepted chan net.Conn
}

func startNode(t *testing.T) *node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	n := &node{ln: ln, accepted: make(chan net.Conn, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.accepted <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for {
			select {
			case c := <-n.accepted:
				c.Close()
			default:
				return
			}
		}
	})
	return n
}

type fixture struct {
	m     *Mesh
	nodes map[int]*node
	seq   atomic.Int64 // makes every message unique
}

// forEachBackend runs test on a mesh of n nodes embedded in this process,
// then on one behind a Toxiproxy server started by Serve (here on
// loopback, in a container under the docker runtime): both must behave
// the same.
func forEachBackend(t *testing.T, n int, test func(*testing.T, *fixture)) {
	for _, backend := range []string{"embedded", "remote", "sidecars"} {
		t.Run(backend, func(t *testing.T) { test(t, newFixture(t, n, backend)) })
	}
}

func newFixture(t *testing.T, n int, backend string) *fixture {
	t.Helper()
	f := &fixture{nodes: make(map[int]*node)}
	upstreams := make(map[int]string)
	for id := 1; id <= n; id++ {
		f.nodes[id] = startNode(t)
		upstreams[id] = f.nodes[id].ln.Addr().String()
	}
	var m *Mesh
	var err error
	switch backend {
	case "sidecars":
		m, err = sidecarMesh(t, upstreams)
	case "remote":
		m, err = Connect(context.Background(), nil, RemoteConfig{
			API:        startServer(t),
			Upstreams:  upstreams,
			ListenHost: "127.0.0.1",
			DialHost:   "127.0.0.1",
			Ports:      ports(t, ProxyCount(n)),
		})
	default:
		m, err = New(context.Background(), nil, upstreams)
	}
	if err != nil {
		t.Fatalf("start mesh: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	f.m = m
	return f
}

// sidecarMesh is a sidecar mesh on loopback: one server per node; node
// i's proxies listen on 127.0.0.<10+i> (its own "sidecar address"), each
// at the port of the node it leads to, as in a container where every
// peer's advertised port is distinct.
func sidecarMesh(t *testing.T, upstreams map[int]string) (*Mesh, error) {
	t.Helper()
	apis := map[int]string{}
	port := map[int]int{}
	ps := ports(t, len(upstreams))
	for id := range upstreams {
		apis[id] = startServer(t)
		port[id] = ps[id-1]
	}
	addr := func(i, j int) string { return net.JoinHostPort(fmt.Sprintf("127.0.0.%d", 10+i), strconv.Itoa(port[j])) }
	return ConnectSidecars(context.Background(), nil, SidecarConfig{APIs: apis, Upstreams: upstreams, Listen: addr, Dial: addr})
}

// startServer runs Serve on a loopback port until the test ends and
// returns its address.
func startServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func ports(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	for _, addr := range freeport.MustTake(t, n) {
		_, p, _ := net.SplitHostPort(addr)
		port, err := strconv.Atoi(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, port)
	}
	return out
}

func (f *fixture) faults(t *testing.T) []string {
	t.Helper()
	got, err := f.m.Faults()
	if err != nil {
		t.Fatalf("Faults: %v", err)
	}
	return got
}

// conn is one TCP connection through the mesh, opened by node from to node
// to; end[id] is the socket node id holds.
type conn struct {
	from, to int
	end      map[int]net.Conn
}

func (c conn) String() string { return fmt.Sprintf("conn opened n%d->n%d", c.from, c.to) }

// connect opens a connection from node from to node to through the mesh.
func (f *fixture) connect(t *testing.T, from, to int) conn {
	t.Helper()
	d, err := net.DialTimeout("tcp", f.m.Addr(from, to), arriveWithin)
	if err != nil {
		t.Fatalf("dial n%d->n%d: %v", from, to, err)
	}
	t.Cleanup(func() { d.Close() })
	select {
	case a := <-f.nodes[to].accepted:
		t.Cleanup(func() { a.Close() })
		return conn{from: from, to: to, end: map[int]net.Conn{from: d, to: a}}
	case <-time.After(arriveWithin):
		t.Fatalf("n%d never accepted the connection from n%d", to, from)
		return conn{}
	}
}

// hears checks whether listener receives what speaker writes on c.
func (f *fixture) hears(t *testing.T, c conn, speaker, listener int, want bool) {
	t.Helper()
	msg := fmt.Sprintf("n%d says %d\n", speaker, f.seq.Add(1))
	w := c.end[speaker]
	w.SetWriteDeadline(time.Now().Add(arriveWithin))
	if _, err := io.WriteString(w, msg); err != nil {
		t.Fatalf("%v: n%d write: %v", c, speaker, err)
	}
	r := c.end[listener]
	if want {
		r.SetReadDeadline(time.Now().Add(arriveWithin))
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatalf("%v: n%d should hear n%d: %v", c, listener, speaker, err)
		}
		if string(buf) != msg {
			t.Fatalf("%v: n%d heard %q, want %q", c, listener, buf, msg)
		}
		return
	}
	r.SetReadDeadline(time.Now().Add(silenceFor))
	buf := make([]byte, 64)
	n, err := r.Read(buf)
	if n > 0 {
		t.Fatalf("%v: n%d must not hear n%d, heard %q", c, listener, speaker, buf[:n])
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%v: n%d must hear silence (an open, quiet connection), got %v", c, listener, err)
	}
}

// both checks each direction of c.
func (f *fixture) both(t *testing.T, c conn, fromHearsTo, toHearsFrom bool) {
	t.Helper()
	f.hears(t, c, c.to, c.from, fromHearsTo)
	f.hears(t, c, c.from, c.to, toHearsFrom)
}

// closed checks that both ends of c see the connection end.
func closed(t *testing.T, c conn) {
	t.Helper()
	for id, e := range c.end {
		e.SetReadDeadline(time.Now().Add(arriveWithin))
		n, err := e.Read(make([]byte, 64))
		if n > 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%v: n%d's end should be closed, read %d bytes, err %v", c, id, n, err)
		}
	}
}

func TestAddrsAndPeers(t *testing.T) { forEachBackend(t, 3, testAddrsAndPeers) }

func testAddrsAndPeers(t *testing.T, f *fixture) {
	seen := map[string]bool{}
	for from := 1; from <= 3; from++ {
		peers := f.m.PeersOf(from)
		if len(peers) != 2 || peers[from] != "" {
			t.Fatalf("PeersOf(%d) = %v, want the two other nodes", from, peers)
		}
		for to, addr := range peers {
			if addr != f.m.Addr(from, to) || !strings.HasPrefix(addr, "127.0.0.") || strings.HasSuffix(addr, ":0") {
				t.Fatalf("PeersOf(%d)[%d] = %q, Addr = %q", from, to, addr, f.m.Addr(from, to))
			}
			if seen[addr] {
				t.Fatalf("address %s used by two proxies", addr)
			}
			seen[addr] = true
		}
	}
	if f.m.Addr(1, 1) != "" || f.m.Addr(1, 9) != "" {
		t.Fatalf("Addr for a missing pair should be empty")
	}
}

func TestForwardsEveryPairBothWays(t *testing.T) { forEachBackend(t, 3, testForwardsEveryPairBothWays) }

func testForwardsEveryPairBothWays(t *testing.T, f *fixture) {
	for from := 1; from <= 3; from++ {
		for to := 1; to <= 3; to++ {
			if from != to {
				f.both(t, f.connect(t, from, to), true, true)
			}
		}
	}
}

func TestOneWayPartition(t *testing.T) { forEachBackend(t, 3, testOneWayPartition) }

func testOneWayPartition(t *testing.T, f *fixture) {
	old12, old21 := f.connect(t, 1, 2), f.connect(t, 2, 1)
	f.both(t, old12, true, true)
	f.both(t, old21, true, true)

	if err := f.m.Partition(map[int][]int{2: {1}}); err != nil {
		t.Fatalf("Partition: %v", err)
	}
	// Node 2 hears nothing from 1, on connections from before and after the
	// partition, whoever opened them; node 1 still hears 2.
	for _, c := range []conn{old12, old21, f.connect(t, 1, 2), f.connect(t, 2, 1)} {
		f.hears(t, c, 1, 2, false)
		f.hears(t, c, 2, 1, true)
	}
	// Other links are untouched.
	for _, c := range []conn{f.connect(t, 1, 3), f.connect(t, 3, 1), f.connect(t, 2, 3), f.connect(t, 3, 2)} {
		f.both(t, c, true, true)
	}
}

func TestSymmetricPartition(t *testing.T) { forEachBackend(t, 3, testSymmetricPartition) }

func testSymmetricPartition(t *testing.T, f *fixture) {
	old12 := f.connect(t, 1, 2)
	if err := f.m.Partition(map[int][]int{1: {2}, 2: {1}}); err != nil {
		t.Fatalf("Partition: %v", err)
	}
	for _, c := range []conn{old12, f.connect(t, 1, 2), f.connect(t, 2, 1)} {
		f.both(t, c, false, false)
	}
	f.both(t, f.connect(t, 3, 1), true, true)
	f.both(t, f.connect(t, 2, 3), true, true)

	// A close still crosses the partition.
	c := f.connect(t, 1, 2)
	c.end[2].Close()
	c.end[1].SetReadDeadline(time.Now().Add(arriveWithin))
	if _, err := c.end[1].Read(make([]byte, 8)); err != io.EOF {
		t.Fatalf("n1 should see n2's close across the partition, got %v", err)
	}
}

func TestPartitionReplacesAndKeepsUnchangedStreams(t *testing.T) {
	forEachBackend(t, 3, testPartitionReplacesAndKeepsUnchangedStreams)
}

func testPartitionReplacesAndKeepsUnchangedStreams(t *testing.T, f *fixture) {
	old12 := f.connect(t, 1, 2)
	if err := f.m.Partition(map[int][]int{2: {1}}); err != nil {
		t.Fatalf("Partition: %v", err)
	}
	// Same grudge plus more: old12 stays open and half-silenced.
	if err := f.m.Partition(map[int][]int{2: {1}, 3: {1}}); err != nil {
		t.Fatalf("Partition: %v", err)
	}
	f.hears(t, old12, 1, 2, false)
	f.hears(t, old12, 2, 1, true)
	f.both(t, f.connect(t, 1, 3), true, false)

	// A new grudge replaces the old one entirely.
	if err := f.m.Partition(map[int][]int{1: {2}}); err != nil {
		t.Fatalf("Partition: %v", err)
	}
	c := f.connect(t, 1, 2)
	f.hears(t, c, 1, 2, true)
	f.hears(t, c, 2, 1, false)
	f.both(t, f.connect(t, 1, 3), true, true)
}

func TestHeal(t *testing.T) { forEachBackend(t, 3, testHeal) }

func testHeal(t *testing.T, f *fixture) {
	old12, old21, quiet12, old13 := f.connect(t, 1, 2), f.connect(t, 2, 1), f.connect(t, 1, 2), f.connect(t, 1, 3)
	if err := f.m.Partition(map[int][]int{2: {1}}); err != nil {
		t.Fatalf("Partition: %v", err)
	}
	// Bytes 1 sends now are dropped for good, on both kinds of connection.
	f.hears(t, old12, 1, 2, false)
	f.hears(t, old21, 1, 2, false)
	if err := f.m.SetLinkToxic(1, 3, cluster.Toxic{Name: "slow", Type: "latency", Attributes: map[string]any{"latency": 1}}); err != nil {
		t.Fatalf("SetLinkToxic: %v", err)
	}
	want := []string{"partition n1->n2 upstream", "partition n2->n1 downstream", "toxic slow n1->n3"}
	if got := f.faults(t); !slices.Equal(got, want) {
		t.Fatalf("Faults() = %q, want %q", got, want)
	}
	if err := f.m.Heal(); err != nil {
		t.Fatalf("Heal: %v", err)
	}
	if got := f.faults(t); len(got) != 0 {
		t.Fatalf("Faults() after Heal = %q, want none", got)
	}
	// Connections that lost bytes are closed, so nobody sees a stream with
	// a gap in it; a connection that lost nothing carries on, and so do
	// new ones.
	closed(t, old12)
	closed(t, old21)
	f.both(t, quiet12, true, true)
	f.both(t, f.connect(t, 1, 2), true, true)
	f.both(t, f.connect(t, 2, 1), true, true)
	f.both(t, old13, true, true)
	// Healing a healed mesh is fine.
	if err := f.m.Heal(); err != nil {
		t.Fatalf("second Heal: %v", err)
	}
}

// TestPartitionDoesNotWaitForStuckReceiver fills the path to a node that
// does not read (as a paused node would) and partitions and heals around
// it: neither may wait for the node.
func TestPartitionDoesNotWaitForStuckReceiver(t *testing.T) {
	forEachBackend(t, 2, testPartitionDoesNotWaitForStuckReceiver)
}

func testPartitionDoesNotWaitForStuckReceiver(t *testing.T, f *fixture) {
	c := f.connect(t, 1, 2)
	buf := make([]byte, 64<<10)
	for filled := false; !filled; {
		c.end[1].SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := c.end[1].Write(buf)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			filled = true
		case err != nil:
			t.Fatalf("filling: %v", err)
		}
	}
	done := make(chan error, 1)
	go func() {
		err := f.m.Partition(map[int][]int{2: {1}, 1: {2}})
		done <- errors.Join(err, f.m.Heal())
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Partition/Heal: %v", err)
		}
	case <-time.After(2 * time.Second):
		c.end[2].Close() // let the mesh go
		t.Fatalf("Partition/Heal waited for a receiver that does not read")
	}
}

// latencyOf measures how long speaker's bytes take to reach listener on c.
func (f *fixture) latencyOf(t *testing.T, c conn, speaker, listener int) time.Duration {
	t.Helper()
	start := time.Now()
	f.hears(t, c, speaker, listener, true)
	return time.Since(start)
}

func TestLinkToxic(t *testing.T) { forEachBackend(t, 2, testLinkToxic) }

func testLinkToxic(t *testing.T, f *fixture) {
	const delay = 600 * time.Millisecond
	old12 := f.connect(t, 1, 2)
	err := f.m.SetLinkToxic(1, 2, cluster.Toxic{Name: "slow", Type: "latency", Attributes: map[string]any{"latency": delay.Milliseconds()}})
	if err != nil {
		t.Fatalf("SetLinkToxic: %v", err)
	}
	for _, c := range []conn{old12, f.connect(t, 1, 2), f.connect(t, 2, 1)} {
		if d := f.latencyOf(t, c, 1, 2); d < delay-50*time.Millisecond {
			t.Errorf("%v: 1->2 took %v, want at least %v", c, d, delay)
		}
		if d := f.latencyOf(t, c, 2, 1); d > delay*2/3 {
			t.Errorf("%v: 2->1 took %v, want no added latency", c, d)
		}
	}
	// Setting the same name again replaces the toxic instead of failing.
	err = f.m.SetLinkToxic(1, 2, cluster.Toxic{Name: "slow", Type: "latency", Attributes: map[string]any{"latency": delay.Milliseconds()}})
	if err != nil {
		t.Fatalf("SetLinkToxic again: %v", err)
	}
	if err := f.m.RemoveLinkToxic(1, 2, "slow"); err != nil {
		t.Fatalf("RemoveLinkToxic: %v", err)
	}
	// Removing latency keeps connections open.
	if d := f.latencyOf(t, old12, 1, 2); d > delay*2/3 {
		t.Errorf("after removal 1->2 took %v", d)
	}
	if err := f.m.RemoveLinkToxic(1, 2, "slow"); err != nil {
		t.Fatalf("removing a missing toxic should be a no-op: %v", err)
	}

	// Heal removes link toxics too.
	err = f.m.SetLinkToxic(2, 1, cluster.Toxic{Name: "slow", Type: "latency", Attributes: map[string]any{"latency": delay.Milliseconds()}})
	if err != nil {
		t.Fatalf("SetLinkToxic: %v", err)
	}
	if d := f.latencyOf(t, old12, 2, 1); d < delay-50*time.Millisecond {
		t.Errorf("2->1 took %v, want at least %v", d, delay)
	}
	if err := f.m.Heal(); err != nil {
		t.Fatalf("Heal: %v", err)
	}
	if d := f.latencyOf(t, old12, 2, 1); d > delay*2/3 {
		t.Errorf("after Heal 2->1 took %v", d)
	}
}

func TestBadArguments(t *testing.T) { forEachBackend(t, 2, testBadArguments) }

func testBadArguments(t *testing.T, f *fixture) {
	for _, g := range []map[int][]int{{1: {1}}, {1: {9}}, {9: {1}}} {
		if err := f.m.Partition(g); err == nil {
			t.Errorf("Partition(%v) should fail", g)
		}
	}
	for _, tx := range []cluster.Toxic{{Name: "partition", Type: "latency"}, {Name: "", Type: "latency"}, {Name: "x", Type: "no-such-type"}} {
		if err := f.m.SetLinkToxic(1, 2, tx); err == nil {
			t.Errorf("SetLinkToxic(%+v) should fail", tx)
		}
	}
	if err := f.m.SetLinkToxic(1, 9, cluster.Toxic{Name: "x", Type: "latency"}); err == nil {
		t.Errorf("SetLinkToxic on a missing link should fail")
	}
	// A failed toxic leaves nothing behind.
	f.both(t, f.connect(t, 1, 2), true, true)
}

func TestClose(t *testing.T) { forEachBackend(t, 2, testClose) }

func testClose(t *testing.T, f *fixture) {
	c := f.connect(t, 1, 2)
	addr := f.m.Addr(1, 2)
	if err := f.m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := f.m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	closed(t, c)
	if d, err := net.DialTimeout("tcp", addr, arriveWithin); err == nil {
		d.Close()
		t.Fatalf("dial %s after Close succeeded", addr)
	}
	if err := f.m.Partition(map[int][]int{1: {2}}); err == nil {
		t.Fatalf("Partition after Close should fail")
	}
}
