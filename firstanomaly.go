package faultline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/runner"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/workloads"
)

// ErrNoAnomaly means the run's history, judged whole, shows no anomaly.
var ErrNoAnomaly = errors.New("no anomaly in the history")

// FirstAnomaly finds the completion after which res's history first stops
// being valid, and returns it with its time from the run's start. It
// judges prefixes of the history stored in res.RunDir with the checkers of
// the test stored there, by bisection (checkers.FirstInvalidPrefix: the
// consistency models are prefix-closed). Each prefix check gets at most
// perCheck; a prefix whose check gives up counts as not (yet) invalid, so
// the answer errs late, never early.
func FirstAnomaly(ctx context.Context, res *Result, perCheck time.Duration) (history.Event, time.Duration, error) {
	events, err := history.ReadFile(filepath.Join(res.RunDir, store.HistoryFile))
	if err != nil {
		return history.Event{}, 0, fmt.Errorf("first anomaly: %w", err)
	}
	var t Test
	if err := store.ReadJSON(res.RunDir, store.TestFile, &t); err != nil {
		return history.Event{}, 0, fmt.Errorf("first anomaly: %w", err)
	}
	cs, err := checkersFor(t, perCheck)
	if err != nil {
		return history.Event{}, 0, fmt.Errorf("first anomaly: %w", err)
	}
	n, found := checkers.FirstInvalidPrefix(ctx, events, func(ctx context.Context, prefix []history.Event) checkers.Verdict {
		cctx, cancel := context.WithTimeout(ctx, perCheck)
		defer cancel()
		return checkers.Run(cctx, cs, prefix).Verdict()
	})
	if err := ctx.Err(); err != nil {
		return history.Event{}, 0, fmt.Errorf("first anomaly: %w", err)
	}
	if !found {
		return history.Event{}, 0, ErrNoAnomaly
	}
	e := events[n-1]
	return e, time.Duration(e.Time), nil
}

// checkersFor builds the checkers a run of t was judged with, asking for
// verdicts only.
func checkersFor(t Test, timeout time.Duration) ([]checkers.Checker, error) {
	res, err := runner.Resolve(t)
	if err != nil {
		return nil, err
	}
	return res.Workload.Checkers(workloads.Options{
		Seed: t.Seed, Concurrency: t.Concurrency,
		Functions:    res.System.Workloads()[t.Workload],
		CheckTimeout: timeout,
		NoArtifacts:  true,
	}), nil
}
