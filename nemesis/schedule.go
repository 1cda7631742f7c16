package nemesis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/faultline/faultline/history"
)

// Step is one entry of a schedule: at At after the run starts (or as soon
// as the step before is done, when At is 0), start or stop fault Fault (an
// index into the run's faults, named Name). A start carries the episode's
// Choice. A step with Fault -1 does no fault: it sleeps Sleep, or waits
// until condition Until holds, at most Timeout (see Conditions).
type Step struct {
	At      time.Duration `json:"at"`
	Fault   int           `json:"fault"`
	Name    string        `json:"name,omitempty"`
	Start   bool          `json:"start"`
	Choice  *Choice       `json:"choice,omitempty"`
	Sleep   time.Duration `json:"sleep,omitempty"`
	Until   string        `json:"until,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"`
}

// IsFault reports whether the step starts or stops a fault.
func (s Step) IsFault() bool { return s.Fault >= 0 }

// Stream keeps the nemesis's random choices apart from the workload's for
// the same seed.
const Stream = 0x6e656d65736973 // "nemesis"

// Plan lays out a schedule from the seed for a cluster of nodes ids.
// Fault starts are spaced by gaps of 0.5 to 1.5 times interval (mean
// interval); each start takes the next fault from a shuffled bag of all
// the faults (so every fault runs before any runs twice, even in a short
// run) and lasts 0.5 to 1.5 intervals. A fault whose lane is busy starts once the lane's last fault
// has stopped and half an interval has passed, so faults of one lane
// never overlap while faults of different lanes may. Every choice a fault
// can make ahead of time is made here (Fault.Choose). Starts at or past
// the time limit are dropped, as are stops (the runner stops what is still
// active when the clients are done).
func Plan(seed uint64, faults []Fault, ids []int, interval, timeLimit time.Duration) []Step {
	if len(faults) == 0 || interval <= 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, Stream))
	around := func() time.Duration { return time.Duration((0.5 + rng.Float64()) * float64(interval)) }
	free := map[string]time.Duration{}
	over, lanes := map[string]bool{}, 0
	for _, f := range faults {
		if _, ok := free[f.Lane()]; !ok {
			free[f.Lane()], lanes = 0, lanes+1
		}
	}
	var steps []Step
	var bag []int
	for t := around(); t < timeLimit; t += around() {
		if len(bag) == 0 {
			bag = rng.Perm(len(faults))
		}
		i := bag[0]
		bag = bag[1:]
		f := faults[i]
		start := max(t, free[f.Lane()])
		dur := around()
		ch := f.Choose(rng, ids)
		if start >= timeLimit {
			// This lane is done for good (its free time only grows); once
			// every lane is, the rest of the loop would draw nothing.
			over[f.Lane()] = true
			if len(over) == lanes {
				break
			}
			continue
		}
		stop := start + dur
		free[f.Lane()] = stop + interval/2
		steps = append(steps, Step{At: start, Fault: i, Name: f.Name(), Start: true, Choice: &ch})
		if stop < timeLimit {
			steps = append(steps, Step{At: stop, Fault: i, Name: f.Name()})
		}
		if len(steps) > maxSteps {
			// Past what an expansion takes (a 1ns interval): Expand
			// refuses it, so drawing more would only use memory.
			break
		}
	}
	// Stops sort before starts at the same instant.
	sort.SliceStable(steps, func(a, b int) bool {
		if steps[a].At != steps[b].At {
			return steps[a].At < steps[b].At
		}
		return !steps[a].Start && steps[b].Start
	})
	return steps
}

// CheckSchedule reports whether steps fit faults: indexes in range, names
// matching, every start with a choice, no fault started twice without a
// stop in between.
func CheckSchedule(steps []Step, faults []Fault) error {
	active := map[int]bool{}
	for i, s := range steps {
		if s.Fault == -1 {
			if s.Until != "" && !knownCond(s.Until) {
				return fmt.Errorf("schedule step %d: unknown condition %q (valid: %v)", i, s.Until, Conditions)
			}
			continue
		}
		if s.Fault < 0 || s.Fault >= len(faults) {
			return fmt.Errorf("schedule step %d: fault %d, but the run has %d faults", i, s.Fault, len(faults))
		}
		if s.Name != "" && s.Name != faults[s.Fault].Name() {
			return fmt.Errorf("schedule step %d names fault %q, but fault %d is %q", i, s.Name, s.Fault, faults[s.Fault].Name())
		}
		if s.Start && (s.Choice == nil || active[s.Fault]) {
			return fmt.Errorf("schedule step %d: a start needs a choice and a stopped fault", i)
		}
		active[s.Fault] = s.Start
	}
	return nil
}

// Recorder is where the nemesis writes its events.
type Recorder interface {
	Record(history.Event) history.Event
}

// Runner executes a schedule against a cluster.
type Runner struct {
	Cluster Cluster
	Faults  []Fault
	Steps   []Step
	History Recorder
	Logger  *slog.Logger
	// StepTimeout bounds one fault's start or stop.
	StepTimeout time.Duration

	active map[int]bool
	aim    *Aim
}

// StepKey is the key of a start event's value that holds the index of its
// step in the schedule; ResolvedKey holds the IDs of nodes chosen from the
// cluster's state (see Action.Resolved). A replay reads both.
const (
	StepKey     = "step"
	ResolvedKey = "resolved"
)

// Run follows the schedule, measuring At from start, until it is done or
// ctx ends. Faults still active when it returns are left active: call
// StopAll to undo them (the runner does this once clients have stopped).
// Steps run one at a time: a step that takes long (a restart waiting for
// its node) delays the ones after it.
func (r *Runner) Run(ctx context.Context, start time.Time) {
	if r.active == nil {
		r.active = map[int]bool{}
	}
	r.aim = &Aim{}
	for _, f := range r.Faults {
		if a, ok := f.(aimer); ok {
			a.setAim(r.aim)
		}
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for i, s := range r.Steps {
		if s.At > 0 {
			timer.Reset(time.Until(start.Add(s.At)))
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		}
		switch {
		case ctx.Err() != nil:
			return
		case s.Until != "":
			r.wait(ctx, i, s)
			continue
		case s.Sleep > 0:
			if !sleep(ctx, s.Sleep) {
				return
			}
			continue
		}
		if s.Start {
			if r.active[s.Fault] { // only a hand-made schedule does this
				r.do(ctx, -1, s.Fault, false, nil)
			}
			r.do(ctx, i, s.Fault, true, s.Choice)
		} else if r.active[s.Fault] {
			r.do(ctx, i, s.Fault, false, nil)
		}
	}
}

// StopAll stops every fault that is still active.
func (r *Runner) StopAll(ctx context.Context) {
	for i := range r.Faults {
		if r.active[i] {
			r.do(ctx, -1, i, false, nil)
		}
	}
}

func (r *Runner) do(ctx context.Context, step, i int, start bool, ch *Choice) {
	if r.active == nil {
		r.active = map[int]bool{}
	}
	f := r.Faults[i]
	name := f.StopF()
	if start {
		name = f.StartF()
	}
	r.History.Record(history.Event{Process: history.NemesisProcess, Type: history.Invoke, F: name})
	// A step begun before ctx's deadline (the run's time limit) runs to its
	// end, bounded by StepTimeout: the time limit ends the schedule, not a
	// restart half done. A cancellation (Ctrl-C) still cuts it short.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.StepTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.Canceled) {
			cancel()
		}
	})
	defer stop()
	var (
		a   Action
		err error
	)
	if start {
		a, err = f.Start(sctx, r.Cluster, *ch)
		r.active[i] = true
	} else {
		a, err = f.Stop(sctx, r.Cluster)
		delete(r.active, i)
	}
	v := a.Value
	if v == nil {
		v = map[string]any{}
	}
	v["fault"] = f.Name()
	if step >= 0 {
		v[StepKey] = step
	}
	if len(a.Resolved) > 0 {
		v[ResolvedKey] = a.Resolved
	}
	e := history.Event{Process: history.NemesisProcess, Type: history.Info, F: name, Value: v, Node: a.Node, Label: a.Label}
	if err != nil {
		e.Error = err.Error()
		r.Logger.Warn("nemesis step failed", "f", name, "fault", f.Name(), "err", err)
	} else {
		r.Logger.Info("nemesis", "f", name, "value", v)
	}
	r.History.Record(e)
}

// Pin applies what a recorded run resolved from its cluster's state to a
// copy of its schedule: each start step whose recorded start event holds
// resolved nodes gets them as its choice's pinned nodes. events is the
// recorded history.
func Pin(steps []Step, events []history.Event) []Step {
	out := make([]Step, len(steps))
	copy(out, steps)
	for _, e := range events {
		if e.Process != history.NemesisProcess || e.Type != history.Info {
			continue
		}
		v, ok := e.Value.(map[string]any)
		if !ok {
			continue
		}
		step, ok := asInt(v[StepKey])
		res := asInts(v[ResolvedKey])
		if !ok || len(res) == 0 || step < 0 || step >= len(out) || out[step].Choice == nil {
			continue
		}
		ch := *out[step].Choice
		ch.Nodes, ch.Pinned = res, true
		out[step].Choice = &ch
	}
	return out
}

// asInt and asInts read numbers from a history value: json.Number when
// read back by history.Read, float64 from a plain JSON decoder, int when
// still in memory.
func asInt(v any) (int, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil
	case float64:
		return int(n), true
	case int:
		return n, true
	}
	return 0, false
}

func asInts(v any) []int {
	switch l := v.(type) {
	case []int:
		return l
	case []any:
		var out []int
		for _, x := range l {
			if n, ok := asInt(x); ok {
				out = append(out, n)
			}
		}
		return out
	}
	return nil
}
