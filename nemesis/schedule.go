package nemesis

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/faultline/faultline/harness/history"
	"github.com/faultline/faultline/harness/runtime"
)

// Step is one entry of a schedule: at At after the run starts, start or
// stop fault Fault (an index into the run's faults).
type Step struct {
	At    time.Duration `json:"at"`
	Fault int           `json:"fault"`
	Start bool          `json:"start"`
}

// Stream keeps the nemesis's random choices apart from the workload's for
// the same seed.
const Stream = 0x6e656d65736973 // "nemesis"

// Plan lays out a schedule from the seed: after one quiet interval, a
// random fault starts; one interval later it stops; one interval later the
// next starts, and so on until the time limit. Only one fault is active at
// a time, and the last one stops before the time limit when it fits.
func Plan(seed uint64, nfaults int, interval, timeLimit time.Duration) []Step {
	if nfaults == 0 || interval <= 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, Stream))
	var steps []Step
	for at := interval; at < timeLimit; at += 2 * interval {
		f := rng.IntN(nfaults)
		steps = append(steps, Step{At: at, Fault: f, Start: true})
		if at+interval < timeLimit {
			steps = append(steps, Step{At: at + interval, Fault: f, Start: false})
		}
	}
	return steps
}

// Recorder is where the nemesis writes its events.
type Recorder interface {
	Record(history.Event) history.Event
}

// Runner executes a schedule against a cluster.
type Runner struct {
	Cluster runtime.Cluster
	Faults  []Fault
	Steps   []Step
	Rand    *rand.Rand // for the faults' own choices (which nodes)
	History Recorder
	Logger  *slog.Logger
	// StepTimeout bounds one fault's start or stop.
	StepTimeout time.Duration

	active map[int]bool
}

// Run follows the schedule, measuring At from start, until it is done or
// ctx ends. Faults still active when it returns are left active: call
// StopAll to undo them (the runner does this once clients have stopped).
func (r *Runner) Run(ctx context.Context, start time.Time) {
	r.active = map[int]bool{}
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for _, s := range r.Steps {
		timer.Reset(time.Until(start.Add(s.At)))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		r.do(ctx, s.Fault, s.Start)
	}
}

// StopAll stops every fault that is still active.
func (r *Runner) StopAll(ctx context.Context) {
	for i := range r.Faults {
		if r.active[i] {
			r.do(ctx, i, false)
		}
	}
}

func (r *Runner) do(ctx context.Context, i int, start bool) {
	f := r.Faults[i]
	name := f.StopF()
	if start {
		name = f.StartF()
	}
	r.History.Record(history.Event{Process: history.NemesisProcess, Type: history.Invoke, F: name})
	sctx, cancel := context.WithTimeout(ctx, r.StepTimeout)
	defer cancel()
	var (
		a   Action
		err error
	)
	if start {
		a, err = f.Start(sctx, r.Cluster, r.Rand)
		r.active[i] = true
	} else {
		a, err = f.Stop(sctx, r.Cluster)
		delete(r.active, i)
	}
	e := history.Event{Process: history.NemesisProcess, Type: history.Info, F: name, Value: a.Value, Node: a.Node}
	if err != nil {
		e.Error = err.Error()
		r.Logger.Warn("nemesis step failed", "f", name, "err", err)
	} else {
		r.Logger.Info("nemesis", "f", name, "value", a.Value)
	}
	r.History.Record(e)
}
