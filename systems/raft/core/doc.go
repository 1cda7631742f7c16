// Package core is the Raft protocol as a deterministic state machine: no
// goroutines, sockets or clocks. Messages, ticks, proposals and read
// requests go in; entries and hard state to persist, messages to send,
// committed entries to apply and confirmed reads come out as a Ready.
// Randomness (election timeouts) comes from the *rand.Rand in Config.
//
// It follows the Raft paper (Ongaro and Ousterhout, "In Search of an
// Understandable Consensus Algorithm", 2014) and the extensions of Ongaro's
// thesis: pre-vote (§9.6), check-quorum and the leader lease on votes
// (§6.2, §4.2.3), ReadIndex (§6.4) and snapshots (§5 of the thesis).
// Membership is fixed: every node knows all voters from the start.
//
// # The loop
//
// A caller owns one *Raft and drives it from one goroutine:
//
//	for {
//		// any of: r.Tick(), r.Step(m), r.Propose(data...), r.ReadIndex(ctx), r.Compact(i, data)
//		if r.HasReady() {
//			rd := r.Ready()
//			// 1. persist rd.Snapshot, rd.HardState, rd.Entries (durably)
//			// 2. send rd.Messages
//			// 3. apply rd.Snapshot, then rd.CommittedEntries; serve rd.ReadStates
//			r.Advance(rd)
//		}
//	}
//
// # Ordering contract
//
// rd.Snapshot, rd.HardState and rd.Entries MUST be saved to stable storage
// (fsync) BEFORE any of rd.Messages is sent: a vote or an append
// acknowledgement promises that the state it acknowledges survives a crash.
// Persist the snapshot first, then the entries: rd.Entries[0].Index
// replaces any stored entry at that index or later (a follower truncating a
// conflicting suffix).
//
// Advance(rd) MUST be called only AFTER that persistence: it is what tells
// the core the entries are stable, and a leader counts ITSELF toward a
// commit quorum only for entries it has been told are stable. (A leader's
// own unsynced entries never count.)
//
// rd.CommittedEntries MUST be applied in order, after rd.Snapshot has been
// applied (when set). rd.ReadStates say that the read with that RequestCtx
// may be served once the application has applied at least Index.
//
// No method other than Status, HasReady and Ready may be called between
// Ready and Advance; doing so panics. This keeps the slices in a Ready
// stable while the caller uses them.
//
// Messages may be dropped, duplicated, delayed or reordered by the network;
// the protocol tolerates all of that.
//
// # Named bugs
//
// Config.Bugs switches on classic mistakes, for the harness to catch. They
// are off by default and each is documented on its field.
package core
