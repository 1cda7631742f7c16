// Package raft is faultline's Raft key-value store, the flagship system
// under test: a register per key (read, write, cas) replicated by the
// deterministic protocol core in systems/raft/core, with linearizable reads
// through ReadIndex. Each node persists its log with fsync before it
// acknowledges anything, and talks to its peers over TCP through the mesh.
//
// Client API (cfg.ClientListen): POST /kv with {"f": "read"|"write"|"cas",
// "key": K, "value": V} (for cas V is [expected, new]). The answer is
// {"outcome": "ok"|"fail"|"info"|"redirect", "value", "error", "leader",
// "node"}: fail means certainly no effect (a cas mismatch is fail with
// error "cas mismatch"), info means unknown, redirect means this node does
// not lead and proposed nothing. The client follows redirects.
//
// Timings (defaultNodeOptions): 10ms tick, election timeout 15-30 ticks,
// heartbeat every 3 ticks, snapshot every 10000 applied entries.
package raft

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/admin"
)

// Named bugs.
const (
	BugVoteWithoutLogCheck = "vote-without-log-check"
	BugNoPrevLogCheck      = "no-prev-log-check"
	BugCommitPreviousTerm  = "commit-previous-term"
	BugStaleLocalRead      = "stale-local-read"
	BugAckBeforeFsync      = "ack-before-fsync"
)

// system is the harness's view of the store. Its nodes serve faultline's
// admin endpoint (readiness, role, clock: admin.Endpoint) and honour lazy
// storage.
type system struct{ admin.Endpoint }

// LazyStorage is true: every node's storage honours NodeConfig.Storage.
func (system) LazyStorage() bool { return true }

// New returns the Raft system.
func New() systems.System { return system{} }

func (system) Name() string { return "raft" }

func (system) Summary() string {
	return "Raft-replicated key-value registers (read, write, cas) with pre-vote, check-quorum, ReadIndex reads and snapshots"
}

func (system) Bugs() []systems.Bug {
	return []systems.Bug{
		{
			Name: BugVoteWithoutLogCheck,
			Description: "Nodes grant votes without the election restriction (Raft §5.4.1): a candidate whose log " +
				"lacks committed entries can win and overwrite them, so acknowledged writes vanish. Exposed by " +
				"partitions or kills that leave a node behind and then let it campaign (isolate, then heal and " +
				"isolate the leader); surfaces as lost writes and non-linearizable reads.",
		},
		{
			Name: BugNoPrevLogCheck,
			Description: "A follower accepts AppendEntries without the previous-index/previous-term check " +
				"(Raft §5.3): a follower that missed entries appends the next ones at the wrong indices and " +
				"acknowledges them, and one holding a deposed leader's entries keeps them. Logs diverge, the " +
				"leader counts replicas that lack what they acknowledged, and committed writes vanish once such " +
				"a follower leads. Exposed by partitions (a follower misses appends, then gets the next ones) " +
				"and kills; surfaces as lost writes and non-linearizable reads after leader changes.",
		},
		{
			Name: BugCommitPreviousTerm,
			Description: "A leader commits an entry of an earlier term as soon as a majority stores it (the Figure 8 " +
				"mistake, Raft §5.4.2), and, like the seed, appends no no-op when elected: a later leader can " +
				"overwrite an entry already acknowledged to a client. Needs the Figure 8 sequence; " +
				"random faults have not caught it yet (0/15 runs). Exposed by repeated leader kills or partitions during writes, so that leaders of successive terms " +
				"hold different uncommitted tails; surfaces as lost acknowledged writes.",
		},
		{
			Name: BugStaleLocalRead,
			Description: "Every node answers reads from its own state machine, with no ReadIndex round and no " +
				"redirect to the leader: a follower behind the leader, or a deposed leader on the minority side of " +
				"a partition, returns stale values. Exposed by partitions (and by any lag under load); surfaces as " +
				"non-linearizable reads.",
		},
		{
			Name: BugAckBeforeFsync,
			Description: "Nodes send votes and append acknowledgements before their log reaches disk, and never " +
				"fsync: a power loss forgets entries counted toward a commit, and votes, so committed writes can " +
				"be lost and a node can vote twice in a term. Only --nemesis power-loss (nodes run with lazy storage, " +
				"so SIGKILL drops what was not fsynced) exposes it; a plain kill keeps the page cache, so kills " +
				"do not.",
		},
	}
}

func (system) Workloads() map[string][]history.Func {
	return map[string][]history.Func{"register": {history.OpRead, history.OpWrite, history.OpCAS}}
}

func (system) MinNodes() int { return 3 }

// Elects: Raft nodes elect a leader and report role, term and commit.
func (system) Elects() bool { return true }

// AimedSequences: a stale node standing for election is where Raft's
// vote and append checks matter.
func (system) AimedSequences() []string { return []string{"stale-leader"} }

var (
	_ systems.Elector = system{}
	_ systems.Aimed   = system{}
)

func (system) RunNode(ctx context.Context, cfg systems.NodeConfig) error {
	return runNode(ctx, cfg, defaultNodeOptions())
}

func (system) NewClient(c systems.ClientConfig) (systems.Client, error) {
	if c.Workload != "register" {
		return nil, fmt.Errorf("raft: no client for workload %q (serves: register)", c.Workload)
	}
	return newClient(c.Nodes, defaultClientTimeout), nil
}
