// Package settled finds the final phase of a run on an eventually
// consistent system: the reads made after the faults stopped and every node
// was healthy again (the end of the nemesis's "recover"). The set, counter
// and convergence checkers share it. Pure: history in, reads out.
package settled

import (
	"slices"

	"github.com/faultline/faultline/history"
)

// RecoveredAt returns the time of the last "recover" completion: when the
// faults were undone and every node was healthy. ok is false when the
// history has none (an interrupted run, or a foreign history).
func RecoveredAt(events []history.Event) (t int64, healStarted int64, ok bool) {
	for _, e := range events {
		if e.IsNemesis() && e.F == history.Recover {
			if e.Type == history.Invoke {
				healStarted = e.Time
			} else {
				t, ok = e.Time, true
			}
		}
	}
	return t, healStarted, ok
}

// Read is one ok read.
type Read struct {
	Node             string
	Invoke, Complete int64
	Value            any
	Index            int // the completion's event index
}

// Reads returns the ok reads invoked at or after from, by key and node, in
// invoke order.
func Reads(ops []history.Op, from int64) map[string]map[string][]Read {
	out := map[string]map[string][]Read{}
	for _, op := range ops {
		if op.F != history.OpRead || op.Outcome() != history.OK || op.Invoke.Time < from {
			continue
		}
		node := op.Complete.Node
		if node == "" {
			node = op.Invoke.Node
		}
		if out[op.Key] == nil {
			out[op.Key] = map[string][]Read{}
		}
		out[op.Key][node] = append(out[op.Key][node], Read{Node: node, Invoke: op.Invoke.Time, Complete: op.Complete.Time, Value: op.Complete.Value, Index: op.Complete.Index})
	}
	for _, byNode := range out {
		for _, rs := range byNode {
			slices.SortStableFunc(rs, func(a, b Read) int { return int(a.Invoke - b.Invoke) })
		}
	}
	return out
}

// Finals returns each node's last final-phase read of each key.
func Finals(reads map[string]map[string][]Read) map[string]map[string]Read {
	out := map[string]map[string]Read{}
	for k, byNode := range reads {
		out[k] = map[string]Read{}
		for n, rs := range byNode {
			out[k][n] = rs[len(rs)-1]
		}
	}
	return out
}
