package checkers

import (
	"context"

	"github.com/faultline/faultline/history"
)

// FirstInvalidPrefix finds the shortest prefix of events, cut right after
// a client completion, that judge finds Invalid, and returns its length
// (events[:n]; its last event is the completion that made it invalid).
// found is false when the whole history is not Invalid.
//
// It bisects. That is sound for the consistency models faultline checks:
// they are prefix-closed (an anomaly stays when more is appended; an
// operation still open at the cut counts as one whose outcome is unknown).
// judge bounds its own time; a prefix it cannot decide (Unknown) counts as
// not invalid, so the answer may come late but is always a prefix judge
// found Invalid. When ctx ends the search stops with the shortest invalid
// prefix found so far.
func FirstInvalidPrefix(ctx context.Context, events []history.Event, judge func(context.Context, []history.Event) Verdict) (n int, found bool) {
	var cuts []int // lengths of the candidate prefixes
	for i, e := range events {
		if e.IsClient() && e.Type != history.Invoke {
			cuts = append(cuts, i+1)
		}
	}
	if len(cuts) == 0 || judge(ctx, events[:cuts[len(cuts)-1]]) != Invalid {
		return 0, false
	}
	// Invariant: the prefix of length cuts[hi] is invalid; those shorter
	// than cuts[lo] are not known to be.
	lo, hi := 0, len(cuts)-1
	for lo < hi && ctx.Err() == nil {
		mid := lo + (hi-lo)/2
		if judge(ctx, events[:cuts[mid]]) == Invalid {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return cuts[hi], true
}
