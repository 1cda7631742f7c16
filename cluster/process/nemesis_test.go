package process

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/internal/freeport"
	"github.com/faultline/faultline/nemesis"
)

// The faults of package nemesis against real processes and the real
// Toxiproxy mesh: fake nodes that echo lines to each other through it
// (fake_test.go) show what each fault does to the links and that Stop
// undoes it.

// meshProbe talks to a cluster of fake nodes.
type meshProbe struct {
	t      *testing.T
	c      *cluster.Cluster
	client map[int]string
}

func newProbe(t *testing.T, c *cluster.Cluster) *meshProbe {
	p := &meshProbe{t: t, c: c, client: map[int]string{}}
	for _, ep := range c.Nodes() {
		p.client[ep.ID] = ep.Client
	}
	return p
}

// send has from send a line of size padding bytes to to and wait up to
// wait for the echo; it returns whether the echo came and how long the
// round trip took.
func (p *meshProbe) send(from, to, size int, wait time.Duration) (bool, time.Duration) {
	code, body := get(p.t, p.client[from], fmt.Sprintf("/send?to=%d&size=%d&wait_ms=%d", to, size, wait.Milliseconds()))
	if code != http.StatusOK {
		return false, 0
	}
	ms, _ := strconv.Atoi(body)
	return true, time.Duration(ms) * time.Millisecond
}

// heard returns, for node id, how many lines it heard from each node.
func (p *meshProbe) heard(id int) map[int]int {
	_, body := get(p.t, p.client[id], "/heard")
	var h map[string]int
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		p.t.Fatalf("heard: %q: %v", body, err)
	}
	out := map[int]int{}
	for k, v := range h {
		n, _ := strconv.Atoi(k)
		out[n] = v
	}
	return out
}

// matrix sends one line over every ordered pair at once and returns which
// round trips worked and which lines arrived.
func (p *meshProbe) matrix(ids []int, wait time.Duration) (echoed, arrived map[[2]int]bool) {
	before := map[int]map[int]int{}
	for _, id := range ids {
		before[id] = p.heard(id)
	}
	echoed, arrived = map[[2]int]bool{}, map[[2]int]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, a := range ids {
		for _, b := range ids {
			if a == b {
				continue
			}
			wg.Go(func() {
				ok, _ := p.send(a, b, 0, wait)
				mu.Lock()
				echoed[[2]int{a, b}] = ok
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	for _, b := range ids {
		after := p.heard(b)
		for _, a := range ids {
			if a != b {
				arrived[[2]int{a, b}] = after[a] > before[b][a]
			}
		}
	}
	return echoed, arrived
}

func hears(g cluster.Grudge, a, b int) bool { return a == b || !slices.Contains(g[a], b) }

func TestEveryPartitionShapeCutsExactlyItsGrudgeAndHeals(t *testing.T) {
	c := startCluster(t, fakeSpec(t, 5))
	p := newProbe(t, c)
	ids := []int{1, 2, 3, 4, 5}
	ctx := context.Background()
	custom, err := nemesis.ParseGrudge(`{"n1": ["n2"], "n3": ["n4", "n5"]}`, 5)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 11))
	shapes := append(slices.Clone(nemesis.PartitionShapes), "grudge")
	for _, shape := range shapes {
		f, err := nemesis.Default().Get([]string{"partition-" + shape}, nemesis.Options{Grudge: custom})
		if err != nil {
			t.Fatal(err)
		}
		part := f[0]
		ch := part.Choose(rng, ids)
		a, err := part.Start(ctx, c, ch)
		if err != nil {
			t.Fatalf("%s: start: %v", shape, err)
		}
		g := ch.Grudge
		if shape == "leader" { // fake nodes have no leader: the fallback node
			g = nemesis.Bisect(ids, ch.Nodes)
		}
		if faults, _ := c.LinkFaults(ctx); len(faults) == 0 {
			t.Fatalf("%s: no link faults reported while partitioned", shape)
		}
		echoed, arrived := p.matrix(ids, 400*time.Millisecond)
		for pair, ok := range arrived {
			from, to := pair[0], pair[1]
			if want := hears(g, to, from); ok != want {
				t.Errorf("%s (%v): a line n%d->n%d arrived=%v, want %v", shape, a.Value["grudge"], from, to, ok, want)
			}
			if want := hears(g, to, from) && hears(g, from, to); echoed[pair] != want {
				t.Errorf("%s: round trip n%d->n%d->n%d worked=%v, want %v", shape, from, to, from, echoed[pair], want)
			}
		}
		if shape == "one-way" {
			i := ch.Nodes[0]
			j := ids[slices.IndexFunc(ids, func(id int) bool { return !slices.Contains(ch.Nodes, id) })]
			// i hears nothing from j: j's requests to i time out, while
			// i's messages reach j (their answers are lost).
			if echoed[[2]int{j, i}] || arrived[[2]int{j, i}] || !arrived[[2]int{i, j}] {
				t.Errorf("one-way: n%d's request to n%d must time out and n%d's reach n%d", j, i, i, j)
			}
		}
		if _, err := part.Stop(ctx, c); err != nil {
			t.Fatalf("%s: stop: %v", shape, err)
		}
		if faults, _ := c.LinkFaults(ctx); len(faults) != 0 {
			t.Fatalf("%s: after stop the mesh still has %v", shape, faults)
		}
		echoed, _ = p.matrix(ids, 2*time.Second)
		for pair, ok := range echoed {
			if !ok {
				t.Fatalf("%s: after stop n%d cannot reach n%d", shape, pair[0], pair[1])
			}
		}
	}
}

func TestEveryLinkToxicShowsItsEffectOnItsLinkOnlyAndHeals(t *testing.T) {
	c := startCluster(t, fakeSpec(t, 3))
	p := newProbe(t, c)
	ctx := context.Background()
	link := [][2]int{{1, 2}} // only bytes from n1 to n2
	cases := []struct {
		kind   string
		params map[string]int64
		size   int
		check  func(ok bool, took time.Duration, arrived bool) string
	}{
		{"latency", map[string]int64{"latency_ms": 300, "jitter_ms": 0}, 0, func(ok bool, took time.Duration, _ bool) string {
			if !ok || took < 280*time.Millisecond {
				return fmt.Sprintf("round trip ok=%v in %s, want at least 300ms", ok, took)
			}
			return ""
		}},
		{"bandwidth", map[string]int64{"rate_kbps": 4}, 4000, func(ok bool, took time.Duration, _ bool) string {
			if !ok || took < 600*time.Millisecond {
				return fmt.Sprintf("4KB at 4KB/s: ok=%v in %s, want most of a second", ok, took)
			}
			return ""
		}},
		{"slicer", map[string]int64{"average_size": 1, "size_variation": 0, "delay_us": 1000}, 1000, func(ok bool, took time.Duration, _ bool) string {
			if !ok || took < 500*time.Millisecond {
				return fmt.Sprintf("1000 one-byte slices 1ms apart: ok=%v in %s, want about a second", ok, took)
			}
			return ""
		}},
		{"reset", map[string]int64{"timeout_ms": 0}, 0, func(ok bool, _ time.Duration, arrived bool) string {
			if ok || arrived {
				return fmt.Sprintf("round trip ok=%v, line arrived=%v: want the connection reset", ok, arrived)
			}
			return ""
		}},
		{"blackhole", map[string]int64{}, 0, func(ok bool, _ time.Duration, arrived bool) string {
			if ok || arrived {
				return fmt.Sprintf("round trip ok=%v, line arrived=%v: want the bytes dropped", ok, arrived)
			}
			return ""
		}},
	}
	for _, tc := range cases {
		l := &nemesis.Link{Kinds: []string{tc.kind}}
		ch := nemesis.Choice{Kind: tc.kind, Links: link, Params: tc.params}
		if _, err := l.Start(ctx, c, ch); err != nil {
			t.Fatalf("%s: start: %v", tc.kind, err)
		}
		before := p.heard(2)[1]
		ok, took := p.send(1, 2, tc.size, 3*time.Second)
		arrived := p.heard(2)[1] > before
		if msg := tc.check(ok, took, arrived); msg != "" {
			t.Errorf("%s on n1->n2: %s", tc.kind, msg)
		}
		if ok, took := p.send(1, 3, tc.size, 3*time.Second); !ok || took > 250*time.Millisecond {
			t.Errorf("%s on n1->n2 only, yet n1->n3 ok=%v in %s", tc.kind, ok, took)
		}
		faults, _ := c.LinkFaults(ctx)
		if len(faults) != 1 || !strings.Contains(faults[0], "link-"+tc.kind) {
			t.Errorf("%s: link faults %v, want the one toxic", tc.kind, faults)
		}
		if _, err := l.Stop(ctx, c); err != nil {
			t.Fatalf("%s: stop: %v", tc.kind, err)
		}
		if faults, _ := c.LinkFaults(ctx); len(faults) != 0 {
			t.Fatalf("%s: after stop the mesh still has %v", tc.kind, faults)
		}
		if ok, took := p.send(1, 2, tc.size, 3*time.Second); !ok || took > 250*time.Millisecond {
			t.Fatalf("%s: after stop n1->n2 ok=%v in %s, want a quick round trip", tc.kind, ok, took)
		}
	}
}

func TestPartitionStopLeavesALinkFaultInPlace(t *testing.T) {
	c := startCluster(t, fakeSpec(t, 3))
	ctx := context.Background()
	l := &nemesis.Link{Kinds: []string{"latency"}}
	if _, err := l.Start(ctx, c, nemesis.Choice{Kind: "latency", Links: [][2]int{{1, 2}}, Params: map[string]int64{"latency_ms": 10}}); err != nil {
		t.Fatal(err)
	}
	part := &nemesis.Partition{Kinds: []string{"one"}, Onset: -1}
	if _, err := part.Start(ctx, c, nemesis.Choice{Kind: "one", Nodes: []int{3}, Grudge: nemesis.Bisect([]int{1, 2, 3}, []int{3})}); err != nil {
		t.Fatal(err)
	}
	if _, err := part.Stop(ctx, c); err != nil {
		t.Fatal(err)
	}
	if faults, _ := c.LinkFaults(ctx); len(faults) != 1 || !strings.Contains(faults[0], "link-latency") {
		t.Fatalf("after the partition stopped: %v, want only the latency toxic (the faults overlap independently)", faults)
	}
}

func TestAKilledNodesPortsStayReservedUntilItsRestart(t *testing.T) {
	c := startCluster(t, fakeSpec(t, 3))
	ctx := context.Background()
	if err := c.Kill(ctx, 2); err != nil {
		t.Fatal(err)
	}
	addr := c.Nodes()[1].Client
	if !freeport.IsReserved(addr) {
		t.Fatalf("n2 is down and its client port %s is not reserved: another run could take it before the restart", addr)
	}
	if err := c.Start(ctx, 2); err != nil {
		t.Fatalf("restart on the reserved ports: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if freeport.IsReserved(addr) {
		t.Fatalf("after Close the port %s is still reserved", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("after Close the port %s is still bound: %v", addr, err)
	}
	ln.Close()
}
