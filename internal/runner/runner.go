package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/stats"
	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/outcome"
	"github.com/faultline/faultline/report"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/workloads"
)

// Options are how a run is carried out, as opposed to what it tests.
type Options struct {
	// NodeCommand runs one node: the program and leading arguments, to
	// which the runtime appends the node's flags. The CLI passes its own
	// executable and "node".
	NodeCommand []string
	// Logger receives the harness's log (the CLI's stderr); the run's
	// harness.log gets everything regardless.
	Logger *slog.Logger
	// Driver runs the cluster instead of a driver of Test.Runtime, and
	// test.json records its name (tests run over cluster/inmem).
	Driver cluster.Driver
}

// Healed is what the end-of-run check found; results.json records it.
type Healed = outcome.Healed

// Run runs t and stores its results: results.json, the checkers'
// artifacts and the report in the run dir. A non-nil error means there is
// no verdict: a *exitcode.ConfigError (bad test) or a *exitcode.ClusterError
// (the cluster could not start). Cancelling ctx interrupts the run: clients
// and nemesis stop, the cluster is torn down, and what was recorded is
// still checked.
func Run(ctx context.Context, t Test, opts Options) (*outcome.Result, error) {
	if t.Impl != nil && t.System == "" {
		t.System = t.Impl.Name()
	}
	if opts.Driver != nil && t.Runtime == opts.Driver.Name() {
		// A replay of a run over a given driver: test.json named it.
		t.Runtime = DefaultTest().Runtime
	}
	// The test first, so a bad one is refused (exit 2) before anything
	// is asked of the runtime.
	if _, err := Resolve(t); err != nil {
		return nil, err
	}
	// test.json records the runtime that actually runs, and which faults
	// it skipped for that runtime.
	d := opts.Driver
	if d != nil {
		t.Runtime = d.Name()
	} else {
		var err error
		if t.Runtime, err = resolveRuntime(ctx, t.Runtime); err != nil {
			return nil, err
		}
		d, _ = newDriver(t.Runtime)
	}
	res, err := resolveOn(t, d)
	if err != nil {
		return nil, err
	}
	if _, foreign := res.System.(systems.Foreign); !foreign && len(opts.NodeCommand) == 0 && opts.Driver == nil {
		return nil, &exitcode.ConfigError{Err: errors.New("no node command: the harness needs a program to run nodes with")}
	}
	t, err = withPlan(res.Test, res.Faults)
	if err != nil {
		return nil, &exitcode.ConfigError{Err: err}
	}
	res.Test = t
	// An interrupt while the test was resolved and its schedule laid out
	// stops here, before anything is written.
	if err := ctx.Err(); err != nil {
		return nil, &exitcode.ClusterError{Err: fmt.Errorf("interrupted before the run started: %w", err)}
	}
	r, err := newRun(res, opts)
	if err != nil {
		return nil, err
	}
	defer r.logFile.Close()
	return r.run(ctx, d)
}

// withPlan fills in what the faults decide: the plan and its steps,
// unless steps were given (a replay), and the nodes' storage mode.
func withPlan(t Test, faults []nemesis.Fault) (Test, error) {
	if t.Schedule == nil && len(faults) > 0 {
		if t.Plan == nil {
			p, err := DefaultPlan(t)
			if err != nil {
				return t, err
			}
			t.Plan = &p
		}
		ids := make([]int, t.Nodes)
		for i := range ids {
			ids[i] = i + 1
		}
		steps, err := nemesis.Expand(*t.Plan, t.Seed, faults, ids, t.TimeLimit.D())
		if err != nil {
			return t, fmt.Errorf("plan: %w", err)
		}
		if err := nemesis.CheckSchedule(steps, faults); err != nil {
			return t, fmt.Errorf("plan: %w", err)
		}
		t.Schedule = steps
	}
	if t.Storage == "" {
		t.Storage = systems.StorageDurable
		if nemesis.NeedsLazyStorage(faults) {
			t.Storage = systems.StorageLazy
		}
	}
	return t, nil
}

// DefaultPlan is the plan of a test that gives none: the seeded random
// schedule over its faults, or, when --nemesis names sequences, their
// rounds mixed with episodes of the other faults.
func DefaultPlan(t Test) (nemesis.Sched, error) {
	seqs, plain := nemesis.SplitSequences(t.Nemesis)
	if len(seqs) == 0 {
		return nemesis.RandomOver(t.NemesisInterval.D()), nil
	}
	names, err := nemesis.Default().Expand(plain)
	if err != nil {
		return nemesis.Sched{}, err
	}
	return nemesis.SequencePlan(seqs, names, t.NemesisInterval.D())
}

// newRun makes the run's directory with its test.json and harness.log.
func newRun(res *Resolved, opts Options) (*run, error) {
	t := res.Test
	label := fmt.Sprintf("%s-%s-s%d", t.System, t.Workload, t.Seed)
	dir, err := store.NewRun(t.ResultsDir, label, time.Now())
	if err != nil {
		return nil, &exitcode.ConfigError{Err: err}
	}
	if err := store.WriteJSON(dir, store.TestFile, t); err != nil {
		return nil, &exitcode.ConfigError{Err: err}
	}
	spec, err := outcome.ReadSpec(dir)
	if err != nil {
		return nil, &exitcode.InternalError{Err: err}
	}
	logFile, err := os.Create(filepath.Join(dir, store.HarnessLog))
	if err != nil {
		return nil, &exitcode.ConfigError{Err: fmt.Errorf("create harness log: %w", err)}
	}
	console := opts.Logger
	if console == nil {
		console = slog.New(slog.DiscardHandler)
	}
	log := slog.New(slog.NewMultiHandler(
		slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}),
		console.Handler(),
	)).With("run", filepath.Base(dir))
	return &run{res: res, t: t, spec: spec, dir: dir, log: log, logFile: logFile, opts: opts}, nil
}

type run struct {
	res     *Resolved
	t       Test
	spec    outcome.Spec // t as test.json holds it
	dir     string
	log     *slog.Logger
	logFile *os.File
	opts    Options

	cluster *cluster.Cluster
	client  systems.Client
	gen     workloads.Generator
	clients *clients // what client-pause stalls
	wopts   workloads.Options
	history historyFile // nil when it could not be created (histErr says why)
	histErr error
	rec     *history.Recorder
	nodes   []systems.Endpoint

	stop    context.CancelFunc // ends the run's phases early (a panic)
	panicMu sync.Mutex
	panic   *exitcode.InternalError // the first panic a guarded goroutine caught
}

// run is the path of one run: start the cluster, set up clients and the
// history, exercise the cluster under faults, close it, judge the history.
func (r *run) run(ctx context.Context, d cluster.Driver) (*outcome.Result, error) {
	if err := r.startCluster(ctx, d); err != nil {
		return nil, err
	}
	defer r.closeCluster()
	if err := r.setUp(); err != nil {
		return nil, err
	}
	// rctx ends with ctx (an interrupt) or when a guarded goroutine
	// panics; only ctx says whether the run was interrupted.
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	r.stop = stop
	results := r.exercise(rctx)
	interrupted := ctx.Err() != nil
	r.closeCluster()
	if histErr := r.closeHistory(); histErr != nil {
		r.log.Error("the history was not stored in full; the verdict will be unknown unless anomalies are found", "err", histErr)
		results.HistoryError = histErr.Error()
	}
	if p := r.caught(); p != nil {
		r.log.Error(p.Err.Error(), "stack", string(p.Stack))
		return nil, r.abort(p)
	}
	r.judge(ctx, results, interrupted)
	r.storeResults(results)
	r.log.Info("done", "valid", results.Verdict.String(), "dir", r.dir)
	return results, nil
}

// closeHistory ends the history file: fsynced, closed and its directory
// fsynced. It returns why history.jsonl misses events, if it does: it
// could not be created, a line could not be written (the recorder stops
// writing at the first error, so the file never has a hole), or the
// fsync or close failed. A directory that cannot be fsynced (the results
// dir removed mid-run) is only a warning: the history was written to the
// open file.
func (r *run) closeHistory() error {
	if r.history == nil {
		return r.histErr
	}
	err := r.rec.Err()
	if cerr := store.CloseDurably(r.history); err == nil {
		err = cerr
	}
	if err == nil {
		if derr := store.SyncDir(r.dir); derr != nil {
			r.log.Warn("the run dir could not be fsynced", "err", derr)
		}
	}
	return err
}

// guard, deferred at the top of a goroutine of the run, turns a panic in it
// into an internal error: the first one is kept (with its stack), the run's
// phases end, and Run returns it (exit 4) after tearing the cluster down.
func (r *run) guard(where string) {
	v := recover()
	if v == nil {
		return
	}
	r.panicMu.Lock()
	if r.panic == nil {
		r.panic = &exitcode.InternalError{Err: fmt.Errorf("internal error: panic in %s: %v", where, v), Stack: debug.Stack()}
	}
	r.panicMu.Unlock()
	if r.stop != nil {
		r.stop()
	}
}

// caught is the first panic guard caught, or nil.
func (r *run) caught() *exitcode.InternalError {
	r.panicMu.Lock()
	defer r.panicMu.Unlock()
	return r.panic
}

// abort stores a result without a verdict that says why the run stopped
// before its clients started, and returns err.
func (r *run) abort(err error) error {
	r.storeResults(&outcome.Result{Test: r.spec, RunDir: r.dir, Reason: err.Error()})
	return err
}

// startCluster starts the cluster on driver d; a failure is a
// *exitcode.ClusterError.
func (r *run) startCluster(ctx context.Context, d cluster.Driver) error {
	t := r.t
	r.log.Info("starting cluster", "system", t.System, "nodes", t.Nodes, "bugs", t.Bugs, "seed", t.Seed)
	spec := cluster.Spec{
		System: t.System, Nodes: t.Nodes, Bugs: t.Bugs, Storage: t.Storage, RunDir: r.dir,
		Command: r.opts.NodeCommand, Logger: r.log,
		Admin:        cluster.AdminOf(r.res.System),
		Addressing:   systems.AddressingOf(r.res.System),
		ReadyTimeout: t.StartTimeout.D(),
	}
	spec.Foreign, _ = r.res.System.(systems.Foreign)
	bound := StartBound(t, d.Name())
	c, err, stuck := startWithin(ctx, bound, spec, d)
	switch {
	case stuck:
		why := fmt.Sprintf("cluster start-up did not end within its bound of %s (start timeout %s + %s for the %s runtime to lay the cluster out) nor %s after it: something under it ignores its deadline",
			bound, cmp.Or(t.StartTimeout.D(), DefaultStartTimeout), startSlack(d.Name()), d.Name(), phaseGrace)
		r.dumpGoroutines(why)
		return r.abort(&exitcode.ClusterError{Err: fmt.Errorf("%s (goroutine dump in %s)", why, filepath.Join(r.dir, store.HarnessLog))})
	case err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		why := fmt.Sprintf("cluster did not come up within its start-up bound (start timeout %s per node, %s in all)", cmp.Or(t.StartTimeout.D(), DefaultStartTimeout), bound)
		r.dumpGoroutines(why)
		return r.abort(&exitcode.ClusterError{Err: fmt.Errorf("%s (goroutine dump in %s): %w", why, filepath.Join(r.dir, store.HarnessLog), err)})
	case err != nil:
		return r.abort(&exitcode.ClusterError{Err: fmt.Errorf("cluster did not come up: %w", err)})
	}
	r.cluster = c
	r.nodes = r.cluster.Nodes()
	return nil
}

func (r *run) closeCluster() {
	if err := r.cluster.Close(); err != nil {
		r.log.Warn("closing cluster", "err", err)
	}
}

// setUp makes the workload's client and generator and the history file.
func (r *run) setUp() error {
	t := r.t
	r.wopts = workloads.Options{
		Seed: t.Seed, Concurrency: t.Concurrency,
		Functions:    r.res.System.Workloads()[t.Workload],
		CheckTimeout: t.CheckTimeout.D(),
	}
	var err error
	r.client, err = r.res.System.NewClient(systems.ClientConfig{Workload: t.Workload, Nodes: r.nodes, Bugs: t.Bugs})
	if err != nil {
		// The test was checked; a client that cannot be made for a running
		// cluster is the system adapter failing (exit 3).
		return r.abort(&exitcode.ClusterError{Err: fmt.Errorf("system %s: client for workload %s: %w", t.System, t.Workload, err)})
	}
	r.gen = r.res.Workload.NewGenerator(r.wopts)
	r.clients = newClients(t.Concurrency)
	r.history, err = createHistory(filepath.Join(r.dir, store.HistoryFile))
	if err != nil {
		// The run goes on and is judged from memory (the results dir may
		// have been removed under it); its verdict says the history is
		// missing.
		r.history, r.histErr = nil, fmt.Errorf("create history: %w", err)
		r.log.Error("the history cannot be stored; the verdict will be unknown unless anomalies are found", "err", err)
	}
	return nil
}

// historyFile is what a run writes its history to: an *os.File, or in
// tests a file that fails.
type historyFile interface {
	io.Writer
	store.File
}

// createHistory creates a run's history file; tests replace it.
var createHistory = func(path string) (historyFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return f, nil
}

// exercise runs the clients and the nemesis for the time limit, then,
// unless the run was interrupted, recovers the cluster and reads its final
// state. It returns the recovery's part of the results.
func (r *run) exercise(ctx context.Context) *outcome.Result {
	t := r.t
	start := time.Now()
	var w io.Writer = io.Discard // no history file: events are kept in memory only
	if r.history != nil {
		w = r.history
	}
	r.rec = history.NewRecorder(w, start)
	r.log.Info("running", "time_limit", t.TimeLimit.D(), "concurrency", t.Concurrency, "rate", t.Rate, "faults", t.Nemesis)
	nem := &nemesis.Runner{
		Cluster: withClients{r.cluster, r.clients}, Faults: r.res.Faults, Steps: t.Schedule,
		History: r.rec, Logger: r.log, StepTimeout: t.RecoveryTimeout.D(),
	}
	stopWatch := r.watchMembership(ctx)
	defer stopWatch()
	r.drive(ctx, start, nem)
	results := &outcome.Result{Test: r.spec, RunDir: r.dir}
	if ctx.Err() != nil {
		return results
	}
	h := r.recoverWithin(ctx, nem)
	ok := h.OK()
	results.Recovered, results.Healed = &ok, &h
	if s, settles := r.res.Workload.(workloads.Settler); ok && t.FinalReads && settles {
		r.settleReads(ctx, s.Settle())
	} else if ok && t.FinalReads {
		r.finalReads(ctx)
	}
	return results
}

// judge checks the history and settles the verdict and its reason
// (outcome.Result.Judge). A run interrupted earlier is still judged on
// what it recorded, within a short budget; otherwise a Ctrl-C now cuts the
// check short, and the checkers say unknown.
func (r *run) judge(ctx context.Context, results *outcome.Result, interrupted bool) {
	t := r.t
	events := r.rec.Events()
	cctx, cancel := context.WithTimeout(ctx, t.CheckTimeout.D())
	if interrupted {
		cctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), min(t.CheckTimeout.D(), 30*time.Second))
	}
	defer cancel()
	r.log.Info("checking", "events", len(events), "time_limit", t.CheckTimeout.D())
	results.Checkers = checkers.Run(cctx, r.res.Workload.Checkers(r.wopts), events)
	results.Stats = stats.Compute(events)
	results.Interrupted = interrupted || ctx.Err() != nil
	// Checkers only return their artifacts; the run dir is where they go.
	if err := store.WriteArtifacts(r.dir, results.Checkers); err != nil {
		r.log.Warn("writing checker artifacts", "err", err)
	}
	results.Judge()
}

// storeResults writes results.json and the report. A run that ended
// before its history was judged stores an unknown verdict with the reason.
func (r *run) storeResults(res *outcome.Result) {
	if res.Checkers == nil {
		res.Checkers = checkers.Results{}
	}
	if err := store.WriteJSON(r.dir, store.ResultsFile, res); err != nil {
		// The verdict stands and is returned (the CLI prints it and exits
		// with its code); only its copy on disk is missing.
		r.log.Warn("results.json not stored; the verdict stands", "err", err)
	}
	// Not ctx: an interrupted run still gets its page (bounded in report).
	report.Publish(context.Background(), r.dir, r.log)
}

// drive runs the clients and the nemesis until the time limit or ctx ends.
func (r *run) drive(ctx context.Context, start time.Time, nem *nemesis.Runner) {
	t := r.t
	runCtx, cancel := context.WithDeadline(ctx, start.Add(t.TimeLimit.D()))
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		defer r.guard("the nemesis")
		nem.Run(runCtx, start)
	})
	for w := range t.Concurrency {
		wg.Go(func() {
			defer r.guard(fmt.Sprintf("client worker %d", w))
			rng := rand.New(rand.NewPCG(t.Seed, uint64(1000+w)))
			pace := newPacer(t.Rate/float64(t.Concurrency), rng, time.Now())
			next := r.gen.Next
			var sess workloads.Session
			if s, ok := r.gen.(workloads.Sessioner); ok {
				sess = r.clients.session(w, s.Session(w))
				next = sess.Next
			}
			process := w
			for pace.wait(runCtx) {
				op := next()
				// client-pause stalls a worker here: its next operation is
				// decided, not yet sent.
				r.clients.wait(runCtx, w)
				node := r.nodes[rng.IntN(len(r.nodes))]
				typ, value := r.invokeValue(ctx, process, node, op)
				if sess != nil {
					sess.Done(op, typ, value)
				}
				if typ == history.Info {
					// The op may still be in flight: this worker goes on
					// as a new process, so no process does two things at once.
					process += t.Concurrency
				}
			}
		})
	}
	wg.Wait()
}

// invoke records op's invoke, runs it, records its completion and returns
// the completion type. ctx is the run's context: ending it cuts the op
// short (an info outcome).
func (r *run) invoke(ctx context.Context, process int, node systems.Endpoint, op systems.Op) history.Type {
	t, _ := r.invokeValue(ctx, process, node, op)
	return t
}

// invokeValue is invoke that also returns the value of an ok read.
func (r *run) invokeValue(ctx context.Context, process int, node systems.Endpoint, op systems.Op) (history.Type, any) {
	inv := history.Event{Process: process, Type: history.Invoke, F: op.F, Key: op.Key, Value: op.Value, Node: node.Name}
	r.rec.Record(inv)
	octx, cancel := context.WithTimeout(ctx, r.t.OpTimeout.D())
	c := r.client.Invoke(octx, node, op)
	cancel()
	if !c.Type.Valid() || c.Type == history.Invoke {
		c = systems.Completion{Type: history.Info, Error: fmt.Sprintf("client returned bad completion type %q", c.Type)}
	}
	done := history.Event{Process: process, Type: c.Type, F: op.F, Key: op.Key, Value: op.Value, Node: node.Name, Error: c.Error}
	switch {
	case op.F == history.OpRead:
		done.Value = nil
		if c.Type == history.OK {
			done.Value = c.Value
		}
	case c.Value != nil:
		done.Value = c.Value // what the operation returned (an acquire's token)
	}
	if c.Node != "" {
		done.Node = c.Node
	}
	r.rec.Record(done)
	return c.Type, done.Value
}

// recover undoes every fault, waits for all nodes to be healthy, then
// checks that every link is healed and every node up. The whole of it is
// one nemesis "recover" in the history, so a reader sees where the faults
// really ended even if a scheduled stop failed.
func (r *run) recover(ctx context.Context, nem *nemesis.Runner) (h Healed) {
	rctx, cancel := context.WithTimeout(ctx, r.t.RecoveryTimeout.D())
	defer cancel()
	r.log.Info("recovering: stopping faults, healing, restarting nodes")
	nem.StopAll(rctx)
	r.rec.Record(history.Event{Process: history.NemesisProcess, Type: history.Invoke, F: history.Recover})
	defer func() {
		ok := h.OK()
		done := history.Event{Process: history.NemesisProcess, Type: history.Info, F: history.Recover,
			Value: map[string]any{"healthy": ok, "links_healed": h.LinksHealed, "nodes_up": h.NodesUp}}
		if !ok {
			done.Error = fmt.Sprintf("not healed within %s: link faults left %v, nodes down %v", r.t.RecoveryTimeout.D(), h.LinkFaults, h.Down)
		}
		r.rec.Record(done)
	}()
	if err := r.cluster.Heal(rctx); err != nil {
		r.log.Error("heal", "err", err)
	}
	for _, n := range r.nodes {
		if err := r.cluster.Resume(rctx, n.ID); err != nil {
			r.log.Warn("resume", "node", n.Name, "err", err)
		}
		if err := r.cluster.Start(rctx, n.ID); err != nil {
			r.log.Error("restart", "node", n.Name, "err", err)
		}
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		h = checkHealed(rctx, r.cluster, r.nodes, r.log)
		if h.NodesUp == h.Nodes || rctx.Err() != nil {
			break
		}
		select {
		case <-rctx.Done():
		case <-tick.C:
		}
	}
	if h.NodesUp == h.Nodes && h.LinksHealed {
		r.log.Info("cluster healthy: every node up, every link healed")
	} else {
		r.log.Error("cluster did not recover", "nodes_up", h.NodesUp, "nodes", h.Nodes, "down", h.Down, "link_faults", h.LinkFaults)
	}
	return h
}

// checkHealed asks every node whether it is ready and the mesh what still
// disturbs it, once. A ready node whose clock is still skewed (a clock
// fault's stop failed, say while the node was paused) is set back to true
// time.
func checkHealed(ctx context.Context, c *cluster.Cluster, nodes []systems.Endpoint, log *slog.Logger) Healed {
	h := Healed{Nodes: len(nodes)}
	for _, n := range nodes {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := c.Status(sctx, n.ID)
		cancel()
		if err != nil || !st.Ready {
			h.Down = append(h.Down, n.Name)
			continue
		}
		h.NodesUp++
		if st.ClockOffsetNS != 0 {
			if err := c.SetClock(ctx, n.ID, 0); err != nil {
				log.Warn("reset clock", "node", n.Name, "err", err)
			}
		}
	}
	faults, err := c.LinkFaults(ctx)
	if err != nil {
		faults = []string{"cannot tell: " + err.Error()}
	}
	h.LinkFaults, h.LinksHealed = faults, len(faults) == 0
	return h
}

// finalReads reads every key once after recovery, on fresh processes, so
// the history ends with the cluster's settled state.
func (r *run) finalReads(ctx context.Context) {
	keys := r.gen.Keys()
	r.log.Info("final reads", "keys", len(keys))
	base := r.maxProcess() + 1
	work := make(chan int)
	var wg sync.WaitGroup
	for w := range r.t.Concurrency {
		wg.Go(func() {
			defer r.guard(fmt.Sprintf("final-read worker %d", w))
			process := base + w
			for i := range work {
				node := r.nodes[(i+w)%len(r.nodes)]
				if r.invoke(ctx, process, node, systems.Op{F: history.OpRead, Key: keys[i]}) == history.Info {
					process += r.t.Concurrency
				}
			}
		})
	}
	for i := range keys {
		select {
		case work <- i:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
}

func (r *run) maxProcess() int {
	m := 0
	for _, e := range r.rec.Events() {
		m = max(m, e.Process)
	}
	return m
}

// pacer spaces one worker's operations as a Poisson process: the gaps are
// exponentially distributed with the worker's share of the total rate.
// Evenly spaced operations (a token bucket) almost never overlap when each
// takes a millisecond, and overlap is where anomalies live; random arrivals
// at the same average rate give the overlap real clients have.
type pacer struct {
	mean time.Duration // 0: no pacing
	rng  *rand.Rand
	next time.Time
}

func newPacer(perSecond float64, rng *rand.Rand, start time.Time) *pacer {
	p := &pacer{rng: rng, next: start}
	if perSecond > 0 {
		p.mean = time.Duration(float64(time.Second) / perSecond)
	}
	return p
}

// wait blocks until the next operation is due and reports whether ctx is
// still live. A worker that falls behind (slow operations) catches up by
// not waiting (up to a second's worth), so the average rate holds while
// the cluster keeps up.
func (p *pacer) wait(ctx context.Context) bool {
	if p.mean > 0 {
		// Catch up at most one second: after a partition stalled the
		// worker, a burst of everything it missed would not be realistic.
		if now := time.Now(); now.Sub(p.next) > time.Second {
			p.next = now
		}
		p.next = p.next.Add(time.Duration(p.rng.ExpFloat64() * float64(p.mean)))
		if d := time.Until(p.next); d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return false
			case <-t.C:
			}
		}
	}
	return ctx.Err() == nil
}
