package runner

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/faultline/faultline/history"
)

// membershipPoll is how often the observer asks each node for its
// membership view: fine enough to time a failure detector that takes
// seconds, cheap enough for a loaded machine.
const membershipPoll = 150 * time.Millisecond

// watchMembership polls every node's admin status while the run goes on
// and records each change of a node's membership view as an observer event
// (process -2, f "membership", node the viewer, value its view). Systems
// that report no view produce no events. It returns a function that stops
// the watch and waits for it.
func (r *run) watchMembership(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, n := range r.nodes {
		wg.Go(func() {
			defer r.guard("the membership watch of " + n.Name)
			var last map[string]string
			t := time.NewTicker(membershipPoll)
			defer t.Stop()
			for {
				sctx, scancel := context.WithTimeout(ctx, time.Second)
				st, err := r.cluster.Status(sctx, n.ID)
				scancel()
				if err == nil && st.Members != nil && !maps.Equal(st.Members, last) {
					last = st.Members
					r.rec.Record(history.Event{Process: history.ObserverProcess, Type: history.Info, F: history.Membership, Node: n.Name, Value: st.Members})
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
	}
}
