// Package faultline is the Go API for chaos tests: build a Test from a
// system, its workload, faults, time limit, seed and bugs; Run it; read the
// Result — verdict, anomalies, run dir and HTML report. The faultline CLI
// and the Ginkgo suites under suites/ use this API; so can a suite in any
// other repository (see README, "faultline in your own Ginkgo suite").
//
//	func TestMain(m *testing.M) {
//		faultline.RunNodeIfChild() // this binary also serves as a cluster node
//		os.Exit(m.Run())
//	}
//
//	res, err := faultline.Run(ctx, faultline.New("raft",
//		faultline.Nemesis("partition", "kill"), faultline.TimeLimit(20*time.Second), faultline.Seed(1)))
package faultline

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/stats"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/runner"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/report"
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
const ReportFile = report.File

// Option sets one field of a Test.
type Option func(*Test)

// New returns a test of system with every default filled in (the CLI's
// defaults: register workload, partition and kill faults, 5 nodes, 30 s, the
// process runtime) and opts applied in order. Nothing is checked until Run.
func New(system string, opts ...Option) Test {
	t := runner.DefaultTest()
	t.System = system
	for _, o := range opts {
		o(&t)
	}
	return t
}

// Workload sets what clients do (register, set, counter, …).
func Workload(name string) Option { return func(t *Test) { t.Workload = name } }

// Nemesis sets the faults: families (partition, link, kill, pause, clock,
// power-loss), members (partition-bridge, kill:leader …), "all", or "none"
// for no faults. `faultline list` names every fault.
func Nemesis(faults ...string) Option {
	return func(t *Test) { t.Nemesis = slices.Clone(faults) }
}

// Grudge sets the custom grudge of the partition-grudge fault: node -> the
// nodes whose messages it does not hear. nemesis.ParseGrudge reads the
// CLI's forms.
func Grudge(g map[int][]int) Option { return func(t *Test) { t.Grudge = g } }

// Replay returns the test stored in run dir dir, to Run again with the same
// configuration, seed and fault schedule (leader targets pinned as the
// original history recorded them).
func Replay(dir string) (Test, error) { return runner.LoadReplay(dir) }

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

// Result is a finished run.
type Result struct {
	Test    Test
	Verdict Verdict
	// Reason says why the verdict is what it is ("anomalies found", "a
	// checker could not decide", …).
	Reason   string
	Checkers map[string]checkers.Result
	Stats    stats.Stats
	// RunDir is results/<run-id>: test.json, history.jsonl, results.json, logs.
	RunDir string
	// Interrupted is set when the run was stopped before its time limit.
	Interrupted bool
}

// ReportPath is the run's HTML report, or "" when the run has none.
func (r *Result) ReportPath() string {
	p := filepath.Join(r.RunDir, ReportFile)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// ExitCode is the CLI's exit code for the result: 0 valid, 1 invalid, 3 unknown.
func (r *Result) ExitCode() int {
	switch r.Verdict {
	case Valid:
		return 0
	case Invalid:
		return 1
	default:
		return 3
	}
}

// Anomaly is one thing a checker found wrong.
type Anomaly struct {
	Checker string // the checker that found it: linearizable, set, counter, …
	Text    string
}

func (a Anomaly) String() string { return a.Checker + ": " + a.Text }

// Anomalies lists every anomaly, by checker name, in the checker's order.
func (r *Result) Anomalies() []Anomaly {
	var out []Anomaly
	for _, name := range r.CheckerNames() {
		for _, text := range r.Checkers[name].Anomalies {
			out = append(out, Anomaly{Checker: name, Text: text})
		}
	}
	return out
}

// HasAnomaly reports whether the run found an anomaly of the kind: one
// found by a checker of that name ("linearizable", "set"), or one whose
// text has the kind as a word ("lost" matches "3 acknowledged elements lost").
func (r *Result) HasAnomaly(kind string) bool {
	if r.Checkers[kind].Valid == Invalid {
		return true
	}
	word := regexp.MustCompile(`(^|\W)` + regexp.QuoteMeta(kind) + `(\W|$)`)
	for _, a := range r.Anomalies() {
		if a.Checker == kind || word.MatchString(a.Text) {
			return true
		}
	}
	return false
}

// CheckerNames lists the checkers that judged the run, sorted.
func (r *Result) CheckerNames() []string {
	names := make([]string, 0, len(r.Checkers))
	for n := range r.Checkers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Describe is a readable account of the result: verdict and reason, each
// checker's verdict with its anomalies (the first maxAnomalies of each) and
// files, then where the report and run dir are. Matchers print it.
func (r *Result) Describe(maxAnomalies int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", r.Verdict)
	if r.Reason != "" {
		fmt.Fprintf(&b, ": %s", r.Reason)
	}
	fmt.Fprintf(&b, "\n  test: system %s, workload %s, nemesis %s, bugs %s, %d nodes, %s, runtime %s, seed %d\n",
		r.Test.System, r.Test.Workload, listOr(r.Test.Nemesis, "none"), listOr(r.Test.Bugs, "none"),
		r.Test.Nodes, r.Test.TimeLimit.D(), r.Test.Runtime, r.Test.Seed)
	for _, name := range r.CheckerNames() {
		c := r.Checkers[name]
		fmt.Fprintf(&b, "  checker %s: %s", name, c.Valid)
		if c.Reason != "" {
			fmt.Fprintf(&b, " (%s)", c.Reason)
		}
		b.WriteString("\n")
		for i, a := range c.Anomalies {
			if i == maxAnomalies {
				fmt.Fprintf(&b, "    … and %d more\n", len(c.Anomalies)-i)
				break
			}
			fmt.Fprintf(&b, "    %s\n", a)
		}
		for _, f := range c.Files {
			fmt.Fprintf(&b, "    see %s\n", filepath.Join(r.RunDir, f))
		}
	}
	if p := r.ReportPath(); p != "" {
		fmt.Fprintf(&b, "  report: %s\n", p)
	}
	fmt.Fprintf(&b, "  run dir: %s", r.RunDir)
	return b.String()
}

func listOr(xs []string, none string) string {
	if len(xs) == 0 {
		return none
	}
	return strings.Join(xs, ",")
}

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
	if len(o.NodeCommand) == 0 {
		cmd, err := defaultNodeCommand()
		if err != nil {
			return nil, &exitcode.ConfigError{Err: err}
		}
		o.NodeCommand = cmd
	}
	out, err := runner.Run(ctx, t, o)
	if err != nil {
		return nil, err
	}
	// test.json holds the test as run, with its schedule; reading it back
	// gives the caller what really ran rather than what was asked.
	ran := t
	if rerr := store.ReadJSON(out.RunDir, store.TestFile, &ran); rerr != nil {
		return nil, fmt.Errorf("read back the run's test: %w", rerr)
	}
	return &Result{
		Test: ran, Verdict: out.Results.Valid, Reason: out.Results.Reason,
		Checkers: out.Results.Checkers, Stats: out.Results.Stats,
		RunDir: out.RunDir, Interrupted: out.Results.Interrupted,
	}, nil
}
