package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/internal/bounds"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/runner"
	"github.com/faultline/faultline/nemesis"
)

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	t := runner.DefaultTest()
	var (
		nemeses                                                    []string
		timeLimit, opTimeout, interval, recoveryTimeout, checkTime time.Duration
		startTimeout                                               time.Duration
		noFinalReads, quiet                                        bool
		grudge, grudgeFile, replay                                 string
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a test: start a cluster, inject faults, record and check the history",
		Long: `Run starts a cluster, drives the workload while the nemesis injects faults on a
schedule derived from --seed, recovers the cluster, checks the history and
stores the run dir (test.json with the whole schedule, history.jsonl,
results.json).

--nemesis takes a comma list of fault families (partition, link, kill, pause,
clock, power-loss), specific faults (partition-bridge or partition:bridge,
link-reset, clock-strobe, kill-leader or kill:leader …), sequences (figure8,
stale-leader, lagging-follower, strand-write: aimed steps that wait on the
cluster's state), all (every family), none, or default (the default:
partition and kill, plus the sequences aimed at the system — stale-leader
and lagging-follower for raft, strand-write for quorum — each round picked
at random). A family picks a member at random for
each episode. Process faults (kill, pause, power-loss) take a target: one,
minority, majority, leader, all, or one aimed by the cluster's state
(leader-plus-one, new-leader, old-leader, rest, cut-side, lag-majority). A sequence about a
leader on a system without one is a usage error (exit 2).
faultline list describes every fault. Faults of one kind never overlap
(partitions; link toxics; kill, pause and power loss; clocks); different
kinds may. power-loss runs every node with lazy storage (un-fsynced writes
live in process memory and die with it); test.json records the storage mode.

--replay RUN_DIR runs a stored run again: its test.json (configuration, seed,
schedule), with leader targets pinned to the nodes its history recorded. Only
--results and --quiet may be given with it.

Start-up and recovery are bounded: --start-timeout for each node to become
ready (the whole start-up: that plus 30s, or 5m on docker), --recovery-timeout
for the cluster to heal after the faults. Past its bound a phase ends with a
clear error, every goroutine's stack in the run's harness.log, and exit 3.

After the run every fault is undone; results.json records whether every link
healed and every node came back (healed); if not, the verdict is unknown
(exit 3).`,
		Example: `  faultline run --system quorum --workload register --nemesis partition,kill --time-limit 30s --seed 1
  faultline run --system quorum --nemesis all --nemesis-interval 3s --seed 2
  faultline run --system raft --bug ack-before-fsync --nemesis power-loss --seed 1
  faultline run --system quorum --nemesis partition-grudge --grudge 'n1,n2|n3,n4,n5'
  faultline run --system quorum --bug no-write-back --nemesis slow --seed 3
  faultline run --system raft --bug commit-previous-term --nemesis figure8 --time-limit 60s --seed 1
  faultline run --replay results/latest
  faultline run --system gossip --workload set --nemesis partition,kill --seed 2
  faultline run --system gossip --workload counter --bug merge-overwrite`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if replay != "" {
				var err error
				if t, err = replayTest(cmd, replay); err != nil {
					return err
				}
				return runTest(cmd, t, quiet, stdout, stderr)
			}
			t.Nemesis = splitList(nemeses)
			t.Bugs = splitList(t.Bugs)
			t.TimeLimit, t.OpTimeout, t.NemesisInterval = runner.Duration(timeLimit), runner.Duration(opTimeout), runner.Duration(interval)
			t.RecoveryTimeout, t.CheckTimeout, t.StartTimeout = runner.Duration(recoveryTimeout), runner.Duration(checkTime), runner.Duration(startTimeout)
			t.FinalReads = !noFinalReads
			if !cmd.Flags().Changed("seed") {
				t.Seed = uint64(time.Now().UnixNano() % 1_000_000)
			}
			if grudge != "" && grudgeFile != "" {
				return usageErr("give --grudge or --grudge-file, not both")
			}
			if grudgeFile != "" {
				b, err := os.ReadFile(grudgeFile)
				if err != nil {
					return usageErr("--grudge-file: %v", err)
				}
				grudge = string(b)
			}
			if grudge != "" {
				g, err := nemesis.ParseGrudge(grudge, t.Nodes)
				if err != nil {
					return usageErr("--grudge: %v", err)
				}
				t.Grudge = g
			}
			return runTest(cmd, t, quiet, stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&t.System, "system", t.System, "system under test (see faultline list)")
	f.StringVar(&t.Workload, "workload", t.Workload, "workload clients run")
	f.StringSliceVar(&nemeses, "nemesis", t.Nemesis, "faults to inject, comma-separated: default (partition, kill and the system's aimed sequences), families (partition, link, kill, pause, clock, power-loss), specific faults (partition-bridge, kill:leader …), sequences (figure8, stale-leader, lagging-follower, strand-write), all, or none; see faultline list")
	f.StringSliceVar(&t.Bugs, "bug", nil, "named bug to switch on in every node (repeatable)")
	f.IntVar(&t.Nodes, "nodes", t.Nodes, bounds.Nodes.Help("number of nodes, at least the system's minimum (faultline list)"))
	f.StringVar(&t.Runtime, "runtime", t.Runtime, "how nodes run: process (child processes), docker (containers; needs a Docker engine) or auto (docker when an engine answers, else process)")
	f.DurationVar(&timeLimit, "time-limit", t.TimeLimit.D(), bounds.TimeLimit.Help("how long clients run"))
	f.IntVar(&t.Concurrency, "concurrency", t.Concurrency, bounds.Concurrency.Help("client workers"))
	f.Float64Var(&t.Rate, "rate", t.Rate, bounds.Rate.Help("total operations per second across workers"))
	f.Uint64Var(&t.Seed, "seed", 0, "seed for every random choice, the fault schedule included (default: random, printed and stored in test.json)")
	f.StringVar(&t.ResultsDir, "results", t.ResultsDir, "directory runs are stored under")
	f.DurationVar(&interval, "nemesis-interval", t.NemesisInterval.D(), bounds.NemesisInterval.Help(fmt.Sprintf("mean time between fault starts (each fault lasts about as long); at most %d per --time-limit", bounds.MaxEpisodes)))
	f.DurationVar(&opTimeout, "op-timeout", t.OpTimeout.D(), bounds.OpTimeout.Help("per-operation timeout; past it the outcome is unknown (info)"))
	f.DurationVar(&recoveryTimeout, "recovery-timeout", t.RecoveryTimeout.D(), bounds.RecoveryTimeout.Help("time for the cluster to be healthy again after the faults stop"))
	f.DurationVar(&startTimeout, "start-timeout", t.StartTimeout.D(), bounds.StartTimeout.Help("time for each node to become ready when the cluster starts; the whole start-up may take this plus 30s (docker: plus 5m, for building the node image), after which the run ends unknown (exit 3) with a goroutine dump in harness.log"))
	f.DurationVar(&checkTime, "check-timeout", t.CheckTimeout.D(), bounds.CheckTimeout.Help("time limit for the checkers; past it the verdict is unknown"))
	f.BoolVar(&noFinalReads, "no-final-reads", false, "skip the final reads after recovery (every key once; for set, counter and lww, every node until the answers settle)")
	f.StringVar(&grudge, "grudge", "", "custom grudge for partition-grudge: groups that do not hear each other (n1,n2|n3,n4,n5) or JSON node -> nodes it does not hear ({\"n1\":[\"n2\"]})")
	f.StringVar(&grudgeFile, "grudge-file", "", "read the custom grudge from a file (same forms as --grudge)")
	f.StringVar(&replay, "replay", "", "run the stored run dir RUN_DIR again: same configuration, seed and fault schedule")
	f.BoolVarP(&quiet, "quiet", "q", false, "log only warnings and errors to stderr")
	return cmd
}

// replayTest loads the test of run dir dir, refusing flags that would
// change it (only --results and --quiet may be given).
func replayTest(cmd *cobra.Command, dir string) (runner.Test, error) {
	var bad []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "replay", "results", "quiet":
		default:
			bad = append(bad, "--"+f.Name)
		}
	})
	if len(bad) > 0 {
		return runner.Test{}, usageErr("--replay runs the stored test as it was: %s cannot be given with it (only --results and --quiet)", strings.Join(bad, ", "))
	}
	t, err := runner.LoadReplay(dir)
	if err != nil {
		return t, err
	}
	if cmd.Flags().Changed("results") {
		t.ResultsDir, _ = cmd.Flags().GetString("results")
	}
	return t, nil
}

func runTest(cmd *cobra.Command, t runner.Test, quiet bool, stdout, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return usageErr("cannot find my own executable to run nodes with: %v", err)
	}
	level := slog.LevelInfo
	if quiet {
		level = slog.LevelWarn
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	res, err := faultline.Run(cmd.Context(), t,
		faultline.WithNodeCommand(exe, "node", "--parent-watch"), faultline.WithLogger(log))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.Describe(maxPrinted))
	if code := res.ExitCode(); code != exitcode.Valid {
		return &exitError{code: code}
	}
	return nil
}

// maxPrinted caps the anomalies printed per checker; results.json and the
// report have them all.
const maxPrinted = 10

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
