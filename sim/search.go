package sim

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/outcome"
)

// Trial is one judged simulation.
type Trial struct {
	Result  *Result
	Outcome *outcome.Result
	// Wall is the wall time the run and its check took.
	Wall time.Duration
}

// Invalid reports whether the checkers found an anomaly.
func (t *Trial) Invalid() bool { return t.Outcome.Verdict == checkers.Invalid }

// Try runs c and judges it (no artifacts: a search only needs verdicts).
func Try(ctx context.Context, c Config, checkTimeout time.Duration) (*Trial, error) {
	start := time.Now()
	r, err := Run(c)
	if err != nil {
		return nil, err
	}
	res, err := Judge(ctx, r, checkTimeout, true)
	if err != nil {
		return nil, err
	}
	res.Judge()
	return &Trial{Result: r, Outcome: res, Wall: time.Since(start)}, nil
}

// SearchOptions bound a search over seeds.
type SearchOptions struct {
	// First is the first seed; Seeds how many (First, First+1, …).
	First, Seeds uint64
	// Workers run seeds in parallel (0: one per core).
	Workers int
	// Deadline ends the search (zero: none); seeds not started are
	// skipped.
	Deadline     time.Time
	CheckTimeout time.Duration
	// Progress, when set, is called after each seed (from the search's
	// goroutines, one at a time).
	Progress func(seed uint64, t *Trial)
}

// Found is a search's outcome.
type Found struct {
	// Failing is the lowest failing seed's trial; nil when none failed.
	Failing *Trial
	// Tried counts the seeds run to the end; Unknown those no checker
	// could decide.
	Tried, Unknown int
	Wall           time.Duration
	// TimedOut says the deadline ended the search early.
	TimedOut bool
}

// Search runs base with seeds First… on every core and stops at the first
// failure: no new seed starts once one failed, and seeds below it still
// running finish, so the seed reported is the lowest failing one of those
// started — the same on any machine, given the same deadline is not hit.
func Search(ctx context.Context, base Config, o SearchOptions) (*Found, error) {
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = time.Minute
	}
	start := time.Now()
	var (
		mu       sync.Mutex
		next     = o.First
		end      = o.First + o.Seeds
		failing  *Trial
		found    Found
		firstErr error
	)
	take := func() (uint64, bool) {
		mu.Lock()
		defer mu.Unlock()
		if failing != nil || firstErr != nil || next >= end || ctx.Err() != nil {
			return 0, false
		}
		if !o.Deadline.IsZero() && time.Now().After(o.Deadline) {
			found.TimedOut = true
			return 0, false
		}
		s := next
		next++
		return s, true
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				seed, ok := take()
				if !ok {
					return
				}
				c := base
				c.Seed = seed
				t, err := Try(ctx, c, o.CheckTimeout)
				mu.Lock()
				switch {
				case err != nil:
					if firstErr == nil {
						firstErr = err
					}
				default:
					found.Tried++
					if t.Outcome.Verdict == checkers.Unknown {
						found.Unknown++
					}
					if t.Invalid() && (failing == nil || seed < failing.Result.Config.Seed) {
						failing = t
					}
					if o.Progress != nil {
						o.Progress(seed, t)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	found.Failing = failing
	found.Wall = time.Since(start)
	return &found, ctx.Err()
}

// Shrink makes a failing trial smaller while it still fails: fewer client
// operations (a run with fewer steps is the same run cut short, up to the
// final reads), then fewer fault episodes. It tries at most budget runs
// and returns the smallest failing trial found (t itself when none is
// smaller).
func Shrink(ctx context.Context, t *Trial, budget int, checkTimeout time.Duration) *Trial {
	best := t
	try := func(c Config) bool {
		if budget <= 0 || ctx.Err() != nil {
			return false
		}
		budget--
		nt, err := Try(ctx, c, checkTimeout)
		if err != nil || !nt.Invalid() {
			return false
		}
		best = nt
		return true
	}
	// Steps: bisect between 1 and the failing run's operations.
	c := best.Result.Config
	hi := best.Result.Config.Steps
	if hi == 0 {
		hi = countInvokes(best.Result)
	}
	lo := 0 // lo does not fail (or is untested), hi fails
	for hi-lo > max(1, hi/50) && budget > 0 {
		mid := (lo + hi) / 2
		c2 := c
		c2.Steps = mid
		if try(c2) {
			hi = mid
		} else {
			lo = mid
		}
	}
	// Faults: fewer episodes, halving.
	c = best.Result.Config
	if best.Result.Faults > 0 {
		hiF := best.Result.Faults
		loF := -1
		for hiF-loF > 1 && budget > 0 {
			mid := (loF + hiF) / 2
			c2 := c
			c2.MaxFaults = mid
			if mid == 0 {
				c2.Faults = nil
			}
			if try(c2) {
				hiF = mid
			} else {
				loF = mid
			}
		}
	}
	return best
}

func countInvokes(r *Result) int {
	n := 0
	for _, e := range r.Events {
		if e.IsClient() && e.Type == "invoke" {
			n++
		}
	}
	return n
}
