package core

import "fmt"

// progressState is how a leader replicates to one follower.
type progressState uint8

const (
	// stateProbe: the match point is unknown; one MsgApp in flight at a
	// time, until a response or heartbeat response unpauses it.
	stateProbe progressState = iota
	// stateReplicate: the follower matches up to Match; MsgApps stream
	// optimistically, up to maxInflight unacknowledged.
	stateReplicate
	// stateSnapshot: a snapshot was sent; wait for it to be acknowledged
	// (or resend after an election timeout).
	stateSnapshot
)

func (s progressState) String() string {
	return [...]string{"probe", "replicate", "snapshot"}[s]
}

// progress is the leader's view of one follower (paper Figure 2
// nextIndex/matchIndex, plus flow control).
//
// Invariant: Match < Next.
type progress struct {
	Match, Next uint64
	State       progressState
	// probeSent pauses a probe until the follower answers.
	probeSent bool
	// inflight holds the last index of each unacknowledged MsgApp sent in
	// replicate state, oldest first.
	inflight        []uint64
	pendingSnapshot uint64
	snapTicks       int
	// sentCommit is the highest commit index sent that the follower can
	// use (bounded by the entries the message let it match).
	sentCommit uint64
	// recentActive: heard from the follower within this election timeout
	// (check-quorum, thesis §6.2).
	recentActive bool
	// readAck is the highest read round the follower acknowledged.
	readAck uint64
}

func (p *progress) becomeProbe() {
	if p.State == stateSnapshot {
		p.Next = max(p.Match+1, p.pendingSnapshot+1)
	} else {
		p.Next = p.Match + 1
	}
	p.State, p.probeSent, p.inflight, p.pendingSnapshot = stateProbe, false, p.inflight[:0], 0
}

func (p *progress) becomeReplicate() {
	p.State, p.probeSent, p.inflight = stateReplicate, false, p.inflight[:0]
	p.Next = p.Match + 1
}

func (p *progress) becomeSnapshot(index uint64) {
	p.State, p.probeSent, p.inflight = stateSnapshot, false, p.inflight[:0]
	p.pendingSnapshot, p.snapTicks = index, 0
}

// maybeUpdate records an acknowledged match at n.
func (p *progress) maybeUpdate(n uint64) bool {
	updated := false
	if p.Match < n {
		p.Match = n
		updated = true
		p.probeSent = false
	}
	p.Next = max(p.Next, n+1)
	i := 0
	for i < len(p.inflight) && p.inflight[i] <= n {
		i++
	}
	p.inflight = p.inflight[i:]
	return updated
}

// maybeDecrTo handles a rejection of the append whose previous index was
// rejected; matchHint is the leader's guess of the last matching index.
// It reports false for a stale rejection.
func (p *progress) maybeDecrTo(rejected, matchHint uint64) bool {
	if p.State == stateReplicate {
		if rejected <= p.Match {
			return false
		}
		p.Next = p.Match + 1
		return true
	}
	if p.Next-1 != rejected {
		return false
	}
	p.Next = max(min(rejected, matchHint+1), p.Match+1)
	p.probeSent = false
	return true
}

func (p *progress) paused(maxInflight int) bool {
	switch p.State {
	case stateProbe:
		return p.probeSent
	case stateReplicate:
		return len(p.inflight) >= maxInflight
	case stateSnapshot:
		return true
	}
	panic(fmt.Sprintf("raft: unknown progress state %d", p.State))
}
