package core

import (
	"fmt"
	"slices"
)

// Raft is one node's protocol state. It is not safe for concurrent use:
// one goroutine drives it (see the package documentation).
type Raft struct {
	id    uint64
	peers []uint64 // sorted, self included
	cfg   Config

	term uint64
	vote uint64
	lead uint64
	role Role

	log raftLog
	// snapshot is the latest snapshot, sent to followers that fell behind
	// the log's start.
	snapshot *Snapshot
	// pendingSnapshot was received and is yet to be handed out in a Ready.
	pendingSnapshot *Snapshot

	prs   map[uint64]*progress // leader only
	votes map[uint64]bool      // candidates only

	// electionElapsed counts ticks since the last reset: for followers and
	// candidates, since they last heard from a leader or voted; for a
	// leader, since the last quorum check.
	electionElapsed  int
	heartbeatElapsed int
	// randomizedElectionTimeout is in [ElectionTick, 2*ElectionTick).
	randomizedElectionTimeout int

	msgs       []Message
	readStates []ReadState
	// reads are read rounds awaiting a heartbeat quorum, oldest first.
	reads   []readRound
	readSeq uint64
	// readsBeforeCommit wait until the leader commits an entry of its term.
	readsBeforeCommit []uint64

	prevSoft SoftState
	prevHard HardState
	inReady  bool
}

type readRound struct {
	seq, index, ctx uint64
}

// New returns a node in the follower role, restored from cfg's persisted
// fields.
func New(cfg Config) (*Raft, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Raft{
		id:    cfg.ID,
		peers: slices.Sorted(slices.Values(cfg.Peers)),
		cfg:   cfg,
	}
	if s := cfg.Snapshot; s != nil {
		r.log.restore(s)
		r.snapshot = s
	}
	r.log.ents = append([]Entry(nil), cfg.Entries...)
	r.log.stable = r.log.lastIndex()
	r.becomeFollower(cfg.HardState.Term, None)
	r.vote = cfg.HardState.Vote
	r.prevHard = r.hardState()
	r.prevSoft = r.softState()
	return r, nil
}

func (r *Raft) quorum() int { return len(r.peers)/2 + 1 }

func (r *Raft) hardState() HardState { return HardState{Term: r.term, Vote: r.vote} }

func (r *Raft) softState() SoftState { return SoftState{Lead: r.lead, Role: r.role} }

func (r *Raft) checkNotInReady(op string) {
	if r.inReady {
		panic(fmt.Sprintf("raft: %s called between Ready and Advance", op))
	}
}

// Status returns a snapshot of the node's state.
func (r *Raft) Status() Status {
	return Status{
		ID: r.id, HardState: r.hardState(), SoftState: r.softState(),
		Commit: r.log.committed, Applied: r.log.applied,
		LastIndex: r.log.lastIndex(), SnapIndex: r.log.snapIndex,
	}
}

// --- role transitions ---

func (r *Raft) reset(term uint64) {
	if r.term != term {
		r.term = term
		r.vote = None
	}
	r.lead = None
	r.electionElapsed, r.heartbeatElapsed = 0, 0
	r.randomizedElectionTimeout = r.cfg.ElectionTick + r.cfg.Rand.IntN(r.cfg.ElectionTick)
	r.votes = map[uint64]bool{}
	r.prs = nil
	r.reads, r.readsBeforeCommit = nil, nil
}

func (r *Raft) becomeFollower(term, lead uint64) {
	r.reset(term)
	r.lead = lead
	r.role = Follower
}

func (r *Raft) becomePreCandidate() {
	if r.role == Leader {
		panic("raft: invalid transition [leader -> pre-candidate]")
	}
	// The term and vote stay: a pre-vote changes nothing persistent.
	r.votes = map[uint64]bool{r.id: true}
	r.lead = None
	r.electionElapsed = 0
	r.randomizedElectionTimeout = r.cfg.ElectionTick + r.cfg.Rand.IntN(r.cfg.ElectionTick)
	r.role = PreCandidate
}

func (r *Raft) becomeCandidate() {
	if r.role == Leader {
		panic("raft: invalid transition [leader -> candidate]")
	}
	r.reset(r.term + 1)
	r.vote = r.id
	r.votes[r.id] = true
	r.role = Candidate
}

func (r *Raft) becomeLeader() {
	if r.role == Follower || r.role == PreCandidate {
		panic(fmt.Sprintf("raft: invalid transition [%s -> leader]", r.role))
	}
	r.reset(r.term)
	r.lead = r.id
	r.role = Leader
	r.prs = make(map[uint64]*progress, len(r.peers))
	for _, id := range r.peers {
		r.prs[id] = &progress{Next: r.log.lastIndex() + 1, recentActive: true}
	}
	// The leader counts itself only for entries it knows are durable.
	r.prs[r.id].Match = r.log.stable
	// A no-op of the new term lets the leader commit (and so learn the
	// commit point of) everything before it (paper §8, thesis §6.4). The
	// commit-previous-term bug goes without, as the seed does: with the
	// no-op, earlier-term entries always travel with a current-term entry
	// behind them and counting them early is all but invisible.
	if !r.cfg.Bugs.CommitPreviousTerm {
		r.appendEntries(Entry{Type: EntryNoop})
	}
}

// --- inputs ---

// Tick advances logical time by one tick.
func (r *Raft) Tick() {
	r.checkNotInReady("Tick")
	if r.role == Leader {
		r.tickHeartbeat()
	} else {
		r.tickElection()
	}
}

func (r *Raft) tickElection() {
	r.electionElapsed++
	if r.electionElapsed >= r.randomizedElectionTimeout {
		r.electionElapsed = 0
		r.campaign(r.cfg.PreVote)
	}
}

func (r *Raft) tickHeartbeat() {
	r.heartbeatElapsed++
	r.electionElapsed++
	if r.electionElapsed >= r.cfg.ElectionTick {
		r.electionElapsed = 0
		if r.cfg.CheckQuorum && !r.quorumActive() {
			r.becomeFollower(r.term, None)
			return
		}
		for id, pr := range r.prs {
			if id != r.id {
				pr.recentActive = false
			}
		}
	}
	for _, id := range r.peers {
		// The snapshot (or its answer) may have been lost: resend after
		// an election timeout.
		if pr := r.prs[id]; id != r.id && pr.State == stateSnapshot {
			if pr.snapTicks++; pr.snapTicks >= r.cfg.ElectionTick {
				pr.State, pr.Next, pr.probeSent = stateProbe, pr.Match+1, false
				r.sendAppend(id, false)
			}
		}
	}
	if r.heartbeatElapsed >= r.cfg.HeartbeatTick {
		r.heartbeatElapsed = 0
		r.bcastHeartbeat()
	}
}

func (r *Raft) quorumActive() bool {
	n := 0
	for id, pr := range r.prs {
		if id == r.id || pr.recentActive {
			n++
		}
	}
	return n >= r.quorum()
}

// Campaign starts an election now (a pre-vote first when configured). A
// leader ignores it.
func (r *Raft) Campaign() {
	r.checkNotInReady("Campaign")
	if r.role != Leader {
		r.campaign(r.cfg.PreVote)
	}
}

func (r *Raft) campaign(pre bool) {
	var typ MsgType
	var term uint64
	if pre {
		r.becomePreCandidate()
		typ, term = MsgPreVote, r.term+1
	} else {
		r.becomeCandidate()
		typ, term = MsgVote, r.term
	}
	if r.quorum() == 1 {
		r.wonElection()
		return
	}
	for _, id := range r.peers {
		if id != r.id {
			r.send(Message{Type: typ, To: id, Term: term, Index: r.log.lastIndex(), LogTerm: r.log.lastTerm()})
		}
	}
}

func (r *Raft) wonElection() {
	if r.role == PreCandidate {
		r.campaign(false)
		return
	}
	r.becomeLeader()
	r.bcastAppend()
}

// Propose appends data as new entries, if this node leads. It returns the
// index of the first entry and the term they were proposed in: entry i of
// data is committed iff the entry applied at first+i has that term.
func (r *Raft) Propose(data ...[]byte) (first, term uint64, err error) {
	r.checkNotInReady("Propose")
	if r.role != Leader {
		return 0, 0, ErrNotLeader
	}
	first = r.log.lastIndex() + 1
	ents := make([]Entry, len(data))
	for i, d := range data {
		ents[i] = Entry{Type: EntryNormal, Data: d}
	}
	r.appendEntries(ents...)
	r.bcastAppend()
	return first, r.term, nil
}

func (r *Raft) appendEntries(ents ...Entry) {
	li := r.log.lastIndex()
	for i := range ents {
		ents[i].Term = r.term
		ents[i].Index = li + 1 + uint64(i)
	}
	r.log.ents = append(r.log.ents, ents...)
}

// ReadIndex asks for a linearizable read (thesis §6.4). Once leadership is
// confirmed by a heartbeat quorum, a ReadState with ctx and the commit
// index at the time of the request appears in a Ready. A leader that has
// not yet committed an entry of its term holds the request until it has.
// If leadership is lost first, the request is dropped silently: callers
// watch SoftState.
func (r *Raft) ReadIndex(ctx uint64) error {
	r.checkNotInReady("ReadIndex")
	if r.role != Leader {
		return ErrNotLeader
	}
	if !r.committedInTerm() {
		r.readsBeforeCommit = append(r.readsBeforeCommit, ctx)
		return nil
	}
	r.startReads(ctx)
	return nil
}

func (r *Raft) committedInTerm() bool {
	t, err := r.log.term(r.log.committed)
	return err == nil && t == r.term
}

func (r *Raft) startReads(ctxs ...uint64) {
	if r.quorum() == 1 {
		for _, c := range ctxs {
			r.readStates = append(r.readStates, ReadState{Index: r.log.committed, RequestCtx: c})
		}
		return
	}
	r.readSeq++
	for _, c := range ctxs {
		r.reads = append(r.reads, readRound{seq: r.readSeq, index: r.log.committed, ctx: c})
	}
	r.prs[r.id].readAck = r.readSeq
	r.bcastHeartbeat()
}

// releaseReads hands out, in order, the reads whose round a quorum has
// acknowledged.
func (r *Raft) releaseReads() {
	for len(r.reads) > 0 {
		rr := r.reads[0]
		n := 0
		for _, pr := range r.prs {
			if pr.readAck >= rr.seq {
				n++
			}
		}
		if n < r.quorum() {
			return
		}
		r.readStates = append(r.readStates, ReadState{Index: rr.index, RequestCtx: rr.ctx})
		r.reads = r.reads[1:]
	}
}

// Compact records an application snapshot covering the log up to index
// (which must be applied) and drops those entries. The caller persists
// data itself, durably, before calling.
func (r *Raft) Compact(index uint64, data []byte) error {
	r.checkNotInReady("Compact")
	t, err := r.log.term(index)
	if err != nil {
		return fmt.Errorf("raft: compact to %d: %w", index, err)
	}
	if err := r.log.compact(index); err != nil {
		return err
	}
	r.snapshot = &Snapshot{Index: index, Term: t, Data: data}
	return nil
}

// Step hands the node a message from a peer.
func (r *Raft) Step(m Message) error {
	r.checkNotInReady("Step")
	if m.To != r.id {
		return fmt.Errorf("raft: node %d got a message for %d", r.id, m.To)
	}
	if m.From == r.id || !slices.Contains(r.peers, m.From) {
		return fmt.Errorf("raft: node %d got %s from unknown node %d", r.id, m.Type, m.From)
	}
	switch {
	case m.Term > r.term:
		if m.Type == MsgVote || m.Type == MsgPreVote {
			if (r.cfg.CheckQuorum || r.cfg.PreVote) && r.lead != None && r.electionElapsed < r.cfg.ElectionTick {
				// We heard from a leader within the minimum election
				// timeout: ignore the disruptive candidate (thesis §4.2.3).
				return nil
			}
		}
		switch {
		case m.Type == MsgPreVote:
			// A pre-vote never changes our term.
		case m.Type == MsgPreVoteResp && !m.Reject:
			// Granted for the term we would campaign in; counted below.
		case m.Type == MsgApp || m.Type == MsgHeartbeat || m.Type == MsgSnap:
			r.becomeFollower(m.Term, m.From)
		default:
			r.becomeFollower(m.Term, None)
		}
	case m.Term < r.term:
		switch m.Type {
		case MsgApp, MsgHeartbeat, MsgSnap:
			// A deposed leader: our answer carries the term that makes it
			// step down (needed with check-quorum and pre-vote, where it
			// would otherwise never hear a higher term).
			r.send(Message{Type: MsgAppResp, To: m.From})
		case MsgPreVote:
			r.send(Message{Type: MsgPreVoteResp, To: m.From, Reject: true})
		}
		return nil
	}

	switch m.Type {
	case MsgVote, MsgPreVote:
		r.handleVote(m)
		return nil
	}
	switch r.role {
	case Leader:
		r.stepLeader(m)
	case Candidate, PreCandidate:
		r.stepCandidate(m)
	default:
		r.stepFollower(m)
	}
	return nil
}

func (r *Raft) handleVote(m Message) {
	resp := MsgVoteResp
	if m.Type == MsgPreVote {
		resp = MsgPreVoteResp
	}
	// One vote per term; a node that knows this term's leader votes for no
	// one else; a pre-vote for a later term binds nothing.
	canVote := r.vote == m.From ||
		(r.vote == None && r.lead == None) ||
		(m.Type == MsgPreVote && m.Term > r.term)
	upToDate := r.cfg.Bugs.VoteWithoutLogCheck || r.log.isUpToDate(m.Index, m.LogTerm)
	if canVote && upToDate {
		r.send(Message{Type: resp, To: m.From, Term: m.Term})
		if m.Type == MsgVote {
			r.electionElapsed = 0
			r.vote = m.From
		}
		return
	}
	r.send(Message{Type: resp, To: m.From, Term: r.term, Reject: true})
}

func (r *Raft) stepFollower(m Message) {
	switch m.Type {
	case MsgApp:
		r.electionElapsed, r.lead = 0, m.From
		r.handleAppend(m)
	case MsgHeartbeat:
		r.electionElapsed, r.lead = 0, m.From
		r.handleHeartbeat(m)
	case MsgSnap:
		r.electionElapsed, r.lead = 0, m.From
		r.handleSnapshot(m)
	}
}

func (r *Raft) stepCandidate(m Message) {
	want := MsgVoteResp
	if r.role == PreCandidate {
		want = MsgPreVoteResp
	}
	switch m.Type {
	case MsgApp:
		r.becomeFollower(m.Term, m.From)
		r.handleAppend(m)
	case MsgHeartbeat:
		r.becomeFollower(m.Term, m.From)
		r.handleHeartbeat(m)
	case MsgSnap:
		r.becomeFollower(m.Term, m.From)
		r.handleSnapshot(m)
	case want:
		if _, seen := r.votes[m.From]; !seen {
			r.votes[m.From] = !m.Reject
		}
		granted, rejected := 0, 0
		for _, v := range r.votes {
			if v {
				granted++
			} else {
				rejected++
			}
		}
		switch {
		case granted >= r.quorum():
			r.wonElection()
		case rejected >= r.quorum():
			r.becomeFollower(r.term, None)
		}
	}
}

func (r *Raft) stepLeader(m Message) {
	pr := r.prs[m.From]
	switch m.Type {
	case MsgAppResp:
		pr.recentActive = true
		if m.Reject {
			hint := m.Hint
			if m.LogTerm > 0 {
				// Skip every entry of ours whose term is above the
				// follower's term at the hint: they cannot match.
				hint, _ = r.log.findConflictByTerm(m.Hint, m.LogTerm)
			}
			if pr.maybeDecrTo(m.Index, hint) {
				if pr.State == stateReplicate {
					pr.becomeProbe()
				}
				r.sendAppend(m.From, false)
			}
			return
		}
		// Only a bug (a follower that committed past this leader's log)
		// can acknowledge beyond our last index.
		if !pr.maybeUpdate(min(m.Index, r.log.lastIndex())) {
			return
		}
		switch pr.State {
		case stateProbe:
			pr.becomeReplicate()
		case stateSnapshot:
			if pr.Match >= r.log.snapIndex {
				pr.becomeReplicate()
			}
		}
		if r.maybeCommit() {
			r.bcastAppend()
		} else {
			r.sendAppend(m.From, false)
		}
	case MsgHeartbeatResp:
		pr.recentActive = true
		pr.probeSent = false
		if pr.State == stateReplicate && m.Index < m.Hint {
			// Appends sent before this heartbeat never arrived (a
			// reconnect, a partition): find the match point again.
			pr.becomeProbe()
		}
		if m.Context > pr.readAck {
			pr.readAck = m.Context
			r.releaseReads()
		}
		if pr.Match < r.log.lastIndex() {
			r.sendAppend(m.From, false)
		}
	}
}

// maybeCommit advances the commit index to the highest index a quorum has
// persisted, if that entry is of the current term (paper §5.4.2): earlier
// terms' entries commit only indirectly, through it.
func (r *Raft) maybeCommit() bool {
	matches := make([]uint64, 0, len(r.prs))
	for _, pr := range r.prs {
		matches = append(matches, pr.Match)
	}
	slices.Sort(matches)
	q := matches[len(matches)-r.quorum()]
	if q <= r.log.committed {
		return false
	}
	if t, _ := r.log.term(q); t != r.term && !r.cfg.Bugs.CommitPreviousTerm {
		return false
	}
	r.log.commitTo(q)
	if len(r.readsBeforeCommit) > 0 && r.committedInTerm() {
		ctxs := r.readsBeforeCommit
		r.readsBeforeCommit = nil
		r.startReads(ctxs...)
	}
	return true
}

func (r *Raft) bcastAppend() {
	for _, id := range r.peers {
		if id != r.id {
			r.sendAppend(id, true)
		}
	}
}

func (r *Raft) bcastHeartbeat() {
	for _, id := range r.peers {
		if id != r.id {
			pr := r.prs[id]
			// Commit only up to what the follower is known to match.
			c := min(pr.Match, r.log.committed)
			pr.sentCommit = max(pr.sentCommit, c)
			r.send(Message{Type: MsgHeartbeat, To: id, Commit: c, Context: r.readSeq, Hint: pr.Next - 1})
		}
	}
}

// sendAppend sends the follower what it lacks: entries from Next on (a
// stream of them in replicate state), or the snapshot if Next is
// compacted. With sendIfEmpty it sends an empty MsgApp to carry the
// commit index.
func (r *Raft) sendAppend(to uint64, sendIfEmpty bool) {
	pr := r.prs[to]
	for !pr.paused(r.cfg.MaxInflightMsgs) {
		prev := pr.Next - 1
		prevTerm, err := r.log.term(prev)
		if err != nil {
			r.sendSnapshot(to, pr)
			return
		}
		var ents []Entry
		if pr.Next <= r.log.lastIndex() {
			ents = r.log.slice(pr.Next, r.log.lastIndex()+1, r.cfg.MaxEntriesPerMsg, r.cfg.MaxBytesPerMsg)
		}
		// An empty append is worth sending to carry a commit index the
		// follower may not know yet.
		lastNew := prev + uint64(len(ents))
		if len(ents) == 0 && !sendIfEmpty && pr.sentCommit >= min(r.log.committed, lastNew) {
			return
		}
		sendIfEmpty = false
		pr.sentCommit = max(pr.sentCommit, min(r.log.committed, lastNew))
		r.send(Message{Type: MsgApp, To: to, Index: prev, LogTerm: prevTerm, Entries: ents, Commit: r.log.committed})
		switch pr.State {
		case stateReplicate:
			if n := len(ents); n > 0 {
				last := ents[n-1].Index
				pr.Next = last + 1
				pr.inflight = append(pr.inflight, last)
				continue
			}
			return
		case stateProbe:
			pr.probeSent = true
			return
		}
		return
	}
}

func (r *Raft) sendSnapshot(to uint64, pr *progress) {
	if r.snapshot == nil {
		panic(fmt.Sprintf("raft: node %d needs a snapshot for %d but has none (log starts after %d)", r.id, to, r.log.snapIndex))
	}
	r.send(Message{Type: MsgSnap, To: to, Snapshot: r.snapshot})
	pr.becomeSnapshot(r.snapshot.Index)
}

func (r *Raft) handleAppend(m Message) {
	// Everything up to committed matches any later leader's log (Leader
	// Completeness, §5.4). Under a bug it may not, so then compare entries
	// and let a conflict rewind the commit index (see below) rather than
	// claim a match that makes the leader loop.
	if m.Index < r.log.committed && (!r.cfg.Bugs.Any() || m.Index < r.log.snapIndex) {
		r.send(Message{Type: MsgAppResp, To: m.From, Index: r.log.committed})
		return
	}
	ok := r.log.matchTerm(m.Index, m.LogTerm)
	ack := m.Index + uint64(len(m.Entries))
	if !ok && r.cfg.Bugs.NoPrevLogCheck {
		// The bug, as the seed's append_entries has it: no look at the
		// previous entry at all. Whatever we hold at prev is taken to
		// match, and when our log is shorter than prev the entries go on
		// its end, at the wrong indices, and are acknowledged as if they
		// sat where the leader put them.
		ok = true
		if last := r.log.lastIndex(); m.Index > last {
			shifted := make([]Entry, len(m.Entries))
			for i, e := range m.Entries {
				e.Index = last + 1 + uint64(i)
				shifted[i] = e
			}
			m.Entries, m.Index = shifted, last
		}
	}
	if !ok {
		hintIndex, hintTerm := r.log.findConflictByTerm(min(m.Index, r.log.lastIndex()), m.LogTerm)
		r.send(Message{Type: MsgAppResp, To: m.From, Index: m.Index, Reject: true, Hint: hintIndex, LogTerm: hintTerm})
		return
	}
	lastNew := m.Index + uint64(len(m.Entries))
	if ci := r.log.findConflict(m.Entries); ci != 0 {
		if ci <= r.log.committed {
			if !r.cfg.Bugs.Any() {
				panic(fmt.Sprintf("raft: node %d: entry %d conflicts with committed index %d", r.id, ci, r.log.committed))
			}
			// Only a bug gets here: follow the leader, re-applying from
			// the overwritten point so the damage is visible.
			r.log.committed = ci - 1
			r.log.applied = min(r.log.applied, r.log.committed)
		}
		r.log.truncateAndAppend(m.Entries[ci-m.Entries[0].Index:])
	}
	r.log.commitTo(min(m.Commit, lastNew))
	r.send(Message{Type: MsgAppResp, To: m.From, Index: ack})
}

func (r *Raft) handleHeartbeat(m Message) {
	r.log.commitTo(min(m.Commit, r.log.lastIndex()))
	r.send(Message{Type: MsgHeartbeatResp, To: m.From, Context: m.Context, Index: r.log.lastIndex(), Hint: m.Hint})
}

func (r *Raft) handleSnapshot(m Message) {
	s := m.Snapshot
	switch {
	case s == nil:
		return
	case s.Index <= r.log.committed:
		r.send(Message{Type: MsgAppResp, To: m.From, Index: r.log.committed})
		return
	case r.log.matchTerm(s.Index, s.Term):
		// We have the snapshot's last entry: just commit up to it.
		r.log.commitTo(s.Index)
		r.send(Message{Type: MsgAppResp, To: m.From, Index: s.Index})
		return
	}
	r.log.restore(s)
	r.snapshot = s
	r.pendingSnapshot = s
	r.send(Message{Type: MsgAppResp, To: m.From, Index: s.Index})
}

func (r *Raft) send(m Message) {
	m.From = r.id
	if m.Term == 0 {
		m.Term = r.term
	}
	r.msgs = append(r.msgs, m)
}

// --- output ---

// HasReady reports whether Ready has anything to hand out.
func (r *Raft) HasReady() bool {
	return r.softState() != r.prevSoft || r.hardState() != r.prevHard ||
		r.pendingSnapshot != nil || len(r.log.unstable()) > 0 || len(r.log.toApply()) > 0 ||
		len(r.msgs) > 0 || len(r.readStates) > 0
}

// Ready returns the pending work. The caller must do it in the documented
// order and then call Advance with it.
func (r *Raft) Ready() Ready {
	r.checkNotInReady("Ready")
	rd := Ready{
		SoftState:        r.softState(),
		HardState:        r.hardState(),
		Snapshot:         r.pendingSnapshot,
		Entries:          r.log.unstable(),
		CommittedEntries: r.log.toApply(),
		Messages:         r.msgs,
		ReadStates:       r.readStates,
	}
	rd.MustSync = rd.HardState != r.prevHard || rd.Snapshot != nil || len(rd.Entries) > 0
	r.inReady = true
	return rd
}

// Advance tells the core that rd has been persisted (and, for
// CommittedEntries, applied or queued for applying in order).
func (r *Raft) Advance(rd Ready) {
	if !r.inReady {
		panic("raft: Advance without Ready")
	}
	r.inReady = false
	r.prevSoft, r.prevHard = rd.SoftState, rd.HardState
	if rd.Snapshot != nil {
		r.pendingSnapshot = nil
	}
	if n := len(rd.Entries); n > 0 {
		r.log.stable = rd.Entries[n-1].Index
	}
	if n := len(rd.CommittedEntries); n > 0 {
		r.log.applied = rd.CommittedEntries[n-1].Index
	}
	r.msgs, r.readStates = nil, nil
	if r.role == Leader {
		// Only now may the leader count its own copies (persist BEFORE
		// counting self).
		if r.prs[r.id].maybeUpdate(r.log.stable) && r.maybeCommit() {
			r.bcastAppend()
		}
	}
}

// Snapshot returns the latest snapshot (from Compact, a leader, or
// Config), or nil. The caller must not modify it.
func (r *Raft) Snapshot() *Snapshot { return r.snapshot }
