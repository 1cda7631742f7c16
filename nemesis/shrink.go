package nemesis

import (
	"context"
	"errors"
	"time"
)

// Shrinking a failing schedule: delta debugging (Zeller's ddmin) over its
// units, then over the lengths of what is left. A unit is a fault's start
// with its stop (removed together, so no fault is left started twice or
// stopped unstarted) or a lone step: a wait, a sleep, a start never
// stopped. Every candidate keeps the original order of its steps and their
// times; the caller's test runs one (replayed as often as it likes, since
// runs are not deterministic) and says whether it still fails.

// ErrBudget ends a shrink that ran out of tries or time; the smallest
// failing schedule found so far stands.
var ErrBudget = errors.New("shrink budget spent")

// ShrinkTest runs a candidate schedule and reports whether it still fails.
// An error ends the shrink (the cluster would not start, say).
type ShrinkTest func(ctx context.Context, steps []Step) (fails bool, err error)

// Units groups steps into what shrinking removes together: each start
// with the stop that follows it for the same fault, and every other step
// alone. Each unit lists step indexes in order.
func Units(steps []Step) [][]int {
	var units [][]int
	open := map[int]int{} // fault -> index of its unit
	for i, s := range steps {
		switch {
		case !s.IsFault():
			units = append(units, []int{i})
		case s.Start:
			open[s.Fault] = len(units)
			units = append(units, []int{i})
		default:
			if u, ok := open[s.Fault]; ok {
				units[u] = append(units[u], i)
				delete(open, s.Fault)
			} else {
				units = append(units, []int{i})
			}
		}
	}
	return units
}

// pick returns the steps of the units keep (indexes into units), in the
// schedule's order.
func pick(steps []Step, units [][]int, keep []int) []Step {
	in := make([]bool, len(steps))
	for _, u := range keep {
		for _, i := range units[u] {
			in[i] = true
		}
	}
	var out []Step
	for i, s := range steps {
		if in[i] {
			out = append(out, s)
		}
	}
	return out
}

// Shrink searches for a smaller schedule than steps that still fails,
// asking test about each candidate, and returns the smallest it found (steps
// itself if none smaller fails). It stops early with ErrBudget when ctx
// ends (the caller's time budget) or maxTries candidates have run (0: no
// limit).
func Shrink(ctx context.Context, steps []Step, maxTries int, test ShrinkTest) ([]Step, error) {
	tries := 0
	try := func(c []Step) (bool, error) {
		if ctx.Err() != nil || (maxTries > 0 && tries >= maxTries) {
			return false, ErrBudget
		}
		tries++
		return test(ctx, c)
	}
	units := Units(steps)
	keep := make([]int, len(units))
	for i := range keep {
		keep[i] = i
	}
	// The empty schedule first: a bug that shows without faults needs none.
	if len(keep) > 0 {
		fails, err := try(nil)
		if err != nil {
			return steps, err
		}
		if fails {
			return nil, nil
		}
	}
	n := 2
	for len(keep) >= 2 {
		chunk := (len(keep) + n - 1) / n
		reduced := false
		for start := 0; start < len(keep); start += chunk {
			rest := append(append([]int{}, keep[:start]...), keep[min(start+chunk, len(keep)):]...)
			fails, err := try(pick(steps, units, rest))
			if err != nil {
				return pick(steps, units, keep), err
			}
			if fails {
				keep, n, reduced = rest, max(n-1, 2), true
				break
			}
		}
		if !reduced {
			if n >= len(keep) {
				break
			}
			n = min(n*2, len(keep))
		}
	}
	out := pick(steps, units, keep)
	// Then the durations: halve each sleep and each episode (the time from
	// a start to its stop, when steps are timed from the run's start)
	// while the schedule still fails.
	for i := range out {
		for {
			c, ok := halve(out, i)
			if !ok {
				break
			}
			fails, err := try(c)
			if err != nil {
				return out, err
			}
			if !fails {
				break
			}
			out = c
		}
	}
	return out, nil
}

// minHalved is the shortest duration halving goes down to.
const minHalved = 100 * time.Millisecond

// halve returns steps with step i's duration halved: a sleep's length, or,
// for a timed start, the time until its fault's stop (the stop and nothing
// else moves earlier).
func halve(steps []Step, i int) ([]Step, bool) {
	s := steps[i]
	c := append([]Step(nil), steps...)
	switch {
	case s.Sleep > minHalved:
		c[i].Sleep = s.Sleep / 2
		return c, true
	case s.IsFault() && s.Start && s.At > 0:
		for j := i + 1; j < len(c); j++ {
			if c[j].Fault == s.Fault && !c[j].Start {
				d := c[j].At - s.At
				if d <= minHalved {
					return nil, false
				}
				c[j].At = s.At + d/2
				// Keep the order of the steps the runner follows.
				for j > 0 && c[j-1].At > c[j].At {
					c[j-1], c[j] = c[j], c[j-1]
					j--
				}
				return c, true
			}
		}
	}
	return nil, false
}
