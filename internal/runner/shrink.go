package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/outcome"
)

// ShrinkOptions bound a shrink.
type ShrinkOptions struct {
	// Replays is how many times each candidate runs at most; it still
	// fails if any run is invalid (runs are not deterministic).
	Replays int
	// MaxTries caps the candidates tried (0: no cap); MaxTime caps the
	// time (0: none). A candidate begun before the time is up runs to its
	// end.
	MaxTries int
	MaxTime  time.Duration
	// Out is where the shrink writes shrink.jsonl, minimal.json and the
	// candidates' run dirs; empty: "<run dir>-shrink" next to the run.
	Out string
}

// Shrunk is what a shrink found.
type Shrunk struct {
	Dir      string         `json:"-"`
	Original string         `json:"original"` // the run dir shrunk
	Of       int            `json:"of"`       // its number of steps
	Steps    []nemesis.Step `json:"steps"`    // the minimal schedule
	Labels   []string       `json:"labels"`   // its steps in words
	// RunDir is a failing run of the minimal schedule (the original run
	// when nothing smaller failed).
	RunDir string `json:"run_dir"`
	Tries  int    `json:"tries"`
	// Budget says the search stopped on its budget of tries or time,
	// not because no smaller schedule failed.
	Budget bool `json:"budget_spent"`
}

// Line is the report's line: "minimal schedule: 3 of 14 steps: …".
func (s *Shrunk) Line() string {
	if s.Of == 0 {
		return "minimal schedule: 0 of 0 steps (the run had no faults)"
	}
	return outcome.Spec{ShrunkFrom: s.Of, ShrunkSteps: s.Labels}.MinimalLine()
}

// shrinkTry is one line of shrink.jsonl.
type shrinkTry struct {
	Try     int      `json:"try"`
	Steps   int      `json:"steps"`
	Of      int      `json:"of"`
	Fails   bool     `json:"fails"`
	Runs    []string `json:"runs"`     // run dirs
	Results []string `json:"verdicts"` // their verdicts
	Labels  []string `json:"labels"`
	Seconds float64  `json:"seconds"`
}

// Shrink searches for a smaller fault schedule on which the failing run in
// dir still fails (nemesis.Shrink), replaying each candidate up to
// o.Replays times with the run's configuration, seed and pinned targets.
// A run that is not invalid cannot be shrunk: a *exitcode.ConfigError.
// prepare gives the Options of each run and may set what test.json does
// not hold (the test's Impl); tests need a fresh driver per run.
func Shrink(ctx context.Context, dir string, o ShrinkOptions, prepare func(*Test) Options) (*Shrunk, error) {
	var res outcome.Result
	if err := store.ReadJSON(dir, store.ResultsFile, &res); err != nil {
		return nil, &exitcode.ConfigError{Err: fmt.Errorf("shrink %s: %w", dir, err)}
	}
	if res.Verdict != checkers.Invalid {
		return nil, &exitcode.ConfigError{Err: fmt.Errorf("shrink %s: the run is %s; only a failing (invalid) run can be shrunk", dir, res.Verdict)}
	}
	t, err := LoadReplay(dir)
	if err != nil {
		return nil, err
	}
	if o.Replays < 1 {
		return nil, &exitcode.ConfigError{Err: fmt.Errorf("--replays must be at least 1, got %d", o.Replays)}
	}
	if o.Out == "" {
		o.Out = filepath.Clean(t.ReplayOf) + "-shrink"
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, &exitcode.ConfigError{Err: fmt.Errorf("shrink: %w", err)}
	}
	log, err := os.OpenFile(filepath.Join(o.Out, "shrink.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, &exitcode.ConfigError{Err: fmt.Errorf("shrink: %w", err)}
	}
	defer log.Close()
	enc := json.NewEncoder(log)

	s := &Shrunk{Dir: o.Out, Original: t.ReplayOf, Of: len(t.Schedule), RunDir: t.ReplayOf}
	failing := map[string]string{} // schedule (as JSON) -> a failing run dir
	budget := ctx
	if o.MaxTime > 0 {
		var cancel context.CancelFunc
		budget, cancel = context.WithTimeout(ctx, o.MaxTime)
		defer cancel()
	}
	test := func(_ context.Context, steps []nemesis.Step) (bool, error) {
		s.Tries++
		begin := time.Now()
		c := candidate(t, steps, len(t.Schedule), o.Out)
		try := shrinkTry{Try: s.Tries, Steps: len(steps), Of: len(t.Schedule), Labels: c.ShrunkSteps}
		for range o.Replays {
			// Runs use ctx, not the budget: a run begun finishes.
			rc := c
			r, err := Run(ctx, rc, prepare(&rc))
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			if err != nil {
				var ce *exitcode.ConfigError
				if errors.As(err, &ce) {
					return false, err
				}
				try.Results = append(try.Results, "error: "+err.Error())
				continue
			}
			try.Runs, try.Results = append(try.Runs, r.RunDir), append(try.Results, r.Verdict.String())
			if r.Verdict == checkers.Invalid {
				try.Fails = true
				failing[key(steps)] = r.RunDir
				break
			}
		}
		try.Seconds = time.Since(begin).Seconds()
		if err := enc.Encode(try); err != nil {
			return false, fmt.Errorf("shrink.jsonl: %w", err)
		}
		return try.Fails, nil
	}
	steps, err := nemesis.Shrink(budget, t.Schedule, o.MaxTries, test)
	s.Budget = errors.Is(err, nemesis.ErrBudget) || (err != nil && budget.Err() != nil && ctx.Err() == nil)
	if err != nil && !s.Budget {
		return nil, err
	}
	s.Steps = steps
	for _, st := range steps {
		s.Labels = append(s.Labels, st.Label())
	}
	if d, ok := failing[key(steps)]; ok {
		s.RunDir = d
	}
	if err := store.WriteJSON(o.Out, "minimal.json", s); err != nil {
		return nil, &exitcode.InternalError{Err: err}
	}
	return s, nil
}

// candidate is t with its schedule replaced by steps, marked as shrunk
// from a schedule of `of` steps, its runs stored under out.
func candidate(t Test, steps []nemesis.Step, of int, out string) Test {
	c := t
	c.ResultsDir = filepath.Join(out, "runs")
	c.ShrunkFrom = max(of, 1)
	c.ShrunkSteps = nil
	for _, s := range steps {
		c.ShrunkSteps = append(c.ShrunkSteps, s.Label())
	}
	c.Schedule, c.Plan = steps, nil
	if len(steps) == 0 {
		// An empty schedule is stored as an empty plan, so a replay of
		// the run does not plan the seed's schedule again.
		empty := nemesis.Seq()
		c.Schedule, c.Plan = nil, &empty
	}
	return c
}

func key(steps []nemesis.Step) string {
	b, _ := json.Marshal(steps)
	return string(b)
}
