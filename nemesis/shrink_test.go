package nemesis

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A 20-step schedule that fails only when one episode of fault 3 and the
// wait on a new leader are both in it shrinks to those three steps, with
// the episode's length halved while it still fails.
func TestShrinkFindsTheStepsThatMatter(t *testing.T) {
	var steps []Step
	for i := range 9 {
		at := time.Duration(i+1) * time.Second
		steps = append(steps, Step{At: at, Fault: i % 4, Start: true, Choice: &Choice{}}, Step{At: at + 800*time.Millisecond, Fault: i % 4})
	}
	steps = append(steps[:6], append([]Step{{Fault: -1, Until: "new-leader", Timeout: time.Second}, {Fault: -1, Sleep: time.Second}}, steps[6:]...)...)
	if len(steps) != 20 {
		t.Fatalf("setup: %d steps", len(steps))
	}
	fails := func(c []Step) bool {
		wait, long := false, false
		for i, s := range c {
			wait = wait || s.Until == "new-leader"
			if s.Fault == 3 && s.Start {
				for _, e := range c[i:] {
					long = long || (e.Fault == 3 && !e.Start && e.At-s.At >= 150*time.Millisecond)
				}
			}
		}
		return wait && long
	}
	tries := 0
	out, err := Shrink(context.Background(), steps, 0, func(_ context.Context, c []Step) (bool, error) {
		tries++
		if err := CheckSchedule(c, make([]Fault, 4)); err != nil {
			t.Fatalf("candidate %d is not a valid schedule: %v", tries, err)
		}
		return fails(c), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 || !fails(out) {
		t.Fatalf("shrunk to %d steps (%s) in %d tries, want the wait and one episode of fault 3", len(out), labels(out), tries)
	}
	var ep time.Duration
	for _, s := range out {
		if s.Fault == 3 && s.Start {
			ep = -s.At
		} else if s.Fault == 3 {
			ep += s.At
		}
	}
	if ep != 200*time.Millisecond {
		t.Fatalf("episode shrunk to %s, want 800ms halved twice (200ms; 100ms no longer fails)", ep)
	}
	// A budget of tries ends the search with the best so far.
	out, err = Shrink(context.Background(), steps, 3, func(_ context.Context, c []Step) (bool, error) { return fails(c), nil })
	if !errors.Is(err, ErrBudget) || len(out) > len(steps) || !fails(out) {
		t.Fatalf("budget of 3 tries: %d steps, %v", len(out), err)
	}
	// A bug that needs no faults shrinks to nothing in one try.
	tries = 0
	out, _ = Shrink(context.Background(), steps, 0, func(context.Context, []Step) (bool, error) { tries++; return true, nil })
	if len(out) != 0 || tries != 1 {
		t.Fatalf("always failing: %d steps after %d tries", len(out), tries)
	}
}

func TestUnitsPairStartsWithTheirStops(t *testing.T) {
	steps := []Step{
		{Fault: 0, Start: true}, {Fault: 1, Start: true}, {Fault: -1, Sleep: 1}, {Fault: 0}, {Fault: 2, Start: true}, {Fault: 1},
	}
	got := Units(steps)
	want := [][]int{{0, 3}, {1, 5}, {2}, {4}}
	if len(got) != len(want) {
		t.Fatalf("units %v, want %v", got, want)
	}
	for i := range want {
		if len(got[i]) != len(want[i]) || got[i][0] != want[i][0] || got[i][len(got[i])-1] != want[i][len(want[i])-1] {
			t.Fatalf("units %v, want %v", got, want)
		}
	}
}
