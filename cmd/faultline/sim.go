package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/internal/bounds"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/sim"
)

const simLong = `Sim runs a system's protocol core in faultline's deterministic simulator:
one process, no sockets and no wall clock. A seeded scheduler owns simulated
time and a simulated network (per-message delay, loss, duplication and
reordering; the nemesis's partition shapes), crashes and restarts nodes on a
disk model in which what was fsynced survives a power loss and nothing else
does, pauses them, and drives the workload through simulated clients. It
writes the same history.jsonl, judged by the same checkers, into a normal run
dir with a report.

--seed S runs one seed; the same seed (and flags) gives a byte-identical
history, so a failure replays exactly. --seeds N runs seeds 1..N in parallel
on every core and stops at the first failing seed, shrinks it (fewer client
operations, then fewer fault episodes) and stores that run; the command to
replay it is printed.

Faults (--faults, one at a time, every --fault-interval): partition and
partition-SHAPE (halves, one, majority-ring, bridge, leader, one-way,
leader-plus-one, new-leader); kill, pause and power-loss, and their -TARGET
variants (one, minority, majority, leader, all); figure8 (the Raft paper's
Figure 8 schedule aimed at the simulated leaders; Raft only).

Exit codes: 0 valid (every seed), 1 anomalies found, 2 bad usage, 3 unknown
(a checker could not decide).`

func newSimCmd(stdout, stderr io.Writer) *cobra.Command {
	c := sim.DefaultConfig()
	var (
		seed, seeds             uint64
		faults                  string
		results                 string
		wallLimit, checkTimeout time.Duration
		workers, shrinkBudget   int
		noShrink                bool
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate a system's core deterministically: search seeds for a failure, replay one exactly",
		Long:  simLong,
		Example: `  faultline sim --system raft --bug commit-previous-term --faults figure8 --seeds 500
  faultline sim --system raft --bug commit-previous-term --faults figure8 --seed 14
  faultline sim --system gossip --workload counter --steps 100000 --seed 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("seed") && cmd.Flags().Changed("seeds") {
				return usageErr("give --seed S (one run) or --seeds N (a search), not both")
			}
			if cmd.Flags().Changed("time-limit") && !cmd.Flags().Changed("steps") {
				c.Steps = 0 // the time limit alone bounds the run
			}
			c.Faults = nil
			if faults != "" && faults != "none" {
				c.Faults = strings.Split(faults, ",")
			}
			c.Seed = max(seed, 1)
			if err := bounds.First(
				bounds.SimSeeds.Check(int(min(seeds, uint64(bounds.SimSeeds.Max)+1))),
				bounds.SimWallLimit.Check(wallLimit),
				bounds.SimWorkers.Check(workers),
				bounds.ShrinkRuns.Check(shrinkBudget),
				bounds.CheckTimeout.Check(checkTimeout),
			); err != nil {
				return usageErr("%v", err)
			}
			if _, _, err := c.Validate(); err != nil {
				return usageErr("%v", err)
			}
			log := slog.New(slog.DiscardHandler)
			ctx := cmd.Context()
			if !cmd.Flags().Changed("seeds") {
				t, err := sim.Try(ctx, c, checkTimeout)
				if err != nil {
					return &exitError{code: exitcode.Unknown, err: err}
				}
				return storeTrial(cmd, stdout, results, t, checkTimeout, log)
			}
			var deadline time.Time
			if wallLimit > 0 {
				deadline = time.Now().Add(wallLimit)
			}
			f, err := sim.Search(ctx, c, sim.SearchOptions{First: 1, Seeds: seeds, Workers: workers, Deadline: deadline, CheckTimeout: checkTimeout})
			if err != nil {
				return &exitError{code: exitcode.Unknown, err: err}
			}
			if f.Failing == nil {
				fmt.Fprintf(stdout, "no anomaly in %d seeds (%s wall", f.Tried, f.Wall.Round(time.Millisecond))
				if f.TimedOut {
					fmt.Fprintf(stdout, "; --wall-limit %s ended the search", wallLimit)
				}
				fmt.Fprintln(stdout, ")")
				if f.Unknown > 0 {
					return &exitError{code: exitcode.Unknown, err: fmt.Errorf("%d seeds could not be judged", f.Unknown)}
				}
				return nil
			}
			ft := f.Failing
			fmt.Fprintf(stdout, "seed %d fails: found after %d seeds in %s wall (%s)\n",
				ft.Result.Config.Seed, f.Tried, f.Wall.Round(time.Millisecond), ft.Outcome.Reason)
			if !noShrink {
				small := sim.Shrink(ctx, ft, shrinkBudget, checkTimeout)
				if small != ft {
					fmt.Fprintf(stdout, "shrunk: %d → %d client operations, %d → %d fault episodes\n",
						ft.Result.Ops, small.Result.Ops, ft.Result.Faults, small.Result.Faults)
				}
				ft = small
			}
			fmt.Fprintf(stdout, "replay: faultline sim %s\n", replayArgs(ft.Result.Config))
			return storeTrial(cmd, stdout, results, ft, checkTimeout, log)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&c.System, "system", c.System, "system to simulate (raft, quorum, gossip)")
	fl.StringVar(&c.Workload, "workload", "", "workload (default: register, or the system's first)")
	fl.StringSliceVar(&c.Bugs, "bug", nil, "named bug to switch on (repeatable)")
	fl.IntVar(&c.Nodes, "nodes", c.Nodes, bounds.Nodes.Help("cluster size, at least the system's minimum"))
	fl.Uint64Var(&seed, "seed", 1, "run this one seed")
	fl.Uint64Var(&seeds, "seeds", 0, bounds.SimSeeds.Help("search seeds 1..N, stopping at the first failure"))
	fl.IntVar(&c.Steps, "steps", c.Steps, bounds.SimSteps.Help("client operations per run (0: until --time-limit)"))
	fl.DurationVar(&c.TimeLimit, "time-limit", 0, bounds.SimTimeLimit.Help("simulated time of the client phase"))
	fl.IntVar(&c.Concurrency, "concurrency", c.Concurrency, bounds.Concurrency.Help("simulated clients"))
	fl.Float64Var(&c.Rate, "rate", c.Rate, bounds.SimRate.Help("client operations per simulated second, all clients together"))
	fl.DurationVar(&c.OpTimeout, "op-timeout", c.OpTimeout, bounds.SimOpTimeout.Help("simulated time after which an operation is recorded info"))
	fl.StringVar(&faults, "faults", strings.Join(c.Faults, ","), "comma-separated faults, or none (see above)")
	fl.DurationVar(&c.FaultInterval, "fault-interval", c.FaultInterval, bounds.SimFaultInterval.Help("simulated time between a fault's start and stop, and between faults"))
	fl.IntVar(&c.MaxFaults, "max-faults", 0, bounds.SimMaxFaults.Help("cap on fault episodes (0: none; shrinking sets it)"))
	fl.DurationVar(&c.Net.MinDelay, "min-delay", c.Net.MinDelay, bounds.SimDelay.Help("least one-way message delay"))
	fl.DurationVar(&c.Net.MaxDelay, "max-delay", c.Net.MaxDelay, bounds.SimDelay.Help("greatest one-way message delay, at least --min-delay (delays are uniform in between, so messages reorder)"))
	fl.Float64Var(&c.Net.Drop, "drop", c.Net.Drop, bounds.SimProbability.Help("probability a message is lost"))
	fl.Float64Var(&c.Net.Dup, "dup", c.Net.Dup, bounds.SimProbability.Help("probability a message is delivered twice"))
	fl.StringVar(&results, "results", "results", "directory for run dirs")
	fl.DurationVar(&wallLimit, "wall-limit", 0, bounds.SimWallLimit.Help("wall time after which a search starts no new seed"))
	fl.IntVar(&workers, "workers", 0, bounds.SimWorkers.Help("seeds simulated in parallel (0: one per core)"))
	fl.IntVar(&shrinkBudget, "shrink-runs", 20, bounds.ShrinkRuns.Help("most runs spent shrinking a failing seed"))
	fl.BoolVar(&noShrink, "no-shrink", false, "store the failing seed as found")
	fl.DurationVar(&checkTimeout, "check-timeout", 2*time.Minute, bounds.CheckTimeout.Help("time limit for the checkers; past it the verdict is unknown"))
	return cmd
}

// storeTrial re-judges t with artifacts, stores its run dir and prints the
// verdict, the figures and where the report is; the error carries the
// exit code.
func storeTrial(cmd *cobra.Command, stdout io.Writer, results string, t *sim.Trial, checkTimeout time.Duration, log *slog.Logger) error {
	res, err := sim.Judge(cmd.Context(), t.Result, checkTimeout, false)
	if err != nil {
		return &exitError{code: exitcode.Unknown, err: err}
	}
	dir, err := sim.Store(cmd.Context(), results, t.Result, res, log)
	if err != nil {
		return &exitError{code: exitcode.Unknown, err: err}
	}
	r := t.Result
	fmt.Fprintf(stdout, "seed %d: %d operations, %d fault episodes, %s simulated in %s wall (%.0f simulated ops/s, %.0f simulated seconds per wall second)\n",
		r.Config.Seed, r.Ops, r.Faults, r.SimTime.Round(time.Millisecond), t.Wall.Round(time.Millisecond),
		float64(r.Ops)/t.Wall.Seconds(), r.SimTime.Seconds()/t.Wall.Seconds())
	fmt.Fprintln(stdout, res.Describe(maxPrinted))
	fmt.Fprintf(stdout, "results: %s\n", dir)
	switch res.Verdict {
	case checkers.Valid:
		return nil
	case checkers.Invalid:
		return &exitError{code: exitcode.Invalid}
	}
	return &exitError{code: exitcode.Unknown}
}

// replayArgs is the command line that replays c exactly.
func replayArgs(c sim.Config) string {
	d := sim.DefaultConfig()
	args := []string{"--system " + c.System, "--workload " + c.Workload}
	for _, b := range c.Bugs {
		args = append(args, "--bug "+b)
	}
	faults := "none"
	if len(c.Faults) > 0 {
		faults = strings.Join(c.Faults, ",")
	}
	args = append(args, "--faults "+faults, fmt.Sprintf("--seed %d --steps %d", c.Seed, c.Steps))
	opt := func(name string, v, def any) {
		if fmt.Sprint(v) != fmt.Sprint(def) {
			args = append(args, fmt.Sprintf("--%s %v", name, v))
		}
	}
	opt("nodes", c.Nodes, d.Nodes)
	opt("time-limit", c.TimeLimit, time.Duration(0))
	opt("concurrency", c.Concurrency, d.Concurrency)
	opt("rate", c.Rate, d.Rate)
	opt("op-timeout", c.OpTimeout, d.OpTimeout)
	opt("fault-interval", c.FaultInterval, d.FaultInterval)
	opt("max-faults", c.MaxFaults, 0)
	opt("min-delay", c.Net.MinDelay, d.Net.MinDelay)
	opt("max-delay", c.Net.MaxDelay, d.Net.MaxDelay)
	opt("drop", c.Net.Drop, d.Net.Drop)
	opt("dup", c.Net.Dup, d.Net.Dup)
	return strings.Join(args, " ")
}
