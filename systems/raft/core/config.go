package core

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
)

// Bugs are classic Raft mistakes the core can be started with, for the
// harness to catch. All are off by default.
type Bugs struct {
	// VoteWithoutLogCheck grants (pre-)votes without the election
	// restriction of paper §5.4.1: a candidate with a stale log can win and
	// overwrite committed entries.
	VoteWithoutLogCheck bool
	// NoPrevLogCheck makes a follower accept an AppendEntries without the
	// consistency check of paper §5.3: whatever it holds at the previous
	// index is taken to match, and when its log is shorter than that index
	// the entries go on its end, at the wrong indices, and are acknowledged
	// where the leader put them. Logs diverge, and the leader counts a
	// replica that does not hold what it acknowledged.
	NoPrevLogCheck bool
	// CommitPreviousTerm lets a leader commit an entry of an earlier term
	// by counting replicas (the mistake paper §5.4.2 and Figure 8 warn
	// about): a later leader can overwrite it. Like the seed, a leader
	// with this bug appends no no-op when elected.
	CommitPreviousTerm bool
}

// Any reports whether any bug is on. With no bug on, the core panics on a
// violated safety invariant (a committed entry about to be overwritten);
// with one on, it carries on so the harness can observe the damage.
func (b Bugs) Any() bool { return b != Bugs{} }

// Config configures one Raft node. Fields after Bugs restore the state a
// node persisted before a restart; leave them zero for a fresh node.
type Config struct {
	// ID is this node's ID, non-zero and in Peers.
	ID uint64
	// Peers are all voters, this node included. Membership is fixed.
	Peers []uint64
	// ElectionTick is the minimum election timeout in ticks; each node
	// draws its timeout from [ElectionTick, 2*ElectionTick) after every
	// reset, so that split votes resolve (paper §5.2). A leader also
	// checks its quorum once per ElectionTick.
	ElectionTick int
	// HeartbeatTick is how often a leader sends heartbeats, in ticks. Must
	// be well below ElectionTick so followers do not time out.
	HeartbeatTick int
	// PreVote runs a pre-election before bumping the term (thesis §9.6),
	// so a partitioned node that rejoins cannot depose a healthy leader.
	PreVote bool
	// CheckQuorum makes a leader step down when it has not heard from a
	// majority within an election timeout (thesis §6.2), which also bounds
	// how long a deposed leader can believe it leads.
	CheckQuorum bool
	// MaxEntriesPerMsg and MaxBytesPerMsg cap one MsgApp (batching).
	MaxEntriesPerMsg int
	MaxBytesPerMsg   int
	// MaxInflightMsgs caps unacknowledged MsgApps per follower
	// (pipelining).
	MaxInflightMsgs int
	// Rand draws election timeouts. The core owns it from New on.
	Rand *rand.Rand
	Bugs Bugs

	// HardState is the persisted term and vote.
	HardState HardState
	// Snapshot is the latest persisted snapshot, if any; the application
	// must already have restored its state from it.
	Snapshot *Snapshot
	// Entries are the persisted entries after the snapshot, contiguous.
	Entries []Entry
}

// DefaultConfig returns a config with pre-vote and check-quorum on and
// batching limits that suit a loopback cluster.
func DefaultConfig(id uint64, peers []uint64, rng *rand.Rand) Config {
	return Config{
		ID:               id,
		Peers:            peers,
		ElectionTick:     10, // ~ 10 heartbeats: a few lost heartbeats don't start an election
		HeartbeatTick:    2,
		PreVote:          true,
		CheckQuorum:      true,
		MaxEntriesPerMsg: 1024,    // a whole group-commit batch in one message
		MaxBytesPerMsg:   1 << 20, // keeps one message well under socket buffers
		MaxInflightMsgs:  256,     // enough to cover a slow fsync on the follower
		Rand:             rng,
	}
}

// Validate checks the fields against each other.
func (c *Config) Validate() error {
	if c.ID == None {
		return errors.New("raft config: ID must be non-zero")
	}
	if !slices.Contains(c.Peers, c.ID) {
		return fmt.Errorf("raft config: ID %d not in Peers %v", c.ID, c.Peers)
	}
	seen := map[uint64]bool{}
	for _, p := range c.Peers {
		if p == None || seen[p] {
			return fmt.Errorf("raft config: Peers %v has a zero or duplicate ID", c.Peers)
		}
		seen[p] = true
	}
	if c.HeartbeatTick <= 0 || c.ElectionTick <= c.HeartbeatTick {
		return fmt.Errorf("raft config: need 0 < HeartbeatTick (%d) < ElectionTick (%d)", c.HeartbeatTick, c.ElectionTick)
	}
	if c.MaxInflightMsgs <= 0 {
		return fmt.Errorf("raft config: MaxInflightMsgs %d must be positive", c.MaxInflightMsgs)
	}
	if c.Rand == nil {
		return errors.New("raft config: Rand is nil")
	}
	if c.HardState.Vote != None && !seen[c.HardState.Vote] {
		return fmt.Errorf("raft config: vote for %d, not a peer", c.HardState.Vote)
	}
	var next, lastTerm uint64 = 1, 0
	if c.Snapshot != nil {
		next, lastTerm = c.Snapshot.Index+1, c.Snapshot.Term
	}
	for _, e := range c.Entries {
		if e.Index != next || e.Term < lastTerm {
			return fmt.Errorf("raft config: entry %d/%d out of order (want index %d, term >= %d)", e.Index, e.Term, next, lastTerm)
		}
		next, lastTerm = next+1, e.Term
	}
	if lastTerm > c.HardState.Term {
		return fmt.Errorf("raft config: log term %d beyond hard state term %d", lastTerm, c.HardState.Term)
	}
	return nil
}
