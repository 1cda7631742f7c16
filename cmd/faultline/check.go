package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/stats"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/bounds"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/memguard"
	"github.com/faultline/faultline/internal/runner"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/outcome"
	"github.com/faultline/faultline/report"
	"github.com/faultline/faultline/workloads"
)

func newCheckCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		workload, out string
		timeout       time.Duration
		memoryMiB     int
	)
	cmd := &cobra.Command{
		Use:   "check PATH",
		Short: "Re-judge a stored run dir or a history file and print the verdict",
		Long: `Check reads a history (a run dir's history.jsonl, or any JSON-lines history
file in the format README.md describes) and runs the workload's checkers on it.
A run dir's test.json names the workload; --workload overrides it. A run cut
short (the harness killed) is checked up to its last complete line.

It also writes the HTML report of this verdict: report.html in a run dir, or
NAME.report.html beside a history file NAME.jsonl. A report that cannot be
written is a warning; it does not change the exit code.

Reading and checking get --memory-limit-mb of heap (1024 by default): the
garbage collector works harder from three quarters of it on, and a check
whose heap still passes it is stopped and judged unknown (exit 3), never
killed for memory.`,
		Example: `  faultline check results/latest
  faultline check --workload register some/history.jsonl`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The same bounds as run's --check-timeout (internal/bounds).
			if err := bounds.CheckTimeout.Check(timeout); err != nil {
				return usageErr("%v", err)
			}
			if err := bounds.MemoryLimit.Check(memoryMiB); err != nil {
				return usageErr("%v", err)
			}
			ctx, stopGuard := memguard.Guard(cmd.Context(), memguard.MiB(memoryMiB))
			defer stopGuard()
			overMemory := func() error {
				fmt.Fprintf(stdout, "unknown: %v (--memory-limit-mb %d); no verdict is claimed\n", memguard.Exceeded(ctx), memoryMiB)
				return &exitError{code: exitcode.Unknown}
			}
			path := args[0]
			fi, err := os.Stat(path)
			if err != nil {
				return usageErr("cannot read %s: %v", path, err)
			}
			histPath := path
			if fi.IsDir() {
				histPath = filepath.Join(path, store.HistoryFile)
				if !cmd.Flags().Changed("out") {
					out = path
				}
				var t runner.Test
				switch err := store.ReadJSON(path, store.TestFile, &t); {
				case cmd.Flags().Changed("workload"):
				case err != nil:
					fmt.Fprintf(stderr, "faultline: warning: %v; judging as workload %q\n", err, workload)
				case t.Workload != "":
					workload = t.Workload
				}
			}
			w, err := workloads.Default().Get(workload)
			if err != nil {
				return usageErr("%v", err)
			}
			events, err := history.ReadFileContext(ctx, histPath)
			if err != nil && cmd.Context().Err() != nil {
				return interrupted(err)
			}
			if memguard.Exceeded(ctx) != nil {
				return overMemory()
			}
			if err != nil {
				var le *history.LineError
				if !errors.As(err, &le) || !errors.Is(err, history.ErrTruncated) {
					return usageErr("%v", err)
				}
				fmt.Fprintf(stderr, "faultline: warning: %v; checking the %d complete events before it\n", err, len(events))
			}
			if v, ok := w.(workloads.Validator); ok {
				err, cut := whileLive(ctx, func() error { return v.Validate(events) })
				if memguard.Exceeded(ctx) != nil {
					return overMemory()
				}
				if cut != nil {
					return interrupted(cut)
				}
				if err != nil {
					return usageErr("%s: %v", histPath, err)
				}
			}
			res, cut := whileLive(ctx, func() *outcome.Result {
				return &outcome.Result{
					Checkers: checkers.Run(ctx, w.Checkers(workloads.Options{CheckTimeout: timeout, NoArtifacts: out == ""}), events),
					Stats:    stats.Compute(events),
				}
			})
			if memguard.Exceeded(ctx) != nil && cmd.Context().Err() == nil {
				return overMemory()
			}
			if cut != nil || cmd.Context().Err() != nil {
				// Interrupted: no verdict to print, and no report or
				// artifacts of a check cut short.
				return interrupted(cmd.Context().Err())
			}
			if fi.IsDir() {
				res.RunDir = path
				res.Test, _ = outcome.ReadSpec(path) // what ran, when test.json says
				// A run whose history could not be stored in full stays
				// unknown: its history.jsonl is a prefix of what ran.
				if stored, err := outcome.Read(path); err == nil && stored.HistoryError != "" {
					res.HistoryError = stored.HistoryError
					fmt.Fprintf(stderr, "faultline: warning: the run could not store its history in full (%s); judging the events it kept\n", stored.HistoryError)
				}
			}
			// The checkers return their artifacts; --out is where they go.
			if out != "" && len(artifacts(res)) > 0 {
				if err := store.WriteArtifacts(out, res.Checkers); err != nil {
					fmt.Fprintf(stderr, "faultline: warning: %v\n", err)
				}
			}
			res.Judge()
			page := writeReport(cmd.Context(), stderr, fi.IsDir(), path, out, res, events)
			fmt.Fprintf(stdout, "%d events from %s\n", len(events), histPath)
			fmt.Fprintln(stdout, res.Describe(maxPrinted))
			if as := artifacts(res); len(as) > 0 && out != res.RunDir {
				fmt.Fprintf(stdout, "  artifacts in %s: %s\n", out, strings.Join(as, ", "))
			}
			if page != "" && !fi.IsDir() {
				fmt.Fprintf(stdout, "report: %s\n", page)
			}
			if code := res.ExitCode(); code != exitcode.Valid {
				return &exitError{code: code}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&workload, "workload", "register", "workload whose checkers judge the history")
	cmd.Flags().StringVar(&out, "out", "", "directory for checker artifacts such as visualizations (default: the run dir when PATH is one)")
	cmd.Flags().IntVar(&memoryMiB, "memory-limit-mb", 1024, bounds.MemoryLimit.Help("MiB of heap for reading and checking (0: no limit); past it the verdict is unknown"))
	cmd.Flags().DurationVar(&timeout, "check-timeout", runner.DefaultTest().CheckTimeout.D(), bounds.CheckTimeout.Help("time limit for the checkers; past it the verdict is unknown"))
	return cmd
}

// whileLive returns what f returns, or ctx's error as soon as ctx ends,
// whichever comes first. The phases of a check that do not look at ctx
// (preparing and pairing millions of operations) must not hold up an
// interrupt: the command ends, and what f was computing goes with the
// process. f must write nothing.
func whileLive[T any](ctx context.Context, f func() T) (T, error) {
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v, nil
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// interrupted is the error of a check stopped by a signal: no verdict,
// exit 3.
func interrupted(err error) error {
	return &exitError{code: exitcode.Unknown, err: fmt.Errorf("interrupted, no verdict: %w", err)}
}

// writeReport writes the HTML report of a check and returns its path.
// Like the run's, a report that cannot be written is a warning, never a
// different exit code.
func writeReport(ctx context.Context, stderr io.Writer, isDir bool, path, out string, res *outcome.Result, events []history.Event) string {
	in := report.Input{History: path, Results: res, ArtifactDir: out, Events: events}
	if isDir {
		in = report.Input{Dir: path, Results: res, ArtifactDir: out, Events: events}
	}
	p, err := report.Write(ctx, in)
	if err != nil {
		fmt.Fprintf(stderr, "faultline: warning: no HTML report: %v\n", err)
		return ""
	}
	return p
}

// artifacts names the files the checkers made.
func artifacts(res *outcome.Result) []string {
	var out []string
	for _, name := range res.Checkers.Names() {
		for _, a := range res.Checkers[name].Artifacts {
			out = append(out, a.Name)
		}
	}
	return out
}
