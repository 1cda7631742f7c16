package nemesis

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/cluster/inmem"
)

// Faults against the cluster core itself, over the in-memory driver: what
// reaches the driver and the mesh, and that Stop undoes it.

func startCore(t *testing.T, n int) (*cluster.Cluster, *inmem.Driver) {
	t.Helper()
	d := inmem.New(nil)
	c, err := cluster.Start(context.Background(), cluster.Spec{System: "fake", Nodes: n, RunDir: t.TempDir(), Admin: d.Admin()}, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, d
}

func TestProcessFaultsDriveTheCore(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		action    string
		start, up string // what the driver sees for each node hit
	}{
		{"kill", "kill", "spawn"},
		{"pause", "stop", "cont"},
		{"power-loss", "kill", "spawn"},
	} {
		c, d := startCore(t, 5)
		p := &Process{Action: tc.action}
		n := len(d.Events())
		a, err := p.Start(ctx, c, Choice{Target: "minority", Nodes: []int{2, 4}})
		if err != nil || a.Node != "n2,n4" {
			t.Fatalf("%s: start: %+v, %v", tc.action, a, err)
		}
		hit := d.Events()[n:]
		slices.Sort(hit)
		if want := []string{tc.start + " n2", tc.start + " n4"}; !slices.Equal(hit, want) {
			t.Fatalf("%s: the driver saw %q, want %q", tc.action, hit, want)
		}
		n = len(d.Events())
		if _, err := p.Stop(ctx, c); err != nil {
			t.Fatalf("%s: stop: %v", tc.action, err)
		}
		undone := d.Events()[n:]
		slices.Sort(undone)
		if want := []string{tc.up + " n2", tc.up + " n4"}; !slices.Equal(undone, want) {
			t.Fatalf("%s: stop: the driver saw %q, want %q", tc.action, undone, want)
		}
		for id := 1; id <= 5; id++ {
			if st, err := c.Status(ctx, id); err != nil || !st.Ready {
				t.Fatalf("%s: n%d after stop: %+v, %v", tc.action, id, st, err)
			}
		}
	}
}

func TestLinkPartitionAndClockFaultsDriveTheCore(t *testing.T) {
	ctx := context.Background()
	c, d := startCore(t, 3)
	l := &Link{Kinds: []string{"latency"}}
	if _, err := l.Start(ctx, c, Choice{Kind: "latency", Links: [][2]int{{1, 2}}, Params: map[string]int64{"latency_ms": 10}}); err != nil {
		t.Fatal(err)
	}
	part := &Partition{Onset: -1}
	if _, err := part.Start(ctx, c, Choice{Kind: "one", Nodes: []int{3}, Grudge: Bisect([]int{1, 2, 3}, []int{3})}); err != nil {
		t.Fatal(err)
	}
	if d.Mesh().Hears(3, 1) || d.Mesh().Hears(1, 3) || !d.Mesh().Hears(1, 2) {
		t.Fatal("the partition did not isolate n3 in the mesh")
	}
	k := &Clock{}
	if _, err := k.Start(ctx, c, Choice{Kind: "bump", Nodes: []int{2}, Offsets: map[int]int64{2: 1500}}); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Status(ctx, 2); st.ClockOffsetNS != int64(1500*time.Millisecond) {
		t.Fatalf("n2's clock offset: %v", time.Duration(st.ClockOffsetNS))
	}
	for _, f := range []Fault{part, k} {
		if _, err := f.Stop(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	faults, _ := c.LinkFaults(ctx)
	if len(faults) != 1 || faults[0] != "toxic link-latency n1->n2" {
		t.Fatalf("after the partition and clock faults stopped: %q, want the link toxic alone", faults)
	}
	if st, _ := c.Status(ctx, 2); st.ClockOffsetNS != 0 {
		t.Fatalf("n2's clock after stop: %v", time.Duration(st.ClockOffsetNS))
	}
	if _, err := l.Stop(ctx, c); err != nil {
		t.Fatal(err)
	}
	if faults, _ := c.LinkFaults(ctx); len(faults) != 0 {
		t.Fatalf("after every fault stopped: %q", faults)
	}
}
