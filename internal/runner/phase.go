package runner

import (
	"cmp"
	"context"
	"fmt"
	"runtime/pprof"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/nemesis"
)

// Every start-up and recovery phase of a run has a bound that holds, even
// when something under it ignores its context (a driver, a system's admin
// probe, a node that accepts a connection and never answers on a machine
// that swaps): the phase runs with a context that ends at its bound, and
// the run waits for it at most phaseGrace longer. Past the bound the run
// gives up with a clear error, writes every goroutine's stack to
// harness.log (what was stuck, and where) and ends unknown (exit 3).

// DefaultStartTimeout is a node's start timeout when the test gives none.
const DefaultStartTimeout = 60 * time.Second

// phaseGrace is how long past its bound a phase may take to give up on
// its own (kill what it started) before the run stops waiting for it.
var phaseGrace = 15 * time.Second

// startSlack is the time a runtime takes to lay out a cluster before its
// nodes start (ports and the mesh; for docker, finding or building the
// node image), on top of the start timeout, in the start-up bound.
func startSlack(runtime string) time.Duration {
	if runtime == "docker" {
		return 5 * time.Minute
	}
	return layoutSlack
}

// layoutSlack is startSlack of the runtimes that build nothing.
var layoutSlack = 30 * time.Second

// StartBound is the bound of a run's cluster start-up on runtime: the
// start timeout (each node's wait to become ready) and the runtime's
// slack for laying the cluster out.
func StartBound(t Test, runtime string) time.Duration {
	return cmp.Or(t.StartTimeout.D(), DefaultStartTimeout) + startSlack(runtime)
}

// dumpGoroutines writes every goroutine's stack to harness.log, headed by
// why.
func (r *run) dumpGoroutines(why string) {
	r.log.Error(why + "; every goroutine's stack follows in harness.log")
	fmt.Fprintf(r.logFile, "=== goroutine dump: %s (%s) ===\n", why, time.Now().Format(time.RFC3339Nano))
	if err := pprof.Lookup("goroutine").WriteTo(r.logFile, 2); err != nil {
		r.log.Warn("goroutine dump", "err", err)
	}
	fmt.Fprintf(r.logFile, "=== end of goroutine dump ===\n")
}

// startWithin starts the cluster on d within bound: cluster.Start with a
// context that ends at bound, waited for at most bound+phaseGrace. A
// start that is still under way then is abandoned (what it makes is
// closed when it returns).
func startWithin(ctx context.Context, bound time.Duration, spec cluster.Spec, d cluster.Driver) (c *cluster.Cluster, err error, stuck bool) {
	sctx, cancel := context.WithTimeout(ctx, bound)
	type started struct {
		c   *cluster.Cluster
		err error
	}
	done := make(chan started, 1)
	go func() {
		defer cancel()
		c, err := cluster.Start(sctx, spec, d)
		done <- started{c, err}
	}()
	timer := time.NewTimer(bound + phaseGrace)
	defer timer.Stop()
	select {
	case s := <-done:
		return s.c, s.err, false
	case <-timer.C:
		go func() {
			if s := <-done; s.c != nil {
				_ = s.c.Close()
			}
		}()
		return nil, nil, true
	}
}

// recoverWithin is recover bounded: recover ends its own waits at the
// recovery timeout; if it has not returned phaseGrace after that, the run
// stops waiting (the cluster is closed under it next) and counts the
// cluster as not recovered. Either way, a recovery that ran out of time
// leaves a goroutine dump in harness.log.
func (r *run) recoverWithin(ctx context.Context, nem *nemesis.Runner) Healed {
	bound := r.t.RecoveryTimeout.D()
	start := time.Now()
	done := make(chan Healed, 1)
	go func() { done <- r.recover(ctx, nem) }()
	timer := time.NewTimer(bound + phaseGrace)
	defer timer.Stop()
	select {
	case h := <-done:
		if !h.OK() && ctx.Err() == nil && time.Since(start) >= bound {
			r.dumpGoroutines(fmt.Sprintf("cluster did not recover within the recovery timeout %s (nodes up %d of %d, down %v, link faults %v)",
				bound, h.NodesUp, h.Nodes, h.Down, h.LinkFaults))
		}
		return h
	case <-timer.C:
		why := fmt.Sprintf("recovery did not end within the recovery timeout %s nor %s after it: something under it ignores its deadline", bound, phaseGrace)
		r.dumpGoroutines(why)
		h := Healed{Nodes: len(r.nodes), LinkFaults: []string{"cannot tell: " + why}}
		for _, n := range r.nodes {
			h.Down = append(h.Down, n.Name)
		}
		return h
	}
}
