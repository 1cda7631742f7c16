package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/runner"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/report"
	"github.com/faultline/faultline/workloads"
)

func newCheckCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		workload, out string
		timeout       time.Duration
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
written is a warning; it does not change the exit code.`,
		Example: `  faultline check results/latest
  faultline check --workload register some/history.jsonl`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
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
			events, err := history.ReadFile(histPath)
			if err != nil {
				var le *history.LineError
				if !errors.As(err, &le) || !errors.Is(err, history.ErrTruncated) {
					return usageErr("%v", err)
				}
				fmt.Fprintf(stderr, "faultline: warning: %v; checking the %d complete events before it\n", err, len(events))
			}
			if v, ok := w.(workloads.Validator); ok {
				if err := v.Validate(events); err != nil {
					return usageErr("%s: %v", histPath, err)
				}
			}
			sum := checkers.Run(cmd.Context(), w.Checkers(workloads.Options{CheckTimeout: timeout}), events, out)
			reason := ""
			switch sum.Valid {
			case checkers.Invalid:
				reason = "anomalies found"
			case checkers.Unknown:
				reason = "a checker could not decide"
			}
			fmt.Fprintf(stdout, "%d events from %s\n", len(events), histPath)
			printVerdict(stdout, sum.Valid, reason, sum.Checkers)
			writeReport(cmd.Context(), stdout, stderr, fi.IsDir(), path, out, report.Results{Valid: sum.Valid, Reason: reason, Checkers: sum.Checkers})
			switch sum.Valid {
			case checkers.Valid:
				return nil
			case checkers.Invalid:
				return &exitError{code: exitInvalid}
			default:
				return &exitError{code: exitUnknown}
			}
		},
	}
	cmd.Flags().StringVar(&workload, "workload", "register", "workload whose checkers judge the history")
	cmd.Flags().StringVar(&out, "out", "", "directory for checker artifacts such as visualizations (default: the run dir when PATH is one)")
	cmd.Flags().DurationVar(&timeout, "check-timeout", 2*time.Minute, "time limit for the checkers; past it the verdict is unknown")
	return cmd
}

// writeReport writes the HTML report of a check. Like the run's, a report
// that cannot be written is a warning, never a different exit code.
func writeReport(ctx context.Context, stdout, stderr io.Writer, isDir bool, path, out string, res report.Results) {
	in := report.Input{History: path, Results: &res, ArtifactDir: out}
	if isDir {
		in = report.Input{Dir: path, Results: &res, ArtifactDir: out}
	}
	p, err := report.Write(ctx, in)
	if err != nil {
		fmt.Fprintf(stderr, "faultline: warning: no HTML report: %v\n", err)
		return
	}
	fmt.Fprintf(stdout, "report: %s\n", p)
}
