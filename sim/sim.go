// Package sim is faultline's deterministic simulator: it runs the protocol
// cores of the included systems (systems.Simulated) in one goroutine, with
// simulated time, a simulated network and simulated disks, drives the same
// workloads through simulated clients while faults strike, and records the
// same history a real run records. A run is a pure function of its Config:
// the same seed gives a byte-identical history, so any failure replays
// exactly.
//
// What it models: per-message delay (and so reordering), loss and
// duplication; partitions of the nemesis's shapes; kills (unsynced writes
// survive, as in the page cache), power losses (unsynced writes are lost),
// pauses (a paused node holds its input until resumed); clients with
// timeouts that follow redirects. What it does not: real sockets, real
// fsync and file systems, the HTTP APIs and the real binary, clock skew,
// and the timing of a loaded machine. Those are what real runs test.
package sim

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/bounds"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/simdisk"
	"github.com/faultline/faultline/systems/registry"
	"github.com/faultline/faultline/workloads"
)

// Config is one simulation. Durations are simulated time.
type Config struct {
	System   string   `json:"system"`
	Workload string   `json:"workload"`
	Bugs     []string `json:"bugs,omitempty"`
	Nodes    int      `json:"nodes"`
	Seed     uint64   `json:"seed"`
	// Steps is how many client operations to invoke; 0: until TimeLimit.
	Steps int `json:"steps"`
	// TimeLimit bounds the client phase; 0: until Steps.
	TimeLimit   time.Duration `json:"time_limit"`
	Concurrency int           `json:"concurrency"`
	// Rate is the clients' operations per simulated second, together.
	Rate      float64       `json:"rate"`
	OpTimeout time.Duration `json:"op_timeout"`
	// Faults are the fault kinds struck, one at a time: partition,
	// partition-SHAPE, kill, pause, power-loss (and -TARGET variants),
	// figure8. Empty: none (the network still delays, drops and
	// duplicates).
	Faults        []string      `json:"faults,omitempty"`
	FaultInterval time.Duration `json:"fault_interval"`
	// MaxFaults caps the fault episodes (0: no cap); shrinking lowers it.
	MaxFaults int `json:"max_faults,omitempty"`
	Net       Net `json:"net"`
}

// Net is the simulated network's behaviour on every link.
type Net struct {
	MinDelay time.Duration `json:"min_delay"`
	MaxDelay time.Duration `json:"max_delay"`
	Drop     float64       `json:"drop"`
	Dup      float64       `json:"dup"`
}

// DefaultConfig is a 5-node quorum register simulation with partitions and
// kills: the defaults of `faultline sim`.
func DefaultConfig() Config {
	return Config{
		System: "quorum", Nodes: 5, Seed: 1, Steps: 2000, Concurrency: 5, Rate: 100,
		OpTimeout: 2 * time.Second, Faults: []string{"partition", "kill"}, FaultInterval: time.Second,
		Net: Net{MinDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond, Drop: 0.005, Dup: 0.005},
	}
}

// Result is what one simulation did.
type Result struct {
	Config Config
	Events []history.Event
	// SimTime is the simulated time the run took; Ops the client
	// operations completed; Faults the fault episodes started; Events
	// the scheduler events run.
	SimTime   time.Duration
	Ops       int
	Faults    int
	SimEvents uint64
}

// clientDelay is a client's one-way latency to a node (clients do not go
// through the simulated network, as real clients do not go through the
// mesh).
const clientDelay = 200 * time.Microsecond

// recoverFor is how long the healed cluster runs before the final reads.
const recoverFor = 2 * time.Second

// maxAttempts bounds how often a client follows redirects, as the real
// clients do.
const maxAttempts = 5

// noLeaderBackoff is how long a client waits before asking again when no
// leader is known.
const noLeaderBackoff = 50 * time.Millisecond

// Validate checks c and fills defaults: the system's first workload, at
// least its minimum nodes. Errors name what was wrong and what is allowed.
func (c *Config) Validate() (systems.Simulated, workloads.Workload, error) {
	sys, err := registry.Default().Get(c.System)
	if err != nil {
		return nil, nil, err
	}
	simd, ok := sys.(systems.Simulated)
	if !ok {
		return nil, nil, fmt.Errorf("system %s cannot be simulated", c.System)
	}
	if err := systems.CheckBugs(sys, c.Bugs); err != nil {
		return nil, nil, err
	}
	served := sys.Workloads()
	if c.Workload == "" {
		c.Workload = slices.Sorted(maps.Keys(served))[0]
		if _, ok := served["register"]; ok {
			c.Workload = "register"
		}
	}
	if _, ok := served[c.Workload]; !ok {
		return nil, nil, fmt.Errorf("system %s does not serve workload %q (serves: %s)", c.System, c.Workload, strings.Join(slices.Sorted(maps.Keys(served)), ", "))
	}
	wl, err := workloads.Default().Get(c.Workload)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := wl.NewGenerator(workloads.Options{Seed: 1, Concurrency: 1, Functions: served[c.Workload]}).(workloads.Sessioner); ok {
		return nil, nil, fmt.Errorf("workload %s runs client sessions, which the simulator does not model (simulated: counter, register, set)", c.Workload)
	}
	switch {
	case c.Nodes < sys.MinNodes() && c.Nodes >= bounds.Nodes.Min:
		return nil, nil, fmt.Errorf("--nodes %d: system %s needs at least %d", c.Nodes, c.System, sys.MinNodes())
	case c.Steps == 0 && c.TimeLimit == 0:
		return nil, nil, errors.New("give steps or a time limit (or both)")
	case c.Net.MaxDelay < c.Net.MinDelay:
		return nil, nil, fmt.Errorf("network delay %s..%s: want --min-delay <= --max-delay", c.Net.MinDelay, c.Net.MaxDelay)
	}
	// The same bounds as faultline sim's --help (internal/bounds).
	errs := []error{
		bounds.Nodes.Check(c.Nodes),
		bounds.SimSteps.Check(c.Steps),
		bounds.SimTimeLimit.Check(c.TimeLimit),
		bounds.Concurrency.Check(c.Concurrency),
		bounds.SimRate.Check(c.Rate),
		bounds.SimOpTimeout.Check(c.OpTimeout),
		bounds.SimMaxFaults.Check(c.MaxFaults),
		bounds.SimDelay.Named("min-delay").Check(c.Net.MinDelay),
		bounds.SimDelay.Named("max-delay").Check(c.Net.MaxDelay),
		bounds.SimProbability.Named("drop").Check(c.Net.Drop),
		bounds.SimProbability.Named("dup").Check(c.Net.Dup),
	}
	if len(c.Faults) > 0 {
		errs = append(errs, bounds.SimFaultInterval.Check(c.FaultInterval))
	}
	if err := bounds.First(errs...); err != nil {
		return nil, nil, err
	}
	for _, f := range c.Faults {
		if err := checkFault(f, sys); err != nil {
			return nil, nil, err
		}
	}
	return simd, wl, nil
}

// Run runs one simulation to its end.
func Run(c Config) (*Result, error) {
	sys, wl, err := c.Validate()
	if err != nil {
		return nil, err
	}
	w := newWorld(c, sys, wl)
	if err := w.run(); err != nil {
		return nil, err
	}
	return &Result{Config: w.cfg, Events: w.events, SimTime: w.s.now, Ops: w.completed, Faults: w.faultCount, SimEvents: w.s.ran}, nil
}

// world is one simulation's state. Only its goroutine touches it.
type world struct {
	cfg Config
	sys systems.Simulated
	wl  workloads.Workload
	gen workloads.Generator
	s   scheduler
	// Separate streams, so that e.g. the faults do not shift the
	// network's draws when the clients change.
	netRng, faultRng, clientRng *rand.Rand
	nodes                       []*slot
	ids                         []int
	blocked                     map[[2]int]bool // (from, to): cut
	events                      []history.Event
	err                         error

	invoked, completed, open int
	clientsDone              bool
	nextProcess              int
	faultCount               int
	faults                   *faulter
}

// slot is one node's place in the cluster: its disk outlives its lives.
type slot struct {
	id     int
	name   string
	disk   *simdisk.Disk
	n      systems.SimNode // nil while down
	life   int             // bumped on every start: older lives' timers and messages die
	paused bool
	held   []func() // input that arrived while paused
	// members is the membership view last recorded.
	members map[string]string
}

func newWorld(c Config, sys systems.Simulated, wl workloads.Workload) *world {
	w := &world{
		cfg: c, sys: sys, wl: wl,
		netRng:    rand.New(rand.NewPCG(c.Seed, 1)),
		faultRng:  rand.New(rand.NewPCG(c.Seed, 2)),
		clientRng: rand.New(rand.NewPCG(c.Seed, 3)),
		blocked:   map[[2]int]bool{},
	}
	w.gen = wl.NewGenerator(workloads.Options{Seed: c.Seed, Concurrency: c.Concurrency, Functions: sys.Workloads()[c.Workload]})
	for id := 1; id <= c.Nodes; id++ {
		w.ids = append(w.ids, id)
		w.nodes = append(w.nodes, &slot{id: id, name: systems.NodeName(id), disk: simdisk.New()})
	}
	return w
}

func (w *world) slot(id int) *slot { return w.nodes[id-1] }

func (w *world) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// run: start the nodes, the clients and the faults; when the clients are
// done, heal everything, let the cluster recover, and read the final state.
func (w *world) run() error {
	for _, id := range w.ids {
		w.start(id)
	}
	w.faults = newFaulter(w)
	w.faults.schedule()
	w.s.after(0, w.watchMembership)
	for i := range w.cfg.Concurrency {
		w.nextProcess = max(w.nextProcess, i+1)
		w.s.after(w.pace(), func() { w.nextOp(i) })
	}
	const horizon = time.Duration(1<<62 - 1)
	for w.err == nil && !(w.clientsDone && w.open == 0) && w.s.step(horizon) {
	}
	if w.err != nil {
		return w.err
	}
	w.faults.healAll()
	w.runFor(recoverFor)
	if s, ok := w.wl.(workloads.Settler); ok {
		w.settleReads(s.Settle())
	} else {
		w.finalReads()
	}
	return w.err
}

// membershipPoll is how often the membership views are read, as the
// runner's monitor does.
const membershipPoll = 150 * time.Millisecond

// watchMembership records each running node's membership view when it
// changes, as an observer event (systems without one report nil).
func (w *world) watchMembership() {
	for _, sl := range w.nodes {
		if sl.n == nil || sl.paused {
			continue
		}
		m := sl.n.Members()
		if m == nil || maps.Equal(m, sl.members) {
			continue
		}
		sl.members = m
		w.record(history.Event{Process: history.ObserverProcess, Type: history.Info, F: history.Membership, Node: sl.name, Value: m})
	}
	w.s.after(membershipPoll, w.watchMembership)
}

// runFor runs the world for d of simulated time.
func (w *world) runFor(d time.Duration) {
	until := w.s.now + d
	for w.err == nil && w.s.step(until) {
	}
	w.s.now = max(w.s.now, until)
}

// --- nodes ---

type env struct {
	w    *world
	id   int
	life int
}

func (e env) Send(to int, msg any) { e.w.send(e.id, to, msg) }
func (e env) Now() time.Duration   { return e.w.s.now }

// start starts a node (again) on its disk, and its ticks at a random
// phase.
func (w *world) start(id int) {
	sl := w.slot(id)
	sl.life++
	var peers []int
	for _, p := range w.ids {
		if p != id {
			peers = append(peers, p)
		}
	}
	cfg := systems.SimConfig{
		ID: id, Name: sl.name, Peers: peers, Bugs: w.cfg.Bugs, Workload: w.cfg.Workload, Disk: sl.disk,
		Rand: rand.New(rand.NewPCG(w.cfg.Seed, uint64(100+id)<<32|uint64(sl.life))),
	}
	n, err := w.sys.NewSimNode(cfg, env{w: w, id: id, life: sl.life})
	if err != nil {
		w.fail(fmt.Errorf("start %s: %w", sl.name, err))
		return
	}
	sl.n, sl.paused, sl.held = n, false, nil
	life := sl.life
	w.s.after(time.Duration(w.netRng.Int64N(int64(n.TickInterval()))), func() { w.tick(id, life) })
}

func (w *world) tick(id, life int) {
	sl := w.slot(id)
	if sl.n == nil || sl.life != life {
		return
	}
	if sl.paused {
		// Resume restarts the ticks.
		return
	}
	sl.n.Tick()
	w.s.after(sl.n.TickInterval(), func() { w.tick(id, life) })
}

// kill stops a node; with powerLoss its unsynced writes are gone too.
func (w *world) kill(id int, powerLoss bool) {
	sl := w.slot(id)
	if sl.n == nil {
		return
	}
	sl.n, sl.paused, sl.held = nil, false, nil
	if powerLoss {
		sl.disk.PowerLoss()
	}
}

func (w *world) pause(id int) {
	if sl := w.slot(id); sl.n != nil {
		sl.paused = true
	}
}

func (w *world) resume(id int) {
	sl := w.slot(id)
	if sl.n == nil || !sl.paused {
		return
	}
	sl.paused = false
	held := sl.held
	sl.held = nil
	for _, f := range held {
		f()
	}
	life := sl.life
	w.s.after(0, func() { w.tick(id, life) })
}

// --- network ---

// send puts msg on the link from -> to: lost when the link is cut or by
// chance, else delivered after a random delay (so messages reorder),
// sometimes twice. A message for a node that restarts before it arrives is
// lost with the old connection.
func (w *world) send(from, to int, msg any) {
	if to < 1 || to > len(w.nodes) || w.blocked[[2]int{from, to}] {
		return
	}
	nc := w.cfg.Net
	if nc.Drop > 0 && w.netRng.Float64() < nc.Drop {
		return
	}
	copies := 1
	if nc.Dup > 0 && w.netRng.Float64() < nc.Dup {
		copies = 2
	}
	life := w.slot(to).life
	for range copies {
		d := nc.MinDelay
		if nc.MaxDelay > nc.MinDelay {
			d += time.Duration(w.netRng.Int64N(int64(nc.MaxDelay - nc.MinDelay + 1)))
		}
		w.s.after(d, func() { w.deliver(from, to, life, msg) })
	}
}

func (w *world) deliver(from, to, life int, msg any) {
	sl := w.slot(to)
	if sl.n == nil || sl.life != life || w.blocked[[2]int{from, to}] {
		return
	}
	if sl.paused {
		sl.held = append(sl.held, func() { w.deliver(from, to, life, msg) })
		return
	}
	sl.n.Deliver(from, msg)
}

// --- clients ---

// pace is the wait before a client's next operation: exponential, so the
// clients together run Rate operations per simulated second.
func (w *world) pace() time.Duration {
	mean := float64(time.Second) * float64(w.cfg.Concurrency) / w.cfg.Rate
	return time.Duration(w.clientRng.ExpFloat64() * mean)
}

func (w *world) clientPhaseOver() bool {
	return (w.cfg.Steps > 0 && w.invoked >= w.cfg.Steps) || (w.cfg.TimeLimit > 0 && w.s.now >= w.cfg.TimeLimit)
}

// nextOp starts worker i's next operation, as process proc.
func (w *world) nextOp(worker int) { w.nextOpAs(worker, worker) }

func (w *world) nextOpAs(worker, process int) {
	if w.clientPhaseOver() {
		w.clientsDone = true
		return
	}
	op := w.gen.Next()
	node := w.ids[w.clientRng.IntN(len(w.ids))]
	w.invoked++
	w.invoke(process, node, op, func(t history.Type) {
		if t == history.Info {
			// The op may still take effect: go on as a new process.
			process += w.cfg.Concurrency
		}
		w.s.after(w.pace(), func() { w.nextOpAs(worker, process) })
	})
}

// invoke records op's invocation by process at node, runs it (following
// redirects) and records its completion, then calls then.
func (w *world) invoke(process, node int, op systems.Op, then func(history.Type)) {
	w.record(history.Event{Process: process, Type: history.Invoke, F: op.F, Key: op.Key, Value: op.Value, Node: w.slot(node).name})
	w.open++
	asked := w.slot(node).name
	done := false
	finish := func(c systems.Completion) {
		if done {
			return
		}
		done = true
		w.open--
		w.completed++
		// As the runner records it: a read's value only when it is OK,
		// the node that finally served the op.
		e := history.Event{Process: process, Type: c.Type, F: op.F, Key: op.Key, Value: op.Value, Node: asked, Error: c.Error}
		if op.F == history.OpRead {
			e.Value = nil
			if c.Type == history.OK {
				e.Value = c.Value
			}
		}
		if c.Node != "" {
			e.Node = c.Node
		}
		w.record(e)
		if then != nil {
			then(c.Type)
		}
	}
	w.s.after(w.cfg.OpTimeout, func() {
		finish(systems.Completion{Type: history.Info, Error: "timed out: outcome unknown"})
	})
	var attempt func(target, left int)
	attempt = func(target, left int) {
		w.s.after(clientDelay, func() {
			if done {
				return
			}
			sl := w.slot(target)
			life := sl.life
			call := func() {
				if sl.n == nil || sl.life != life {
					return // died with the request: the client times out
				}
				sl.n.Invoke(op, func(r systems.SimReply) {
					w.s.after(clientDelay, func() {
						if done {
							return
						}
						if !r.Retry {
							if sl.name != asked {
								r.Node = sl.name
							}
							finish(r.Completion)
							return
						}
						if left <= 1 {
							finish(systems.Failed("no leader after %d attempts", maxAttempts))
							return
						}
						if next, ok := w.idOf(r.Redirect); ok && next != target {
							attempt(next, left-1)
							return
						}
						w.s.after(noLeaderBackoff, func() { attempt(node, left-1) })
					})
				})
			}
			switch {
			case sl.n == nil:
				// Connection refused: certainly not executed.
				finish(systems.Failed("not sent to %s: node down", sl.name))
			case sl.paused:
				sl.held = append(sl.held, call)
			default:
				call()
			}
		})
	}
	attempt(node, maxAttempts)
}

func (w *world) idOf(name string) (int, bool) {
	for _, sl := range w.nodes {
		if sl.name == name {
			return sl.id, true
		}
	}
	return 0, false
}

func (w *world) record(e history.Event) {
	e.Index = len(w.events)
	e.Time = int64(w.s.now)
	w.events = append(w.events, e)
}

// finalReads reads every key once, Concurrency at a time, after recovery.
func (w *world) finalReads() {
	keys := w.gen.Keys()
	next := 0
	var work func(process int)
	work = func(process int) {
		if next >= len(keys) {
			return
		}
		k := keys[next]
		next++
		node := w.ids[w.clientRng.IntN(len(w.ids))]
		w.invoke(process, node, systems.Op{F: history.OpRead, Key: k}, func(t history.Type) {
			if t == history.Info {
				process += w.cfg.Concurrency
			}
			work(process)
		})
	}
	base := w.maxProcess() + 1
	for i := range w.cfg.Concurrency {
		work(base + i)
	}
	w.drain()
}

// drain runs until every open operation has completed.
func (w *world) drain() {
	for w.err == nil && w.open > 0 && w.s.step(w.s.now+time.Hour) {
	}
}

// settleReads reads every key on every node in rounds until all nodes
// agree and stay so for Quiet, answers stop changing for Stuck, or
// Timeout, as the runner's final phase does.
func (w *world) settleReads(s workloads.Settle) {
	keys := w.gen.Keys()
	base := w.maxProcess() + 1
	procs := make([]int, len(w.ids))
	for i := range procs {
		procs[i] = base + i
	}
	start := w.s.now
	last := map[[2]string]string{}
	changed, agreedSince := start, time.Duration(-1)
	for w.err == nil {
		answers := make([]map[string]string, len(w.ids))
		for i, id := range w.ids {
			answers[i] = map[string]string{}
			for _, k := range keys {
				pi := i
				w.invoke(procs[pi], id, systems.Op{F: history.OpRead, Key: k}, nil)
				ev := len(w.events) - 1
				w.drain()
				c := w.completionOf(ev)
				if c.Type == history.Info {
					procs[pi] += len(w.ids)
				}
				ans := "\x00unanswered"
				if c.Type == history.OK {
					ans = history.ValueKey(c.Value)
				}
				answers[i][k] = ans
				key := [2]string{w.slot(id).name, k}
				if last[key] != ans {
					last[key] = ans
					changed = w.s.now
				}
			}
		}
		agree := true
		for i := 1; i < len(answers) && agree; i++ {
			for _, k := range keys {
				if answers[i][k] != answers[0][k] {
					agree = false
					break
				}
			}
		}
		switch {
		case !agree:
			agreedSince = -1
		case agreedSince < 0:
			agreedSince = w.s.now
		}
		now := w.s.now
		if (agreedSince >= 0 && now-agreedSince >= s.Quiet) || now-changed >= s.Stuck || now-start >= s.Timeout {
			return
		}
		w.runFor(s.Interval)
	}
}

// completionOf returns the completion event of the invocation at index
// inv (the last event of its process after it).
func (w *world) completionOf(inv int) history.Event {
	p := w.events[inv].Process
	for i := len(w.events) - 1; i > inv; i-- {
		if w.events[i].Process == p {
			return w.events[i]
		}
	}
	return history.Event{Type: history.Info}
}

func (w *world) maxProcess() int {
	m := 0
	for _, e := range w.events {
		m = max(m, e.Process)
	}
	return m
}
