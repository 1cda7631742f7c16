// Package harness runs one test: it starts a cluster, drives the workload
// while the nemesis injects faults, records the history, recovers the
// cluster, checks the history and stores the results. See DESIGN.md, "The
// path of one run".
package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/internal/bounds"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/outcome"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/registry"
	"github.com/faultline/faultline/workloads"
)

// Duration is a time.Duration that reads and writes JSON as "30s".
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"30s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Test is a test as data: what to run, against what, for how long. It is
// stored, with every default resolved, as the run's test.json.
type Test struct {
	System string `json:"system"`
	// Impl is the system under test as a value (faultline.New sets it);
	// when nil, System names one of the built-in systems.
	Impl     systems.System `json:"-"`
	Workload string         `json:"workload"`
	Nemesis  []string       `json:"nemesis"` // fault names; empty or ["none"] for none
	Bugs     []string       `json:"bugs,omitempty"`
	Nodes    int            `json:"nodes"`
	Runtime  string         `json:"runtime"`

	TimeLimit       Duration `json:"time_limit"`       // how long clients run
	Concurrency     int      `json:"concurrency"`      // client workers
	Rate            float64  `json:"rate"`             // total ops/s across workers; 0 = unlimited
	OpTimeout       Duration `json:"op_timeout"`       // past it an op is recorded info
	NemesisInterval Duration `json:"nemesis_interval"` // between fault starts and stops
	RecoveryTimeout Duration `json:"recovery_timeout"` // for the cluster to be healthy again after the run
	StartTimeout    Duration `json:"start_timeout"`    // for each node to become ready when it starts
	CheckTimeout    Duration `json:"check_timeout"`    // past it checkers say unknown
	FinalReads      bool     `json:"final_reads"`      // read every key after recovery (see workloads.Settler)

	Seed       uint64 `json:"seed"`
	ResultsDir string `json:"results_dir"`

	// Grudge is the custom grudge of the partition-grudge fault.
	Grudge cluster.Grudge `json:"grudge,omitempty"`
	// Storage is how nodes treat un-fsynced writes (systems.StorageDurable
	// or StorageLazy). Empty: lazy when the faults include a power loss,
	// durable otherwise; test.json records what was used.
	Storage string `json:"storage,omitempty"`

	// Plan is the fault schedule as a value (nemesis.Sched): given, or,
	// when empty, the seeded random schedule over the faults (RandomOver),
	// or the rounds of the named sequences (figure8 …). test.json stores
	// it as data.
	Plan *nemesis.Sched `json:"plan,omitempty"`
	// Schedule is the plan laid out as steps: expanded from the plan with
	// the seed when empty, or given (a replay, a shrunk schedule). test.json
	// stores it, so a reader sees what was meant to happen and when, and
	// `faultline run --replay` can repeat it. Test files from before plans
	// existed hold only this, and still replay.
	Schedule []nemesis.Step `json:"schedule,omitempty"`
	// ShrunkFrom is the number of steps of the failing schedule this one
	// was shrunk from (faultline shrink), 0 if it was not.
	ShrunkFrom int `json:"shrunk_from,omitempty"`
	// ShrunkSteps are the steps of a shrunk schedule in words (Step.Label),
	// for the report's "minimal schedule: 3 of 14 steps" line.
	ShrunkSteps []string `json:"shrunk_steps,omitempty"`
	// ReplayOf is the run directory this run replays, if any.
	ReplayOf string `json:"replay_of,omitempty"`

	// Skipped are the faults asked for that mean nothing for this system
	// on this runtime, with why; the run goes on without them. Resolve
	// fills it.
	Skipped []outcome.SkippedFault `json:"skipped_faults,omitempty"`
	// LinkMechanism is how partitions and link faults act on this run's
	// links; empty when the run has none. Resolve fills it.
	LinkMechanism string `json:"link_mechanism,omitempty"`
}

// DefaultMix is the nemesis name of a system's default fault mix:
// partitions and kills, plus the sequences aimed at the system's weak
// spots (systems.Aimed), each round chosen at random. A run's test.json
// records what it expanded to.
const DefaultMix = "default"

// withDefaultMix replaces DefaultMix in t.Nemesis with the faults it
// stands for on sys.
func withDefaultMix(t Test, sys systems.System) Test {
	i := slices.Index(t.Nemesis, DefaultMix)
	if i < 0 {
		return t
	}
	mix := []string{"partition", "kill"}
	if a, ok := sys.(systems.Aimed); ok {
		mix = append(mix, a.AimedSequences()...)
	}
	t.Nemesis = slices.Concat(t.Nemesis[:i], mix, t.Nemesis[i+1:])
	return t
}

// DefaultTest returns a test with every default filled in.
func DefaultTest() Test {
	return Test{
		System:          "quorum",
		Workload:        "register",
		Nemesis:         []string{DefaultMix},
		Nodes:           5,
		Runtime:         "process",
		TimeLimit:       Duration(30 * time.Second),
		Concurrency:     10,
		Rate:            200,
		OpTimeout:       Duration(2 * time.Second),
		NemesisInterval: Duration(5 * time.Second),
		RecoveryTimeout: Duration(30 * time.Second),
		StartTimeout:    Duration(60 * time.Second),
		CheckTimeout:    Duration(2 * time.Minute),
		FinalReads:      true,
		ResultsDir:      "results",
	}
}

// Resolved is a validated test with its parts looked up.
type Resolved struct {
	Test     Test
	System   systems.System
	Workload workloads.Workload
	Faults   []nemesis.Fault
}

// Resolve checks t and looks up its system (t.Impl, else the built-in
// t.System names), workload and faults, and skips the faults that mean
// nothing for the system on t's runtime (Test.Skipped says why). Every
// problem is a *exitcode.ConfigError naming what was wrong and what is
// allowed.
func Resolve(t Test) (*Resolved, error) {
	name := t.Runtime
	if name == "auto" {
		name = "process" // what it falls back to; Run resolves it first
	}
	d, _ := newDriver(name) // an unknown runtime is reported below
	return resolveOn(t, d)
}

// resolveOn is Resolve for a run on driver d (nil: an unknown runtime).
func resolveOn(t Test, d cluster.Driver) (*Resolved, error) {
	bad := func(format string, args ...any) (*Resolved, error) {
		return nil, &exitcode.ConfigError{Err: fmt.Errorf(format, args...)}
	}
	sys := t.Impl
	switch {
	case sys == nil && t.System == "":
		return bad("no system to test: pass one to faultline.New (valid built-ins: %s)", strings.Join(registry.Default().Names(), ", "))
	case sys == nil:
		var err error
		if sys, err = registry.Default().Get(t.System); err != nil {
			return nil, &exitcode.ConfigError{Err: err}
		}
	case t.System != sys.Name():
		return bad("the test names system %q, but the system given is %q", t.System, sys.Name())
	}
	t = withDefaultMix(t, sys)
	if err := checkNodes(sys, t.Runtime); err != nil {
		return nil, &exitcode.ConfigError{Err: err}
	}
	w, err := workloads.Default().Get(t.Workload)
	if err != nil {
		return nil, &exitcode.ConfigError{Err: err}
	}
	if _, ok := sys.Workloads()[t.Workload]; !ok {
		return bad("system %s does not serve workload %q (it serves: %s)", sys.Name(), t.Workload, strings.Join(sortedKeys(sys.Workloads()), ", "))
	}
	if d == nil {
		return bad("unknown runtime %q (valid: %s)", t.Runtime, strings.Join(runtimes, ", "))
	}
	faults, err := meaningfulFaults(&t, sys, d)
	if err != nil {
		return nil, &exitcode.ConfigError{Err: err}
	}
	if err := checkNemesis(t, faults); err != nil {
		return nil, &exitcode.ConfigError{Err: err}
	}
	if err := checkSequences(t, sys); err != nil {
		return nil, &exitcode.ConfigError{Err: err}
	}
	if err := systems.CheckBugs(sys, t.Bugs); err != nil {
		return nil, &exitcode.ConfigError{Err: err}
	}
	if t.Nodes < sys.MinNodes() && t.Nodes >= bounds.Nodes.Min {
		return bad("--nodes %d is too few for %s: it needs at least %d", t.Nodes, sys.Name(), sys.MinNodes())
	}
	if err := CheckBounds(t, len(faults) > 0); err != nil {
		return nil, &exitcode.ConfigError{Err: err}
	}
	if t.ResultsDir == "" {
		return bad("--results must name a directory")
	}
	t.Impl = sys
	return &Resolved{Test: t, System: sys, Workload: w, Faults: faults}, nil
}

// CheckBounds checks every numeric and duration setting of t against its
// bounds (internal/bounds), the same the CLI's --help states; faulty says
// whether the test injects faults (the nemesis interval matters only then).
func CheckBounds(t Test, faulty bool) error {
	errs := []error{
		bounds.Nodes.Check(t.Nodes),
		bounds.TimeLimit.Check(t.TimeLimit.D()),
		bounds.Concurrency.Check(t.Concurrency),
		bounds.Rate.Check(t.Rate),
		bounds.OpTimeout.Check(t.OpTimeout.D()),
	}
	if faulty {
		errs = append(errs, bounds.NemesisInterval.Check(t.NemesisInterval.D()),
			bounds.CheckEpisodes(t.TimeLimit.D(), t.NemesisInterval.D()))
	}
	errs = append(errs,
		bounds.RecoveryTimeout.Check(t.RecoveryTimeout.D()),
		bounds.StartTimeout.Check(t.StartTimeout.D()),
		bounds.CheckTimeout.Check(t.CheckTimeout.D()))
	return bounds.First(errs...)
}

// checkNodes checks that sys says how its nodes run, and that the
// runtime can run them: the docker runtime's image holds faultline-node,
// which knows only the built-in systems, besides a foreign program.
func checkNodes(sys systems.System, runtime string) error {
	_, inproc := sys.(systems.InProcess)
	_, foreign := sys.(systems.Foreign)
	switch {
	case inproc == foreign:
		return fmt.Errorf("system %s (%T) must say how its nodes run: implement exactly one of systems.InProcess (RunNode) and systems.Foreign (Executable, Command, Addressing)", sys.Name(), sys)
	case inproc && runtime == "docker":
		if b, err := registry.Default().Get(sys.Name()); err != nil || reflect.TypeOf(b) != reflect.TypeOf(sys) {
			return fmt.Errorf("system %s runs its nodes in-process, in this binary; the docker runtime's image runs faultline-node, which holds only the built-in systems (%s): use the process runtime, or make the system Foreign with a static binary", sys.Name(), strings.Join(registry.Default().Names(), ", "))
		}
	}
	return nil
}

// checkNemesis checks what the faults need from the rest of the test.
func checkNemesis(t Test, faults []nemesis.Fault) error {
	usesGrudge := false
	for _, f := range faults {
		usesGrudge = usesGrudge || f.Name() == "partition-grudge"
	}
	if len(t.Grudge) > 0 && !usesGrudge {
		return errors.New("a grudge was given but --nemesis does not include partition-grudge")
	}
	for to, from := range t.Grudge {
		for _, id := range append([]int{to}, from...) {
			if id < 1 || id > t.Nodes {
				return fmt.Errorf("grudge names node %d, but the cluster has nodes 1..%d", id, t.Nodes)
			}
		}
	}
	switch t.Storage {
	case "", systems.StorageDurable, systems.StorageLazy:
	default:
		return fmt.Errorf("storage %q: want %s or %s", t.Storage, systems.StorageDurable, systems.StorageLazy)
	}
	if t.Storage == systems.StorageDurable && nemesis.NeedsLazyStorage(faults) {
		return errors.New("power-loss needs nodes with lazy storage, but the test asks for durable")
	}
	if err := nemesis.CheckSchedule(t.Schedule, faults); err != nil {
		return fmt.Errorf("the stored schedule does not fit --nemesis: %w", err)
	}
	return nil
}

// checkSequences refuses a sequence about a leader on a system without
// one: it would wait for a leader that never comes and do nothing.
func checkSequences(t Test, sys systems.System) error {
	seqs, _ := nemesis.SplitSequences(t.Nemesis)
	e, ok := sys.(systems.Elector)
	elects := ok && e.Elects()
	for _, s := range seqs {
		if s.NeedsLeader && !elects {
			return fmt.Errorf("nemesis %s needs a system whose nodes elect a leader, and %s has none (systems with leaders: %s)",
				s.Name, sys.Name(), strings.Join(electors(), ", "))
		}
	}
	return nil
}

// electors names the registered systems that elect leaders.
func electors() []string {
	var out []string
	reg := registry.Default()
	for _, name := range reg.Names() {
		if s, err := reg.Get(name); err == nil {
			if e, ok := s.(systems.Elector); ok && e.Elects() {
				out = append(out, name)
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// meaningfulFaults returns the faults of t.Nemesis that mean something for
// sys on driver d; it records the others, with why, in t.Skipped, and how
// link faults act in t.LinkMechanism. Faults are skipped, never faked:
// a clock fault on a system whose clocks cannot be set would only log
// that it happened. When every fault asked for is skipped the test is
// refused, since it would run without faults and pass for nothing.
func meaningfulFaults(t *Test, sys systems.System, d cluster.Driver) ([]nemesis.Fault, error) {
	reg := nemesis.Default()
	names, err := reg.Expand(t.Nemesis)
	if err != nil {
		return nil, err
	}
	mechanism, whyNot := cluster.LinkMechanismOf(d, systems.AddressingOf(sys))
	var limits map[string]string
	if fl, ok := sys.(systems.FaultLimits); ok {
		limits = fl.UnsupportedFaults()
	}
	t.Skipped, t.LinkMechanism = nil, ""
	var keep []string
	for _, n := range names {
		fam := reg.Family(n)
		why := limits[n]
		if why == "" {
			why = limits[fam]
		}
		if why == "" {
			why = unsupportedBy(sys, fam, whyNot)
		}
		if why != "" {
			t.Skipped = append(t.Skipped, outcome.SkippedFault{Fault: n, Reason: why})
			continue
		}
		keep = append(keep, n)
		if fam == "partition" || fam == "link" {
			t.LinkMechanism = mechanism
		}
	}
	// A sequence is one schedule: it cannot run with a fault cut out.
	seqs, _ := nemesis.SplitSequences(t.Nemesis)
	for _, seq := range seqs {
		for _, sk := range t.Skipped {
			if slices.Contains(seq.Faults, sk.Fault) {
				return nil, fmt.Errorf("nemesis %s needs %s, which means nothing for system %s here: %s", seq.Name, sk.Fault, sys.Name(), sk.Reason)
			}
		}
	}
	if len(names) > 0 && len(keep) == 0 {
		var why []string
		for _, s := range t.Skipped {
			why = append(why, s.Fault+": "+s.Reason)
		}
		return nil, fmt.Errorf("no fault asked for means anything for system %s on the %s runtime (%s); ask for others, or none", sys.Name(), d.Name(), strings.Join(why, "; "))
	}
	return reg.Get(keep, nemesis.Options{Grudge: t.Grudge})
}

// unsupportedBy says why a fault of family fam means nothing for sys, from
// what sys implements and what the runtime can do to its links (whyNot),
// or "".
func unsupportedBy(sys systems.System, fam, whyNot string) string {
	switch fam {
	case "clock":
		if _, ok := sys.(systems.ClockSetter); !ok {
			return fmt.Sprintf("system %s has no way to set its nodes' clocks (it implements no systems.ClockSetter)", sys.Name())
		}
	case "power-loss":
		if l, ok := sys.(systems.LazyStorage); !ok || !l.LazyStorage() {
			return fmt.Sprintf("system %s's nodes cannot hold un-fsynced writes in memory (no systems.LazyStorage), so a power loss would be a plain kill", sys.Name())
		}
	case "partition", "link":
		return whyNot
	}
	return ""
}
