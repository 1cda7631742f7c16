package faultline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/runner"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/workloads"
)

// ErrNoAnomaly means the run's history, judged whole, shows no anomaly.
var ErrNoAnomaly = errors.New("no anomaly in the history")

// FirstAnomaly finds the completion after which the run's history first
// stops being valid, and returns it with its time from the run's start.
// It judges prefixes of the history with the workload's checkers, by
// bisection: consistency models like linearizability are prefix-closed (a
// history with an anomaly keeps it when more is appended; an operation
// still open at the cut counts as unknown), so the first invalid prefix
// ends with the first anomalous operation. Each prefix check gets at most
// perCheck; a prefix whose check gives up counts as not (yet) invalid, so
// the answer errs late, never early.
func (r *Result) FirstAnomaly(ctx context.Context, perCheck time.Duration) (history.Event, time.Duration, error) {
	events, err := history.ReadFile(filepath.Join(r.RunDir, store.HistoryFile))
	if err != nil {
		return history.Event{}, 0, fmt.Errorf("first anomaly: %w", err)
	}
	cs, err := checkersFor(r.Test, perCheck)
	if err != nil {
		return history.Event{}, 0, fmt.Errorf("first anomaly: %w", err)
	}
	// Cut points: each client completion. A prefix ends right after one.
	var cuts []int
	for i, e := range events {
		if e.Process >= 0 && e.Type != history.Invoke {
			cuts = append(cuts, i)
		}
	}
	invalid := func(n int) bool {
		cctx, cancel := context.WithTimeout(ctx, perCheck)
		defer cancel()
		return checkers.Run(cctx, cs, events[:cuts[n]+1], "").Valid == checkers.Invalid
	}
	if len(cuts) == 0 || !invalid(len(cuts)-1) {
		return history.Event{}, 0, ErrNoAnomaly
	}
	n := sort.Search(len(cuts), invalid)
	if err := ctx.Err(); err != nil {
		return history.Event{}, 0, fmt.Errorf("first anomaly: %w", err)
	}
	e := events[cuts[n]]
	return e, time.Duration(e.Time), nil
}

// checkersFor builds the checkers a run of t was judged with.
func checkersFor(t Test, timeout time.Duration) ([]checkers.Checker, error) {
	res, err := runner.Resolve(t)
	if err != nil {
		return nil, err
	}
	return res.Workload.Checkers(workloads.Options{
		Seed: t.Seed, Concurrency: t.Concurrency,
		Functions:    res.System.Workloads()[t.Workload],
		CheckTimeout: timeout,
	}), nil
}
