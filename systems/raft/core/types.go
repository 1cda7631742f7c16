package core

import (
	"errors"
	"fmt"
)

// None is the zero node ID: no vote, no known leader.
const None uint64 = 0

// Sentinel errors.
var (
	// ErrNotLeader: the node is not the leader, so it cannot take a
	// proposal or a read. Nothing was proposed.
	ErrNotLeader = errors.New("raft: not leader")
	// ErrCompacted: the requested index is covered by the snapshot.
	ErrCompacted = errors.New("raft: index compacted")
	// ErrUnavailable: the requested index is beyond the last entry.
	ErrUnavailable = errors.New("raft: index unavailable")
)

// EntryType tells the application whether to apply an entry.
type EntryType uint8

const (
	// EntryNormal carries application data.
	EntryNormal EntryType = iota
	// EntryNoop is the empty entry a new leader appends (paper §8) so that
	// it commits an entry of its own term; applications skip it.
	EntryNoop
)

// Entry is one log entry. Data is owned by the log once proposed: nobody
// may modify it.
type Entry struct {
	Term  uint64
	Index uint64
	Type  EntryType
	Data  []byte
}

// HardState is what must survive a crash besides the log: the current term
// and the vote cast in it (paper Figure 2, "persistent state").
type HardState struct {
	Term uint64
	Vote uint64
}

// IsEmpty reports whether h is the zero hard state.
func (h HardState) IsEmpty() bool { return h == HardState{} }

// Snapshot is the application's state up to and including Index. Data is
// opaque to the core.
type Snapshot struct {
	Index uint64
	Term  uint64
	Data  []byte
}

// MsgType names a message.
type MsgType uint8

const (
	MsgApp           MsgType = iota + 1 // AppendEntries request
	MsgAppResp                          // AppendEntries (or InstallSnapshot) response
	MsgVote                             // RequestVote request
	MsgVoteResp                         // RequestVote response
	MsgPreVote                          // pre-vote request (thesis §9.6)
	MsgPreVoteResp                      // pre-vote response
	MsgHeartbeat                        // empty append: leadership and commit
	MsgHeartbeatResp                    // heartbeat response, echoes Context
	MsgSnap                             // InstallSnapshot request
)

var msgNames = map[MsgType]string{
	MsgApp: "MsgApp", MsgAppResp: "MsgAppResp", MsgVote: "MsgVote", MsgVoteResp: "MsgVoteResp",
	MsgPreVote: "MsgPreVote", MsgPreVoteResp: "MsgPreVoteResp", MsgHeartbeat: "MsgHeartbeat",
	MsgHeartbeatResp: "MsgHeartbeatResp", MsgSnap: "MsgSnap",
}

func (t MsgType) String() string {
	if s, ok := msgNames[t]; ok {
		return s
	}
	return fmt.Sprintf("MsgType(%d)", uint8(t))
}

// Message is one protocol message. Field meaning depends on Type:
//
//	MsgApp:           Index/LogTerm = previous entry; Entries; Commit
//	MsgAppResp:       Index = last index known to match (accept) or the
//	                  rejected previous index (Reject); Hint/LogTerm =
//	                  the follower's conflict hint (fast back-off)
//	MsgVote/PreVote:  Index/LogTerm = candidate's last entry
//	MsgHeartbeat:     Commit; Context = leader's latest read round;
//	                  Hint = last index the leader had sent this follower
//	MsgHeartbeatResp: Context and Hint echoed; Index = follower's last
//	                  index (Index < Hint: appends were lost)
//	MsgSnap:          Snapshot
type Message struct {
	Type     MsgType
	From, To uint64
	Term     uint64
	LogTerm  uint64
	Index    uint64
	Entries  []Entry
	Commit   uint64
	Reject   bool
	Hint     uint64
	Context  uint64
	Snapshot *Snapshot
}

// Role is what a node currently is.
type Role uint8

const (
	Follower Role = iota
	PreCandidate
	Candidate
	Leader
)

func (r Role) String() string {
	switch r {
	case Follower:
		return "follower"
	case PreCandidate:
		return "pre-candidate"
	case Candidate:
		return "candidate"
	case Leader:
		return "leader"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// SoftState is volatile state worth reporting: who leads, and our role.
type SoftState struct {
	Lead uint64
	Role Role
}

// ReadState says a linearizable read asked with RequestCtx may be served
// once the state machine has applied Index (thesis §6.4).
type ReadState struct {
	Index      uint64
	RequestCtx uint64
}

// Ready is a batch of work for the caller; see the package documentation
// for the order in which to do it.
type Ready struct {
	SoftState SoftState
	// HardState is the current hard state; persist it when MustSync.
	HardState HardState
	MustSync  bool
	// Snapshot, when set, was received from the leader: persist it, then
	// replace the state machine with it.
	Snapshot *Snapshot
	// Entries are to be appended to stable storage, replacing any stored
	// entries at Entries[0].Index and later.
	Entries []Entry
	// CommittedEntries are to be applied, in order.
	CommittedEntries []Entry
	// Messages are to be sent after Snapshot, HardState and Entries are
	// durable.
	Messages   []Message
	ReadStates []ReadState
}

// Status is a consistent view of the node for reporting.
type Status struct {
	ID        uint64
	HardState HardState
	SoftState SoftState
	Commit    uint64
	Applied   uint64
	LastIndex uint64
	SnapIndex uint64
}
