package runner

import (
	"context"
	"sync"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/workloads"
)

// settleReads is the final phase of a Settler workload: rounds of reads of
// every key on every node, each an ordinary operation in the history, until
// the answers settle (see workloads.Settle). Within a round each node is
// read by its own process, one key after another.
func (r *run) settleReads(ctx context.Context, s workloads.Settle) {
	keys := r.gen.Keys()
	r.log.Info("final reads until settled", "keys", len(keys), "nodes", len(r.nodes), "quiet", s.Quiet, "timeout", s.Timeout)
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	base := r.maxProcess() + 1
	procs := make([]int, len(r.nodes))
	for i := range procs {
		procs[i] = base + i
	}
	last := map[[2]string]string{} // (node, key) -> last answer
	start := time.Now()
	changed, agreedSince := start, time.Time{}
	tick := time.NewTicker(s.Interval)
	defer tick.Stop()
	for round := 0; ; round++ {
		answers := make([]map[string]string, len(r.nodes))
		var wg sync.WaitGroup
		for i, n := range r.nodes {
			wg.Go(func() {
				defer r.guard("a settling read of " + n.Name)
				answers[i] = map[string]string{}
				for _, k := range keys {
					c, v := r.invokeValue(ctx, procs[i], n, systems.Op{F: history.OpRead, Key: k})
					if c == history.Info {
						procs[i] += len(r.nodes) // the read may still be open
					}
					if c == history.OK {
						answers[i][k] = history.ValueKey(v)
					} else {
						answers[i][k] = "\x00unanswered"
					}
				}
			})
		}
		wg.Wait()
		now := time.Now()
		agreed := true
		for i, n := range r.nodes {
			for _, k := range keys {
				a := answers[i][k]
				if prev, ok := last[[2]string{n.Name, k}]; !ok || prev != a {
					changed = now
				}
				last[[2]string{n.Name, k}] = a
				if a != answers[0][k] || a == "\x00unanswered" {
					agreed = false
				}
			}
		}
		switch {
		case !agreed:
			agreedSince = time.Time{}
		case agreedSince.IsZero():
			agreedSince = now
		}
		quiet := now.Sub(changed)
		if ctx.Err() != nil || (!agreedSince.IsZero() && quiet >= s.Quiet) || quiet >= s.Stuck {
			r.log.Info("final reads done", "rounds", round+1, "agreed", agreed, "took", now.Sub(start).Round(time.Millisecond))
			return
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}
