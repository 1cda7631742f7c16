package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/internal/bounds"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/runner"
)

func newShrinkCmd(stdout, stderr io.Writer) *cobra.Command {
	o := runner.ShrinkOptions{Replays: 3, MaxTries: 40, MaxTime: 30 * time.Minute}
	var verbose bool
	cmd := &cobra.Command{
		Use:   "shrink RUN_DIR",
		Short: "Reduce a failing run's fault schedule to a minimal one that still fails",
		Long: `Shrink takes a failing (invalid) run's stored schedule and searches for a
smaller one that still fails: delta debugging over its steps (a fault's start
and stop go together; waits and sleeps alone), then over the lengths of what
is left. Each candidate runs with the run's configuration, seed and pinned
targets, up to --replays times, and counts as failing if any run is invalid,
since runs are not deterministic. The search stops on --max-tries or
--max-time, keeping the smallest failing schedule found.

It writes, under --out (default RUN_DIR-shrink): shrink.jsonl, a line per
try (steps, verdicts, run dirs); minimal.json (the minimal schedule, its steps
in words and a failing run of it); and the candidates' run dirs. A shrunk
run's report shows "minimal schedule: 3 of 14 steps" and the steps; replay
it with faultline run --replay.

Exit code: 1 when the minimal schedule's run failed (the usual end), 2 for a
run that is not invalid or bad flags, 3 when no candidate could be judged.`,
		Example: `  faultline shrink results/latest
  faultline shrink --replays 2 --max-tries 20 --max-time 20m results/20260101T000000.000Z-raft-register-s3`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := bounds.First(bounds.Replays.Check(o.Replays), bounds.MaxTries.Check(o.MaxTries), bounds.MaxTime.Check(o.MaxTime)); err != nil {
				return usageErr("%v", err)
			}
			exe, err := os.Executable()
			if err != nil {
				return usageErr("cannot find my own executable to run nodes with: %v", err)
			}
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelInfo
			}
			log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
			opts := func(*runner.Test) runner.Options {
				return runner.Options{NodeCommand: []string{exe, "node", "--parent-watch"}, Logger: log}
			}
			s, err := runner.Shrink(cmd.Context(), args[0], o, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, s.Line())
			for i, l := range s.Labels {
				fmt.Fprintf(stdout, "  %2d. %s\n", i+1, l)
			}
			how := "no smaller schedule fails"
			if s.Budget {
				how = "budget spent"
			}
			fmt.Fprintf(stdout, "  %d tries (%s); shrink log: %s\n  failing run of the minimal schedule: %s\n", s.Tries, how, s.Dir, s.RunDir)
			return &exitError{code: exitcode.Invalid}
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Replays, "replays", o.Replays, bounds.Replays.Help("runs of each candidate at most; it fails if any run is invalid"))
	f.IntVar(&o.MaxTries, "max-tries", o.MaxTries, bounds.MaxTries.Help("candidates to try at most (0: no limit)"))
	f.DurationVar(&o.MaxTime, "max-time", o.MaxTime, bounds.MaxTime.Help("time to search at most; a candidate begun runs to its end"))
	f.StringVar(&o.Out, "out", "", "directory for shrink.jsonl, minimal.json and the candidates' runs (default RUN_DIR-shrink)")
	f.BoolVarP(&verbose, "verbose", "v", false, "log each run's progress to stderr")
	return cmd
}
