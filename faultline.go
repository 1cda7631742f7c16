// Package faultline is the Go API for chaos tests: build a Test from a
// system, its workload, faults, time limit, seed and bugs; Run it; read the
// Result — verdict, anomalies, run dir and HTML report. The faultline CLI
// and the Ginkgo suites under suites/ use this API; so can a suite in any
// other repository (see README, "Test your own system").
//
// A system is a value satisfying System (package systems): faultline's own
// (Builtin("raft"), or raft.New()) or yours, whose nodes are Go code run
// in-process (systems.InProcess) or programs of their own
// (systems.Foreign).
//
//	func TestMain(m *testing.M) {
//		faultline.RunNodeIfChild(mystore.New()) // this binary also serves as a node of these systems
//		os.Exit(m.Run())
//	}
//
//	res, err := faultline.Run(ctx, faultline.New(mystore.New(),
//		faultline.Nemesis("partition", "kill"), faultline.TimeLimit(20*time.Second), faultline.Seed(1)))
package faultline

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/runner"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/outcome"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/registry"
)

// Test is a test as data (the run's test.json). Build one with New.
type Test = runner.Test

// Verdict is valid, invalid or unknown.
type Verdict = checkers.Verdict

// The three verdicts.
const (
	Valid   = checkers.Valid
	Invalid = checkers.Invalid
	Unknown = checkers.Unknown
)

// ReportFile is the HTML report's name inside a run dir.
const ReportFile = store.ReportFile

// System is a system under test: see package systems for the contract
// (System, then exactly one of InProcess and Foreign, then any of Prober,
// ClockSetter, LazyStorage and FaultLimits).
type System = systems.System

// Option sets one field of a Test.
type Option func(*Test)

// New returns a test of sys with every default filled in (the CLI's
// defaults: register workload, partition and kill faults, 5 nodes, 30 s, the
// process runtime) and opts applied in order. Nothing is checked until Run
// (a nil sys is refused there). Run checks every number and duration
// against the bounds of the CLI's flags (README, "Flag bounds": Nodes
// 1..15, Concurrency 1..1000, a finite Rate 0..100000, NemesisInterval
// 100ms..1h and at most 1000 per TimeLimit, …) before it writes anything;
// a value out of bounds is a *ConfigError (exit code 2).
func New(sys System, opts ...Option) Test {
	t := runner.DefaultTest()
	t.System, t.Impl = "", sys
	if sys != nil {
		t.System = sys.Name()
	}
	for _, o := range opts {
		o(&t)
	}
	return t
}

// Builtin returns the included system of that name (raft, quorum,
// gossip), or an error listing them.
func Builtin(name string) (System, error) { return registry.Default().Get(name) }

// Builtins lists the included systems' names.
func Builtins() []string { return registry.Default().Names() }

// Workload sets what clients do (register, set, counter, …).
func Workload(name string) Option { return func(t *Test) { t.Workload = name } }

// Nemesis sets the faults: families (partition, link, kill, pause, clock,
// power-loss), members (partition-bridge, kill:leader …), sequences
// (figure8, strand-write), "all", or "none" for no faults. `faultline list` names every fault.
func Nemesis(faults ...string) Option {
	return func(t *Test) { t.Nemesis = slices.Clone(faults) }
}

// Schedule sets the fault schedule as a value, built with nemesis.Seq,
// Times, Forever, OneOf, Until, SleepFor, StartFault, StopFault, Episode
// and RandomOver; the faults it names must be in Nemesis. Without it the
// schedule is the seeded random one (or the rounds of the named
// sequences). test.json stores it as "plan".
func Schedule(plan nemesis.Sched) Option {
	return func(t *Test) { p := plan; t.Plan = &p }
}

// Grudge sets the custom grudge of the partition-grudge fault: node -> the
// nodes whose messages it does not hear. nemesis.ParseGrudge reads the
// CLI's forms.
func Grudge(g map[int][]int) Option { return func(t *Test) { t.Grudge = g } }

// Replay returns the test stored in run dir dir, to Run again with the same
// configuration, seed and fault schedule (leader targets pinned as the
// original history recorded them). Result.Test shows what ran; this is
// the whole of it. A test of a system of your own needs that system among
// sys (test.json holds only its name); a built-in is found by name.
func Replay(dir string, sys ...System) (Test, error) {
	t, err := runner.LoadReplay(dir)
	if err != nil {
		return t, err
	}
	for _, s := range sys {
		if s != nil && s.Name() == t.System {
			t.Impl = s
		}
	}
	return t, nil
}

// NemesisInterval sets the time between fault starts and stops.
func NemesisInterval(d time.Duration) Option {
	return func(t *Test) { t.NemesisInterval = runner.Duration(d) }
}

// Nodes sets the cluster size.
func Nodes(n int) Option { return func(t *Test) { t.Nodes = n } }

// TimeLimit sets how long clients run.
func TimeLimit(d time.Duration) Option { return func(t *Test) { t.TimeLimit = runner.Duration(d) } }

// Seed sets the seed every random choice derives from.
func Seed(s uint64) Option { return func(t *Test) { t.Seed = s } }

// Bugs switches named bugs on in every node.
func Bugs(names ...string) Option { return func(t *Test) { t.Bugs = slices.Clone(names) } }

// Runtime sets how nodes run: "process" (the default), "docker" (containers;
// needs a Docker engine) or "auto" (docker when an engine answers, else
// process; the result records which ran).
func Runtime(name string) Option { return func(t *Test) { t.Runtime = name } }

// Concurrency sets the number of client workers.
func Concurrency(n int) Option { return func(t *Test) { t.Concurrency = n } }

// Rate sets total operations per second across workers (0 = unlimited).
func Rate(perSecond float64) Option { return func(t *Test) { t.Rate = perSecond } }

// ResultsDir sets the directory runs are stored under.
func ResultsDir(dir string) Option { return func(t *Test) { t.ResultsDir = dir } }

// OpTimeout sets the per-operation timeout.
func OpTimeout(d time.Duration) Option { return func(t *Test) { t.OpTimeout = runner.Duration(d) } }

// StartTimeout sets how long each node has to become ready when it starts
// (default 60 s; 1s..1h); past it the run ends with exit code 3, naming the
// node and its log, with every goroutine's stack in harness.log. The whole
// start-up is bounded by it plus 30 s (docker: plus 5 min).
func StartTimeout(d time.Duration) Option {
	return func(t *Test) { t.StartTimeout = runner.Duration(d) }
}

// RecoveryTimeout sets how long the cluster has to be healthy after the faults.
func RecoveryTimeout(d time.Duration) Option {
	return func(t *Test) { t.RecoveryTimeout = runner.Duration(d) }
}

// CheckTimeout sets the checkers' time limit (past it: unknown).
func CheckTimeout(d time.Duration) Option {
	return func(t *Test) { t.CheckTimeout = runner.Duration(d) }
}

// FinalReads sets whether every key is read once after recovery.
func FinalReads(on bool) Option { return func(t *Test) { t.FinalReads = on } }

// RunOption says how a run is carried out.
type RunOption func(*runner.Options)

// WithNodeCommand sets the program and leading arguments that run one node
// (the runtime appends the node's flags). Without it, Run uses FAULTLINE_BIN
// or this binary (see RunNodeIfChild).
func WithNodeCommand(argv ...string) RunOption {
	return func(o *runner.Options) { o.NodeCommand = slices.Clone(argv) }
}

// WithLogger sends the harness's log to l as well as to the run's harness.log.
func WithLogger(l *slog.Logger) RunOption { return func(o *runner.Options) { o.Logger = l } }

// Result is a judged run: its verdict and why, each checker's result
// with typed anomalies, figures, what ran and where its files are. It is
// outcome.Result, the one result type the CLI, the matchers and the report
// share (results.json is its JSON); the zero Result is Unknown.
type Result = outcome.Result

// Anomaly is one thing a checker found wrong: its checker, kind, key, the
// events it points at, and a line of text.
type Anomaly = checkers.Anomaly

// Kind names a kind of anomaly (set.Lost, linearizable.NotLinearizable …).
type Kind = checkers.Kind

// Run runs t to the end and returns its result. A non-nil error means there
// is no verdict: a *exitcode.ConfigError (bad test: exit code 2) or a
// *exitcode.ClusterError (the cluster could not start: exit code 3).
// Cancelling ctx interrupts the run; what was recorded is still checked.
func Run(ctx context.Context, t Test, opts ...RunOption) (*Result, error) {
	return Start(ctx, t, opts...).Wait()
}

// Running is a run going on in the background.
type Running struct {
	cancel context.CancelFunc
	done   chan struct{}
	res    *Result
	err    error
	once   sync.Once
}

// Start begins t in the background. Wait for its result; Stop ends it
// early. Either way, when they return every node and proxy of the run is gone.
func Start(ctx context.Context, t Test, opts ...RunOption) *Running {
	ctx, cancel := context.WithCancel(ctx)
	r := &Running{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		defer cancel()
		r.res, r.err = run(ctx, t, opts)
	}()
	return r
}

// Wait blocks until the run has ended and its cluster is gone.
func (r *Running) Wait() (*Result, error) {
	<-r.done
	return r.res, r.err
}

// Stop interrupts the run if it is still going and waits until its cluster
// is gone. It is safe to call more than once and after Wait; suites hand it
// to DeferCleanup so a failed or timed-out spec never leaves nodes behind.
func (r *Running) Stop() {
	r.once.Do(r.cancel)
	<-r.done
}

func run(ctx context.Context, t Test, opts []RunOption) (*Result, error) {
	o := runner.Options{}
	for _, opt := range opts {
		opt(&o)
	}
	_, foreign := t.Impl.(systems.Foreign)
	if len(o.NodeCommand) == 0 && !foreign {
		cmd, err := defaultNodeCommand(t)
		if err != nil {
			return nil, &exitcode.ConfigError{Err: err}
		}
		o.NodeCommand = cmd
	}
	return runner.Run(ctx, t, o)
}
