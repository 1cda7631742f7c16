package workloads

import "time"

// Settler is implemented by workloads on eventually consistent systems.
// Instead of one final read per key, the runner reads every key on every
// node in rounds until the answers stop changing, recording each read as
// an ordinary operation with its Node, so checkers see from the history
// alone when each node reached its final state.
type Settler interface {
	Settle() Settle
}

// Settle bounds the final phase. It ends at the first of: every node gave
// the same answer for every key, unchanged for Quiet; answers unchanged
// (though different) for Stuck; Timeout.
type Settle struct {
	Interval time.Duration // between read rounds
	Quiet    time.Duration
	Stuck    time.Duration
	Timeout  time.Duration
}

// DefaultSettle suits the included gossip store (anti-entropy every
// 500ms): Quiet covers several exchanges per node, and Stuck outlasts the
// few seconds SWIM takes to re-admit nodes it declared dead, so a phase
// does not end while a healed cluster is still about to converge.
func DefaultSettle() Settle {
	return Settle{Interval: 500 * time.Millisecond, Quiet: 3 * time.Second, Stuck: 10 * time.Second, Timeout: 30 * time.Second}
}
