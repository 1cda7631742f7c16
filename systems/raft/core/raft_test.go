package core

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// §5.2: a node that times out wins an election with a majority and the
// others follow it.
func TestLeaderElection(t *testing.T) {
	for _, name := range []string{"prevote", "classic"} {
		t.Run(name, func(t *testing.T) {
			var opts []func(uint64, *Config)
			if name == "classic" {
				opts = append(opts, classic)
			}
			nw := newNetwork(t, 3, opts...)
			nw.campaign(1)
			if got := nw.leader(); got != 1 {
				t.Fatalf("leader = %d, want 1", got)
			}
			for _, id := range []uint64{2, 3} {
				st := nw.node(id).Status()
				if st.SoftState.Role != Follower || st.SoftState.Lead != 1 || st.HardState.Term != 1 {
					t.Errorf("node %d: %+v, want follower of 1 in term 1", id, st)
				}
			}
			// The no-op of the new term is committed everywhere (§8).
			for _, id := range nw.ids {
				if c := nw.node(id).Status().Commit; c != 1 {
					t.Errorf("node %d commit = %d, want 1 (the leader's no-op)", id, c)
				}
			}
		})
	}
}

// §5.2: elections by timeout alone (randomized timeouts) converge on one
// leader, and one vote per term means never two leaders in one term.
func TestElectionByTimeoutConverges(t *testing.T) {
	for seed := range 20 {
		nw := newNetwork(t, 5, func(id uint64, c *Config) {
			c.Rand = rand.New(rand.NewPCG(uint64(seed), id))
		})
		nw.tick(4 * nw.nodes[1].cfg.ElectionTick)
		lead := nw.leader()
		if lead == None {
			t.Fatalf("seed %d: no leader after 4 election timeouts", seed)
		}
		leadersByTerm := map[uint64]int{}
		for _, id := range nw.ids {
			st := nw.node(id).Status()
			if st.SoftState.Role == Leader {
				leadersByTerm[st.HardState.Term]++
			}
			if st.SoftState.Lead != lead {
				t.Errorf("seed %d: node %d follows %d, want %d", seed, id, st.SoftState.Lead, lead)
			}
		}
		for term, n := range leadersByTerm {
			if n > 1 {
				t.Fatalf("seed %d: %d leaders in term %d", seed, n, term)
			}
		}
	}
}

// §5.2 and thesis §6.2: an isolated leader steps down (check-quorum) and
// the majority elects a new one; the old leader follows it after healing.
func TestReelectionAfterLeaderIsolation(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	nw.propose(1, "before")
	nw.isolate(1)
	nw.tick(5 * nw.nodes[1].cfg.ElectionTick)
	if role := nw.node(1).Status().SoftState.Role; role == Leader {
		t.Fatalf("isolated node 1 is still leader after 5 election timeouts (check-quorum)")
	}
	lead := nw.leader()
	if lead != 2 && lead != 3 {
		t.Fatalf("leader = %d, want 2 or 3", lead)
	}
	nw.propose(lead, "after")
	nw.recover()
	nw.tick(2 * nw.nodes[1].cfg.HeartbeatTick)
	if st := nw.node(1).Status(); st.SoftState.Lead != lead || st.Commit != nw.node(lead).Status().Commit {
		t.Fatalf("node 1 after healing: %+v, want follower of %d with commit %d", st, lead, nw.node(lead).Status().Commit)
	}
	nw.mustBeSafe()
}

// staleCandidateScenario: node 3 misses a committed entry, then node 1
// (which has it) is cut off and node 3 campaigns against node 2.
func staleCandidateScenario(t *testing.T, bugs Bugs) *network {
	nw := newNetwork(t, 3, classic, withBugs(bugs))
	nw.campaign(1)
	nw.isolate(3)
	nw.propose(1, "x") // committed by 1 and 2
	if c := nw.node(2).Status().Commit; c != 2 {
		t.Fatalf("node 2 commit = %d, want 2", c)
	}
	nw.recover()
	nw.isolate(1)
	nw.campaign(3)
	return nw
}

// §5.4.1 election restriction: a voter denies its vote to a candidate whose
// log is less up-to-date, so a committed entry survives; with the
// vote-without-log-check bug the stale candidate wins and the committed
// entry is overwritten.
func TestElectionRestriction(t *testing.T) {
	t.Run("correct", func(t *testing.T) {
		nw := staleCandidateScenario(t, Bugs{})
		if role := nw.node(3).Status().SoftState.Role; role == Leader {
			t.Fatalf("stale node 3 won the election")
		}
		if got := logTerms(nw.node(2)); !slices.Equal(got, []uint64{1, 1}) {
			t.Fatalf("node 2 log terms = %v, want [1 1]", got)
		}
		nw.mustBeSafe()
	})
	t.Run("bug vote-without-log-check", func(t *testing.T) {
		nw := staleCandidateScenario(t, Bugs{VoteWithoutLogCheck: true})
		if role := nw.node(3).Status().SoftState.Role; role != Leader {
			t.Fatalf("node 3 role = %s; the bug should let the stale node win", role)
		}
		if nw.safetyViolation() == "" {
			t.Fatalf("the stale leader did not overwrite the committed entry; logs %v / %v", logTerms(nw.node(2)), logTerms(nw.node(3)))
		}
	})
}

// Thesis §9.6 / §4.2.3: a node partitioned away does not bump its term
// with pre-vote, so when it rejoins the leader stays. Without pre-vote and
// check-quorum it keeps raising its term and deposes the leader.
func TestRejoiningNodeDoesNotDisrupt(t *testing.T) {
	run := func(t *testing.T, opts ...func(uint64, *Config)) (nw *network, leaderTermBefore uint64) {
		nw = newNetwork(t, 3, opts...)
		nw.campaign(1)
		term := nw.node(1).Status().HardState.Term
		nw.isolate(3)
		nw.tick(10 * nw.nodes[1].cfg.ElectionTick)
		nw.recover()
		nw.tick(3 * nw.nodes[1].cfg.HeartbeatTick)
		return nw, term
	}
	t.Run("prevote", func(t *testing.T) {
		nw, term := run(t)
		if got := nw.node(3).Status().HardState.Term; got != term {
			t.Errorf("isolated node's term went from %d to %d", term, got)
		}
		if nw.leader() != 1 || nw.node(1).Status().HardState.Term != term {
			t.Errorf("leader = %d in term %d, want 1 in term %d", nw.leader(), nw.node(1).Status().HardState.Term, term)
		}
	})
	t.Run("classic is disrupted", func(t *testing.T) {
		nw, term := run(t, classic)
		if got := nw.node(1).Status().HardState.Term; got <= term {
			t.Errorf("without pre-vote the leader's term stayed %d; expected the rejoining node to force a new term", got)
		}
	})
}

// §5.3: a follower with a long conflicting tail is repaired, and the
// conflict-term hint backs off a whole term per round trip, not an entry.
func TestLogConflictRepairFastBackoff(t *testing.T) {
	long := func(base uint64, term uint64, n int) []uint64 {
		ts := []uint64{base}
		for range n {
			ts = append(ts, term)
		}
		return ts
	}
	nw := newNetwork(t, 3, classic,
		withLog(1, 3, long(1, 3, 100)...),
		withLog(2, 2, long(1, 2, 100)...),
		withLog(3, 3, long(1, 3, 100)...))
	nw.campaign(1)
	if nw.leader() != 1 {
		t.Fatalf("leader = %d, want 1", nw.leader())
	}
	rejects := 0
	nw.transform = func(m *Message) bool {
		if m.Type == MsgAppResp && m.Reject {
			rejects++
		}
		return true
	}
	nw.tick(2 * nw.nodes[1].cfg.HeartbeatTick)
	if got, want := logTerms(nw.node(2)), logTerms(nw.node(1)); !slices.Equal(got, want) {
		t.Fatalf("node 2 log terms not repaired:\n got %v\nwant %v", got, want)
	}
	if rejects > 2 {
		t.Errorf("%d rejections to repair a 100-entry conflict; fast back-off should need at most 2", rejects)
	}
	nw.mustBeSafe()
}

// §5.3 consistency check: with the no-prev-log-check bug a follower
// accepts entries after a previous entry of another term, the logs then
// differ below a matching entry, and it applies an entry the leader never
// committed.
func TestPrevLogCheck(t *testing.T) {
	setup := func(t *testing.T, bugs Bugs) *network {
		nw := newNetwork(t, 3, classic, withBugs(bugs),
			withLog(1, 3, 1, 3),
			withLog(2, 2, 1, 2),
			withLog(3, 3, 1, 3))
		nw.campaign(1)
		nw.tick(2 * nw.nodes[1].cfg.HeartbeatTick)
		return nw
	}
	t.Run("correct", func(t *testing.T) {
		nw := setup(t, Bugs{})
		if got, want := logTerms(nw.node(2)), logTerms(nw.node(1)); !slices.Equal(got, want) {
			t.Fatalf("node 2 log %v, want %v", got, want)
		}
		nw.mustBeSafe()
	})
	t.Run("bug no-prev-log-check", func(t *testing.T) {
		nw := setup(t, Bugs{NoPrevLogCheck: true})
		if nw.safetyViolation() == "" {
			t.Fatalf("no divergence: node 2 log %v, leader %v", logTerms(nw.node(2)), logTerms(nw.node(1)))
		}
	})
}

// figure8 plays the scenario of the paper's Figure 8 (§5.4.2) on five
// nodes, from (c) on. Before it: S1 led term 2 and put entry 2 (term 2) on
// S1 and S2; S5 led term 3 and put its own entry 2 (term 3) on itself.
//
//	(c) S1 leads term 4 and replicates its entry 2 to S3: now on a
//	    majority (S1, S2, S3). Its new-term entry 3 reaches only S2.
//	(d) S1 crashes; S5 wins term 5 with S3 and S4 and overwrites entry 2.
//
// It returns the network after (d) and S1's commit index at (c).
func figure8(t *testing.T, bugs Bugs) (*network, uint64) {
	nw := newNetwork(t, 5, classic, withBugs(bugs),
		func(_ uint64, c *Config) { c.MaxEntriesPerMsg = 1 },
		withLog(1, 3, 1, 2),
		withLog(2, 2, 1, 2),
		withLog(3, 3, 1),
		withLog(4, 3, 1),
		withLog(5, 3, 1, 3))
	// (c): S4, S5 down; S1 wins term 4 with S2 and S3.
	nw.isolate(4)
	nw.isolate(5)
	// Entry 3 (S1's term-4 no-op) never reaches S3: the network drops it
	// from every batch to S3.
	nw.transform = func(m *Message) bool {
		if m.Type == MsgApp && m.To == 3 {
			m.Entries = slices.DeleteFunc(slices.Clone(m.Entries), func(e Entry) bool { return e.Index >= 3 })
		}
		return true
	}
	nw.campaign(1)
	if nw.leader() != 1 || nw.node(1).Status().HardState.Term != 4 {
		t.Fatalf("(c): leader %d, want S1 in term 4", nw.leader())
	}
	nw.tick(2*nw.nodes[1].cfg.HeartbeatTick, 1)
	if got := logTerms(nw.node(3)); !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("(c): S3 log terms %v, want [1 2]", got)
	}
	commitC := nw.node(1).Status().Commit

	// (d): S1 crashes; S5 campaigns until it wins.
	nw.nodes[1].down = true
	nw.recover()
	for range 5 {
		if nw.leader() == 5 {
			break
		}
		nw.campaign(5)
	}
	if nw.leader() != 5 {
		t.Fatalf("(d): S5 did not win; leader %d", nw.leader())
	}
	nw.tick(2*nw.nodes[5].cfg.HeartbeatTick, 5)
	return nw, commitC
}

func TestFigure8(t *testing.T) {
	t.Run("correct", func(t *testing.T) {
		nw, commitC := figure8(t, Bugs{})
		// S1 must not commit entry 2 by counting replicas: it is of term 2.
		if commitC >= 2 {
			t.Fatalf("(c): S1 commit = %d, want < 2: an old-term entry on a majority is not committed", commitC)
		}
		nw.mustBeSafe()
		// S1 comes back and converges on S5's log.
		nw.restart(1)
		nw.tick(2*nw.nodes[5].cfg.HeartbeatTick, 5)
		if got, want := logTerms(nw.node(1)), logTerms(nw.node(5)); !slices.Equal(got, want) {
			t.Fatalf("S1 log %v after restart, want %v", got, want)
		}
		nw.mustBeSafe()
	})
	t.Run("bug commit-previous-term", func(t *testing.T) {
		nw, commitC := figure8(t, Bugs{CommitPreviousTerm: true})
		if commitC != 2 {
			t.Fatalf("(c): S1 commit = %d, want 2: the bug commits the old-term entry", commitC)
		}
		v := nw.safetyViolation()
		if v == "" {
			t.Fatalf("(d): the committed entry 2 was not overwritten")
		}
		t.Logf("caught: %s", v)
	})
}

// §7 / thesis §5: a follower that fell behind the leader's compacted log
// gets the snapshot, then the entries after it.
func TestSnapshotInstallForLaggingFollower(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	nw.isolate(3)
	for i := range 20 {
		nw.propose(1, fmt.Sprintf("v%d", i))
	}
	nw.compact(1)
	nw.compact(2)
	if si := nw.node(1).Status().SnapIndex; si != 21 {
		t.Fatalf("leader snapshot index %d, want 21", si)
	}
	nw.recover()
	nw.tick(2 * nw.nodes[1].cfg.HeartbeatTick)
	if nw.sent[MsgSnap] == 0 {
		t.Fatalf("no MsgSnap sent")
	}
	st := nw.node(3).Status()
	if st.SnapIndex != 21 || st.Applied != 21 {
		t.Fatalf("node 3 after snapshot: %+v, want snapshot and applied at 21", st)
	}
	if e := nw.nodes[3].state[21]; string(e.Data) != "v19" {
		t.Fatalf("node 3 state at 21 = %q, want v19", e.Data)
	}
	nw.propose(1, "after")
	if c := nw.node(3).Status().Commit; c != 22 {
		t.Fatalf("node 3 commit %d after a new proposal, want 22", c)
	}
	if string(nw.nodes[3].state[22].Data) != "after" {
		t.Fatalf("node 3 did not apply the entry after the snapshot")
	}
	// The follower's disk holds the snapshot, and survives a restart.
	nw.restart(3)
	if st := nw.node(3).Status(); st.SnapIndex != 21 || st.LastIndex != 22 {
		t.Fatalf("node 3 after restart: %+v", st)
	}
	nw.mustBeSafe()
}

// Thesis §6.4: ReadIndex releases a read only after a heartbeat quorum
// confirms leadership, at the commit index of the request's time.
func TestReadIndex(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.campaign(1)
	nw.propose(1, "x")
	commit := nw.node(1).Status().Commit
	if err := nw.node(1).ReadIndex(7); err != nil {
		t.Fatal(err)
	}
	nw.settle()
	if got := nw.nodes[1].readStates; !slices.Equal(got, []ReadState{{Index: commit, RequestCtx: 7}}) {
		t.Fatalf("read states = %v, want index %d ctx 7", got, commit)
	}
	if err := nw.node(2).ReadIndex(8); err != ErrNotLeader {
		t.Fatalf("ReadIndex on a follower: %v, want ErrNotLeader", err)
	}

	// A leader cut off from the majority must not confirm a read.
	nw.nodes[1].readStates = nil
	nw.isolate(1)
	if err := nw.node(1).ReadIndex(9); err != nil {
		t.Fatal(err)
	}
	nw.tick(nw.nodes[1].cfg.ElectionTick-1, 1)
	if got := nw.nodes[1].readStates; len(got) != 0 {
		t.Fatalf("an isolated leader confirmed reads %v", got)
	}
}

// Thesis §6.4: a new leader serves reads only after committing an entry of
// its own term (its no-op), else its commit index could be stale.
func TestReadIndexWaitsForCommitInTerm(t *testing.T) {
	nw := newNetwork(t, 3, classic)
	nw.campaign(1)
	// Hold back every append so the no-op cannot commit.
	nw.transform = func(m *Message) bool { return m.Type != MsgApp }
	nw.campaign(2)
	nw.tick(2*nw.nodes[1].cfg.ElectionTick, 2, 3)
	if nw.leader() != 2 {
		t.Fatalf("leader %d, want 2", nw.leader())
	}
	if err := nw.node(2).ReadIndex(1); err != nil {
		t.Fatal(err)
	}
	nw.tick(3*nw.nodes[1].cfg.HeartbeatTick, 2)
	if got := nw.nodes[2].readStates; len(got) != 0 {
		t.Fatalf("read released before the leader committed in its term: %v", got)
	}
	nw.transform = nil
	nw.tick(3*nw.nodes[1].cfg.HeartbeatTick, 2)
	st := nw.node(2).Status()
	if got := nw.nodes[2].readStates; len(got) != 1 || got[0].Index != st.Commit || got[0].RequestCtx != 1 {
		t.Fatalf("read states %v, want one at commit %d", got, st.Commit)
	}
}

// The Ready contract: a leader counts itself toward the commit quorum only
// after Advance reports its entries durable.
func TestLeaderCountsItselfOnlyAfterPersist(t *testing.T) {
	cfg := DefaultConfig(1, []uint64{1}, rand.New(rand.NewPCG(1, 1)))
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.Campaign()
	rd := r.Ready()
	if r.Status().SoftState.Role != Leader || len(rd.Entries) != 1 || len(rd.CommittedEntries) != 0 {
		t.Fatalf("first Ready: role %s, %d entries, %d committed; want leader, 1 (no-op), 0",
			r.Status().SoftState.Role, len(rd.Entries), len(rd.CommittedEntries))
	}
	r.Advance(rd)
	if c := r.Status().Commit; c != 1 {
		t.Fatalf("commit after Advance = %d, want 1", c)
	}
	rd = r.Ready()
	if len(rd.CommittedEntries) != 1 || rd.CommittedEntries[0].Type != EntryNoop {
		t.Fatalf("second Ready committed %v, want the no-op", rd.CommittedEntries)
	}
	defer func() {
		if recover() == nil {
			t.Fatalf("Propose between Ready and Advance did not panic")
		}
	}()
	_, _, _ = r.Propose([]byte("x"))
}

// A node restarted from its disk keeps its term, vote and log (Figure 2,
// persistent state), and cannot vote twice in a term.
func TestRestartKeepsVote(t *testing.T) {
	nw := newNetwork(t, 3, classic)
	nw.isolate(1)
	nw.campaign(2) // 3 votes for 2 in term 1
	nw.restart(3)
	if hs := nw.node(3).Status().HardState; hs != (HardState{Term: 1, Vote: 2}) {
		t.Fatalf("node 3 hard state after restart %+v, want term 1 vote 2", hs)
	}
	// Node 1 in term 1 asks 3 for its vote: denied, it already voted.
	nw.node(1).becomeCandidate()
	nw.recover()
	nw.cutBoth(1, 2)
	nw.settle()
	if nw.node(1).Status().SoftState.Role == Leader {
		t.Fatalf("node 1 won term 1, in which node 3 had voted for node 2")
	}
}

// Replication under random message loss eventually commits everything, in
// the same order everywhere; batching puts many entries per message.
func TestReplicationUnderLossAndBatching(t *testing.T) {
	nw := newNetwork(t, 5)
	nw.campaign(1)
	rng := rand.New(rand.NewPCG(7, 7))
	nw.transform = func(m *Message) bool { return rng.Float64() > 0.2 }
	for i := range 50 {
		data := make([][]byte, 20)
		for j := range data {
			data[j] = fmt.Appendf(nil, "%d-%d", i, j)
		}
		if lead := nw.leader(); lead != None {
			_, _, _ = nw.node(lead).Propose(data...)
		}
		nw.tick(1)
	}
	nw.transform = nil
	nw.tick(4 * nw.nodes[1].cfg.ElectionTick)
	lead := nw.leader()
	want := nw.node(lead).Status().LastIndex
	for _, id := range nw.ids {
		if st := nw.node(id).Status(); st.Commit != want {
			t.Errorf("node %d commit %d, want %d", id, st.Commit, want)
		}
	}
	if want < 500 {
		t.Errorf("only %d entries committed from 1000 proposed with one leader", want)
	}
	nw.mustBeSafe()
}

// Random partitions, message loss, crashes with restarts and compaction,
// with proposals throughout: State Machine Safety must hold, and after
// healing everyone converges.
func TestRandomFaultsKeepSafety(t *testing.T) {
	for seed := range 30 {
		rng := rand.New(rand.NewPCG(uint64(seed), 99))
		nw := newNetwork(t, 5, func(id uint64, c *Config) {
			c.Rand = rand.New(rand.NewPCG(uint64(seed), id))
			c.MaxEntriesPerMsg = 1 + rng.IntN(8)
		})
		nw.transform = func(m *Message) bool { return rng.Float64() > 0.1 }
		for step := range 400 {
			switch rng.IntN(20) {
			case 0:
				nw.recover()
				nw.transform = func(m *Message) bool { return rng.Float64() > 0.1 }
				for range rng.IntN(3) {
					nw.cutBoth(uint64(1+rng.IntN(5)), uint64(1+rng.IntN(5)))
				}
			case 1:
				id := uint64(1 + rng.IntN(5))
				if nw.nodes[id].down {
					nw.restart(id)
				} else {
					nw.nodes[id].down = true
				}
			case 2:
				id := uint64(1 + rng.IntN(5))
				if !nw.nodes[id].down && nw.node(id).Status().Applied > nw.node(id).Status().SnapIndex {
					nw.compact(id)
				}
			}
			if lead := nw.leader(); lead != None {
				_, _, _ = nw.node(lead).Propose(fmt.Appendf(nil, "s%d", step))
			}
			nw.tick(1)
			if v := nw.safetyViolation(); v != "" {
				t.Fatalf("seed %d step %d: %s", seed, step, v)
			}
		}
		for _, id := range nw.ids {
			if nw.nodes[id].down {
				nw.restart(id)
			}
		}
		nw.recover()
		nw.tick(6 * nw.nodes[1].cfg.ElectionTick)
		nw.mustBeSafe()
		lead := nw.leader()
		if lead == None {
			t.Fatalf("seed %d: no leader after healing", seed)
		}
		if c := nw.node(lead).Status().Commit; c < 30 {
			t.Errorf("seed %d: only %d entries committed in 400 steps", seed, c)
		}
		for _, id := range nw.ids {
			if got, want := nw.node(id).Status().Commit, nw.node(lead).Status().Commit; got != want {
				t.Errorf("seed %d: node %d commit %d, leader %d has %d", seed, id, got, lead, want)
			}
		}
	}
}

// TestPrevLogCheckGap is the seed's own form of the mistake: a follower
// whose log is shorter than the leader's previous index. Correct: it
// rejects (§5.3). With no-prev-log-check it appends the entries at the end
// of what it has, at the wrong indices, and acknowledges them where the
// leader put them, so the leader counts a replica that does not hold them.
func TestPrevLogCheckGap(t *testing.T) {
	follower := func(t *testing.T, bugs Bugs) *Raft {
		cfg := DefaultConfig(2, []uint64{1, 2, 3}, rand.New(rand.NewPCG(2, 42)))
		cfg.Bugs = bugs
		cfg.HardState = HardState{Term: 2}
		cfg.Entries = []Entry{{Index: 1, Term: 1}, {Index: 2, Term: 1}}
		r, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		app := Message{Type: MsgApp, From: 1, To: 2, Term: 2, Index: 5, LogTerm: 2,
			Entries: []Entry{{Index: 6, Term: 2, Data: []byte("x")}, {Index: 7, Term: 2, Data: []byte("y")}}}
		if err := r.Step(app); err != nil {
			t.Fatal(err)
		}
		return r
	}
	reply := func(r *Raft) Message {
		rd := r.Ready()
		defer r.Advance(rd)
		for _, m := range rd.Messages {
			if m.Type == MsgAppResp {
				return m
			}
		}
		t.Fatal("no append response")
		return Message{}
	}
	t.Run("correct", func(t *testing.T) {
		r := follower(t, Bugs{})
		if m := reply(r); !m.Reject {
			t.Fatalf("follower with log up to 2 accepted entries after index 5: %+v", m)
		}
		if r.log.lastIndex() != 2 {
			t.Fatalf("log grew to %d on a rejected append", r.log.lastIndex())
		}
	})
	t.Run("bug no-prev-log-check", func(t *testing.T) {
		r := follower(t, Bugs{NoPrevLogCheck: true})
		m := reply(r)
		if m.Reject || m.Index != 7 {
			t.Fatalf("reply %+v, want an ack of index 7 (where the leader put the entries)", m)
		}
		if r.log.lastIndex() != 4 {
			t.Fatalf("log ends at %d, want 4: the two entries appended right after index 2", r.log.lastIndex())
		}
		if term, _ := r.log.term(3); term != 2 {
			t.Fatalf("index 3 has term %d, want the leader's entry 6 (term 2) shifted there", term)
		}
	})
}
