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
// The same endpoint serves the lock service (lock.go): f "acquire",
// "renew", "release" or "fenced-write", key the lock (and the resource it
// guards), value {"owner", "token", "ttl_ms", "value"}. An ok acquire
// answers {"token": T}, the grant's log index; fail means refused (held,
// not the holder, a stale token).
//
// Timings (defaultNodeOptions): 10ms tick, election timeout 15-30 ticks,
// heartbeat every 3 ticks, snapshot every 10000 applied entries.
package raft

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/included"
)

// Named bugs.
const (
	BugVoteWithoutLogCheck = "vote-without-log-check"
	BugNoPrevLogCheck      = "no-prev-log-check"
	BugCommitPreviousTerm  = "commit-previous-term"
	BugStaleLocalRead      = "stale-local-read"
	BugAckBeforeFsync      = "ack-before-fsync"
)

// system is the harness's view of the store: included.System (admin
// endpoint, lazy storage, the description below) plus nodes and clients.
type system struct{ included.System }

// New returns the Raft system.
func New() systems.System { return system{included.New(about())} }

func about() included.About {
	return included.About{
		Name:     "raft",
		Summary:  "Raft-replicated key-value registers (read, write, cas) with pre-vote, check-quorum, ReadIndex reads and snapshots; a lock service with leases and fencing tokens (acquire, renew, release, fenced writes)",
		MinNodes: 3,
		Workloads: map[string][]history.Func{
			"register": {history.OpRead, history.OpWrite, history.OpCAS},
			"lock":     {history.OpAcquire, history.OpRenew, history.OpRelease, history.OpFencedWrite},
		},
		Bugs: []systems.Bug{
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
					"overwrite an entry already acknowledged to a client. Exposed by the figure8 nemesis sequence " +
					"(random faults caught it 0 of 15 times): leaders of successive terms hold different uncommitted " +
					"tails, and the re-elected one is cut off right after it counts its old tail as committed; " +
					"surfaces as lost acknowledged writes.",
			},
			{
				Name: BugStaleLocalRead,
				Description: "Every node answers reads from its own state machine, with no ReadIndex round and no " +
					"redirect to the leader: a follower behind the leader, or a deposed leader on the minority side of " +
					"a partition, returns stale values. Exposed by partitions (and by any lag under load); surfaces as " +
					"non-linearizable reads.",
			},
			{
				Name: BugNoFencing,
				Description: "The lock service's fenced resource ignores fencing tokens (the SET-NX-with-TTL lock of seed 003): " +
					"a client that stalls while holding a lock past its lease, and writes when it wakes, overwrites the " +
					"writes of the client that took the lock after the lease ran out. Exposed by the lock workload " +
					"under client-pause (and slow operations under partitions); surfaces as stale-write anomalies.",
			},
			{
				Name: BugLeaseWallClock,
				Description: "The leader judges lease expiry by its wall clock (seed 001's datetime.now()), not its monotonic " +
					"clock: a clock jump on the leader expires leases early and grants a held lock to a second client. " +
					"Exposed by the lock workload under clock faults; surfaces as overlapping-holds anomalies.",
			},
			{
				Name: BugReleaseAny,
				Description: "Release does not check the owner and token: a client whose lease ran out (a stall, a slow " +
					"operation) releases the lock another client now holds, and a third client is granted it while the " +
					"second still holds it. Exposed by the lock workload under client-pause or partitions; surfaces " +
					"as overlapping-holds anomalies.",
			},
			{
				Name: BugAckBeforeFsync,
				Description: "Nodes send votes and append acknowledgements before their log reaches disk, and never " +
					"fsync: a power loss forgets entries counted toward a commit, and votes, so committed writes can " +
					"be lost and a node can vote twice in a term. Only --nemesis power-loss (nodes run with lazy storage, " +
					"so SIGKILL drops what was not fsynced) exposes it; a plain kill keeps the page cache, so kills " +
					"do not.",
			},
		},
	}
}

// Elects: Raft nodes elect a leader and report role, term and commit.
func (system) Elects() bool { return true }

// AimedSequences: a stale node standing for election, and a lagging
// follower whose acknowledgements count, are where Raft's vote and
// append checks matter.
func (system) AimedSequences() []string { return []string{"stale-leader", "lagging-follower"} }

var (
	_ systems.Elector = system{}
	_ systems.Aimed   = system{}
)

func (system) RunNode(ctx context.Context, cfg systems.NodeConfig) error {
	return runNode(ctx, cfg, defaultNodeOptions())
}

func (system) NewClient(c systems.ClientConfig) (systems.Client, error) {
	if c.Workload != "register" && c.Workload != "lock" {
		return nil, fmt.Errorf("raft: no client for workload %q (serves: register, lock)", c.Workload)
	}
	return newClient(c.Nodes, defaultClientTimeout), nil
}
