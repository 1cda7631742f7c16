package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/nemesis"
)

// A bug that shows without faults shrinks to the empty schedule in one
// try; the shrink writes a line per try, minimal.json and a failing run of
// the minimal schedule whose test.json says what it was shrunk from and
// replays as the empty schedule, not the seed's.
func TestShrinkOfABugThatNeedsNoFaults(t *testing.T) {
	tt := memTest(t, "kill", "partition")
	tt.Bugs = []string{bugStaleRead}
	tt.TimeLimit, tt.NemesisInterval = Duration(400*time.Millisecond), Duration(100*time.Millisecond) // a few steps
	out, _, err := runMem(context.Background(), t, tt, nil)
	if err != nil || out.Verdict != checkers.Invalid {
		t.Fatalf("the run to shrink: %v, %v", out.Verdict, err)
	}
	orig, _ := LoadReplay(out.RunDir)
	if len(orig.Schedule) < 3 {
		t.Fatalf("the run to shrink has %d steps; want a few", len(orig.Schedule))
	}
	fresh := func(t *Test) Options { sys, d := newMemSystem(); t.Impl = sys; return Options{Driver: d} }
	s, err := Shrink(context.Background(), out.RunDir, ShrinkOptions{Replays: 2}, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Steps) != 0 || s.Tries != 1 || s.Of != len(orig.Schedule) || s.Budget {
		t.Fatalf("shrunk to %d steps of %d in %d tries (budget %v)", len(s.Steps), s.Of, s.Tries, s.Budget)
	}
	if want := "minimal schedule: 0 of "; !strings.HasPrefix(s.Line(), want) {
		t.Fatalf("line %q", s.Line())
	}
	f, err := os.Open(filepath.Join(s.Dir, "shrink.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var tries []shrinkTry
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var tr shrinkTry
		if err := json.Unmarshal(sc.Bytes(), &tr); err != nil {
			t.Fatal(err)
		}
		tries = append(tries, tr)
	}
	if len(tries) != 1 || !tries[0].Fails || tries[0].Steps != 0 || tries[0].Runs[0] != s.RunDir {
		t.Fatalf("shrink.jsonl: %+v", tries)
	}
	var m Shrunk
	if err := store.ReadJSON(s.Dir, "minimal.json", &m); err != nil || m.RunDir != s.RunDir || m.Of != s.Of {
		t.Fatalf("minimal.json: %+v, %v", m, err)
	}
	// The minimal run replays as what it was: no steps, shrunk from the
	// original's.
	rt, err := LoadReplay(s.RunDir)
	if err != nil || rt.ShrunkFrom != s.Of || rt.Plan == nil || len(rt.Plan.Items) != 0 {
		t.Fatalf("minimal run's test: shrunk from %d, plan %+v (%v)", rt.ShrunkFrom, rt.Plan, err)
	}
	faults, _ := nemesis.Default().Get(rt.Nemesis, nemesis.Options{})
	if again, err := withPlan(rt, faults); err != nil || len(again.Schedule) != 0 {
		t.Fatalf("replaying the minimal run plans %d steps (%v), want none", len(again.Schedule), err)
	}
	// A valid run is not shrunk.
	tt.Bugs = nil
	ok, _, _ := runMem(context.Background(), t, tt, nil)
	if _, err := Shrink(context.Background(), ok.RunDir, ShrinkOptions{Replays: 1}, fresh); exitcode.FromError(err) != exitcode.Usage {
		t.Fatalf("shrink of a valid run: %v", err)
	}
}
