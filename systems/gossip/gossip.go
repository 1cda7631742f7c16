// Package gossip is an eventually consistent CRDT store: every node accepts
// every update locally (made durable before it is acknowledged), spreads it
// by push gossip with fanout, and repairs what gossip missed with periodic
// push-pull anti-entropy driven by Merkle digests. Membership and failure
// detection are SWIM.
//
// The protocol cores are pure and live in their own packages: crdt (the
// data types and their merges), swim (membership), digest (the Merkle
// summary). node.go wraps them with HTTP transport through the mesh,
// timers and the delta log; client.go is the harness's client.
package gossip

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/included"
)

// Named bugs.
const (
	BugMergeOverwrite       = "merge-overwrite"
	BugGossipOnce           = "gossip-once"
	BugAntiEntropyOverwrite = "anti-entropy-overwrite"
	BugLWWWallClock         = "lww-wall-clock"
)

func about() included.About {
	return included.About{
		Name:     "gossip",
		Summary:  "gossip CRDT store: SWIM membership, push gossip with fanout, Merkle anti-entropy; PN-counters, OR-sets, HLC LWW-registers",
		MinNodes: 3,
		Workloads: map[string][]history.Func{
			"set":     {history.OpAdd, history.OpRemove, history.OpRead},
			"counter": {history.OpAdd, history.OpRead},
			"lww":     {history.OpWrite, history.OpRead},
		},
		Bugs: []systems.Bug{
			{Name: BugMergeOverwrite, Description: "A replica takes an incoming copy in place of its own state instead of merging " +
				"(merge_updates in the seeds: state.update(updates)). Concurrent updates made elsewhere are lost; " +
				"the counter workload exposes it without any fault."},
			{Name: BugGossipOnce, Description: "Each node pushes an update in one gossip round and then forgets it, and there is " +
				"no anti-entropy (updates_to_spread.clear() in the seeds). An update pushed while its targets were cut off " +
				"or down never arrives: the set workload under partitions or kills shows lost elements."},
			{Name: BugAntiEntropyOverwrite, Description: "Anti-entropy copies the initiator's copy of every differing key over the " +
				"peer's without comparing or merging (sync_nodes in the seeds). After a partition heals, one side's updates " +
				"overwrite the other's: the set workload shows lost elements."},
			{Name: BugLWWWallClock, Description: "LWW registers are stamped with the node's wall clock instead of a hybrid logical " +
				"clock (LWWRegister.write in the seeds): a write on a node whose clock is behind loses to an earlier write it " +
				"had already seen, and the register settles on the older value. Exposed by the lww workload under " +
				"clock skew (--nemesis clock)."},
		},
	}
}

// system is the harness's view of the store: included.System (admin
// endpoint, lazy storage, the description below) plus nodes and clients.
type system struct{ included.System }

// New returns the gossip system.
func New() systems.System { return system{included.New(about())} }

func (system) RunNode(ctx context.Context, cfg systems.NodeConfig) error {
	return runNode(ctx, cfg, DefaultOptions())
}

func (system) NewClient(c systems.ClientConfig) (systems.Client, error) {
	switch c.Workload {
	case "set", "counter":
		return newClient(c.Workload), nil
	case "lww":
		return newClient("register"), nil
	}
	return nil, fmt.Errorf("gossip: no client for workload %q (serves: counter, lww, set)", c.Workload)
}
