package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/harness/report"
)

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	t := harness.DefaultTest()
	var (
		nemeses                                                    []string
		timeLimit, opTimeout, interval, recoveryTimeout, checkTime time.Duration
		noFinalReads, quiet                                        bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a test: start a cluster, inject faults, record and check the history",
		Example: `  faultline run --system quorum --workload register --nemesis partition,kill --time-limit 30s --seed 1
  faultline run --system quorum --bug no-write-back --nemesis slow --seed 3
  faultline run --system raft --bug stale-local-read --time-limit 60s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t.Nemesis = splitList(nemeses)
			t.Bugs = splitList(t.Bugs)
			t.TimeLimit, t.OpTimeout, t.NemesisInterval = harness.Duration(timeLimit), harness.Duration(opTimeout), harness.Duration(interval)
			t.RecoveryTimeout, t.CheckTimeout = harness.Duration(recoveryTimeout), harness.Duration(checkTime)
			t.FinalReads = !noFinalReads
			if !cmd.Flags().Changed("seed") {
				t.Seed = uint64(time.Now().UnixNano() % 1_000_000)
			}
			exe, err := os.Executable()
			if err != nil {
				return usageErr("cannot find my own executable to run nodes with: %v", err)
			}
			level := slog.LevelInfo
			if quiet {
				level = slog.LevelWarn
			}
			log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
			out, err := faultline.Run(cmd.Context(), t,
				faultline.WithNodeCommand(exe, "node", "--parent-watch"), faultline.WithLogger(log))
			if err != nil {
				return err
			}
			printVerdict(stdout, out.Verdict, out.Reason, out.Checkers)
			fmt.Fprintf(stdout, "results: %s (seed %d)\n", out.RunDir, t.Seed)
			fmt.Fprintf(stdout, "report: %s\n", filepath.Join(out.RunDir, report.File))
			if code := out.ExitCode(); code != exitValid {
				return &exitError{code: code}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&t.System, "system", t.System, "system under test (see faultline list)")
	f.StringVar(&t.Workload, "workload", t.Workload, "workload clients run")
	f.StringSliceVar(&nemeses, "nemesis", t.Nemesis, "faults to inject, comma-separated (partition, kill, slow) or none")
	f.StringSliceVar(&t.Bugs, "bug", nil, "named bug to switch on in every node (repeatable)")
	f.IntVar(&t.Nodes, "nodes", t.Nodes, "number of nodes")
	f.StringVar(&t.Runtime, "runtime", t.Runtime, "how nodes run: process")
	f.DurationVar(&timeLimit, "time-limit", t.TimeLimit.D(), "how long clients run")
	f.IntVar(&t.Concurrency, "concurrency", t.Concurrency, "client workers")
	f.Float64Var(&t.Rate, "rate", t.Rate, "total operations per second across workers (0 = unlimited)")
	f.Uint64Var(&t.Seed, "seed", 0, "seed for every random choice (default: random, printed and stored in test.json)")
	f.StringVar(&t.ResultsDir, "results", t.ResultsDir, "directory runs are stored under")
	f.DurationVar(&interval, "nemesis-interval", t.NemesisInterval.D(), "time between fault starts and stops")
	f.DurationVar(&opTimeout, "op-timeout", t.OpTimeout.D(), "per-operation timeout; past it the outcome is unknown (info)")
	f.DurationVar(&recoveryTimeout, "recovery-timeout", t.RecoveryTimeout.D(), "time for the cluster to be healthy again after the faults stop")
	f.DurationVar(&checkTime, "check-timeout", t.CheckTimeout.D(), "time limit for the checkers; past it the verdict is unknown")
	f.BoolVar(&noFinalReads, "no-final-reads", false, "skip reading every key once after recovery")
	f.BoolVarP(&quiet, "quiet", "q", false, "log only warnings and errors to stderr")
	return cmd
}

// splitList accepts both repeated flags and comma-separated values.
func splitList(in []string) []string {
	var out []string
	for _, v := range in {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func printVerdict(w io.Writer, v checkers.Verdict, reason string, cs map[string]checkers.Result) {
	line := v.String()
	if reason != "" {
		line += ": " + reason
	}
	fmt.Fprintln(w, line)
	for name, r := range cs {
		fmt.Fprintf(w, "  %s: %s", name, r.Valid)
		if r.Reason != "" {
			fmt.Fprintf(w, " (%s)", r.Reason)
		}
		fmt.Fprintln(w)
		for i, a := range r.Anomalies {
			if i == 10 {
				fmt.Fprintf(w, "    … and %d more\n", len(r.Anomalies)-i)
				break
			}
			fmt.Fprintf(w, "    %s\n", a)
		}
		for _, file := range r.Files {
			fmt.Fprintf(w, "    see %s\n", file)
		}
	}
}
