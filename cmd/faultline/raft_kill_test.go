package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/cluster/process"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/raft"
)

// TestRaftSurvivesFiftyLeaderKills runs a 3-node Raft cluster as real
// processes, SIGKILLs the leader 50 times (restarting it each time on its
// data dir), and then reads back every write that was acknowledged.
func TestRaftSurvivesFiftyLeaderKills(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 50-round leader-kill test (about a minute)")
	}
	t.Setenv("FAULTLINE_AS_CLI", "1") // the nodes are this test binary
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, err := process.Start(ctx, cluster.Spec{
		System: "raft", Nodes: 3, RunDir: t.TempDir(),
		Command: []string{os.Args[0], "node", "--parent-watch"},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	client, err := raft.New().NewClient(systems.ClientConfig{Workload: "register", Nodes: c.Nodes()})
	if err != nil {
		t.Fatal(err)
	}

	acked := map[string]int{} // key -> value acknowledged
	next := 0
	write := func(n int) {
		for range n {
			next++
			key, val := fmt.Sprintf("k%d", next), next
			for attempt := 0; attempt < 50; attempt++ {
				octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
				ep := c.Nodes()[attempt%3]
				res := client.Invoke(octx, ep, systems.Op{F: "write", Key: key, Value: val})
				ocancel()
				if res.Type == history.OK {
					acked[key] = val
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("out of time writing %s", key)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}

	for round := 1; round <= 50; round++ {
		write(4)
		leader := waitLeader(ctx, t, c)
		if err := c.Kill(ctx, leader); err != nil {
			t.Fatalf("round %d: kill leader n%d: %v", round, leader, err)
		}
		write(2) // the two survivors must elect and accept writes
		if err := c.Start(ctx, leader); err != nil {
			t.Fatalf("round %d: restart n%d: %v", round, leader, err)
		}
	}
	if len(acked) < 200 {
		t.Fatalf("only %d writes acknowledged over 50 rounds", len(acked))
	}
	for key, want := range acked {
		var got any
		for attempt := 0; ; attempt++ {
			octx, ocancel := context.WithTimeout(ctx, 2*time.Second)
			res := client.Invoke(octx, c.Nodes()[attempt%3], systems.Op{F: "read", Key: key})
			ocancel()
			if res.Type == history.OK {
				got = res.Value
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("out of time reading %s", key)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if history.ValueKey(got) != history.ValueKey(want) {
			t.Fatalf("acknowledged write %s=%d reads back as %v after 50 leader kills", key, want, got)
		}
	}
	t.Logf("%d acknowledged writes all readable after 50 leader kills", len(acked))
}

// waitLeader polls the nodes' admin endpoints until one says it leads.
func waitLeader(ctx context.Context, t *testing.T, c *cluster.Cluster) int {
	t.Helper()
	for ctx.Err() == nil {
		for _, n := range c.Nodes() {
			sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			st, err := c.Status(sctx, n.ID)
			cancel()
			if err == nil && st.Role == "leader" {
				return n.ID
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no leader before the deadline")
	return 0
}
