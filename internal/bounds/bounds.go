// Package bounds holds the limits of every numeric and duration setting a
// user gives faultline: the flags of run, check, sim and shrink, and the
// same settings through the Go API (runner.Resolve). One table, so the
// CLI's checks, its --help text, the README and the Go API agree.
//
// A value out of bounds is refused up front, before anything is written,
// with one line naming the flag, the value, what is allowed and why.
package bounds

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Int bounds an integer flag: Min <= v <= Max.
type Int struct {
	Flag     string // without the dashes
	Min, Max int
	Why      string // why the bounds are what they are
}

// Check returns nil when v is within b, else an error naming the flag.
func (b Int) Check(v int) error {
	if v < b.Min || v > b.Max {
		return fmt.Errorf("--%s %d: want %s (%s)", b.Flag, v, b.Range(), b.Why)
	}
	return nil
}

// Range is the allowed values in words: "1..1000".
func (b Int) Range() string { return fmt.Sprintf("%d..%d", b.Min, b.Max) }

// Help is a flag's usage text with its bounds.
func (b Int) Help(usage string) string { return usage + "; " + b.Range() }

// Duration bounds a duration flag: Min <= v <= Max, or v == 0 when Zero
// says what 0 means.
type Duration struct {
	Flag     string
	Min, Max time.Duration
	Zero     string // what 0 means, if 0 is allowed ("no limit")
	Why      string
}

// Check returns nil when v is within b, else an error naming the flag.
func (b Duration) Check(v time.Duration) error {
	if v == 0 && b.Zero != "" {
		return nil
	}
	if v < b.Min || v > b.Max {
		return fmt.Errorf("--%s %s: want %s (%s)", b.Flag, v, b.Range(), b.Why)
	}
	return nil
}

// Range is the allowed values in words: "100ms..24h0m0s", "0 (none) or
// 1s..1h0m0s".
func (b Duration) Range() string {
	r := fmt.Sprintf("%s..%s", fmtDur(b.Min), fmtDur(b.Max))
	if b.Zero != "" {
		r = fmt.Sprintf("0 (%s) or %s", b.Zero, r)
	}
	return r
}

// fmtDur writes d as a user writes it: 24h, 10m, 1m30s, 100ms.
func fmtDur(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Help is a flag's usage text with its bounds.
func (b Duration) Help(usage string) string { return usage + "; " + b.Range() }

// Float bounds a float flag: a finite number with Min <= v <= Max (Min < v
// when Open). NaN and infinities are always refused.
type Float struct {
	Flag     string
	Min, Max float64
	Open     bool   // Min itself is not allowed
	Zero     string // what 0 means, if 0 is allowed outside [Min, Max]
	Why      string
}

// Check returns nil when v is within b, else an error naming the flag.
func (b Float) Check(v float64) error {
	if v == 0 && b.Zero != "" {
		return nil
	}
	ok := !math.IsNaN(v) && !math.IsInf(v, 0) && v <= b.Max && (v > b.Min || !b.Open && v == b.Min)
	if !ok {
		return fmt.Errorf("--%s %s: want %s (%s)", b.Flag, strconv.FormatFloat(v, 'g', -1, 64), b.Range(), b.Why)
	}
	return nil
}

// Range is the allowed values in words: "0..100000 (0: unlimited)",
// "more than 0, at most 1000000".
func (b Float) Range() string {
	switch {
	case b.Zero != "" && b.Min == 0:
		return fmt.Sprintf("0..%s (0: %s)", fmtFloat(b.Max), b.Zero)
	case b.Open:
		return fmt.Sprintf("more than %s, at most %s", fmtFloat(b.Min), fmtFloat(b.Max))
	}
	return fmt.Sprintf("%s..%s", fmtFloat(b.Min), fmtFloat(b.Max))
}

// Help is a flag's usage text with its bounds.
func (b Float) Help(usage string) string { return usage + "; " + b.Range() }

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// The settings of a test (faultline run and the Go API). The time limit,
// the nemesis interval and the schedule are bounded together too: see
// MaxEpisodes.
var (
	Nodes = Int{Flag: "nodes", Min: 1, Max: 15,
		Why: "and at least the system's minimum; the mesh runs a proxy on each of the n*(n-1) links"}
	TimeLimit = Duration{Flag: "time-limit", Min: 100 * time.Millisecond, Max: 24 * time.Hour,
		Why: "the history and schedule of a run are kept whole; soak longer with several runs"}
	Concurrency = Int{Flag: "concurrency", Min: 1, Max: 1000,
		Why: "each worker is a client process in the history; the linearizability search grows with the operations open at once, and beyond a thousand the check, not the cluster, is what is tested"}
	Rate = Float{Flag: "rate", Min: 0, Max: 100_000, Open: true, Zero: "unlimited",
		Why: "total operations per second across workers"}
	OpTimeout = Duration{Flag: "op-timeout", Min: 10 * time.Millisecond, Max: 10 * time.Minute,
		Why: "past it an operation is recorded info"}
	NemesisInterval = Duration{Flag: "nemesis-interval", Min: 100 * time.Millisecond, Max: time.Hour,
		Why: "starting or stopping a fault (a kill, a partition) takes milliseconds to a second of its own"}
	RecoveryTimeout = Duration{Flag: "recovery-timeout", Min: time.Second, Max: time.Hour,
		Why: "time for the cluster to be healthy again after the faults stop"}
	StartTimeout = Duration{Flag: "start-timeout", Min: time.Second, Max: time.Hour, Zero: "the default, 60s",
		Why: "time for every node to start and become ready"}
	CheckTimeout = Duration{Flag: "check-timeout", Min: time.Second, Max: 24 * time.Hour,
		Why: "time for the checkers; past it the verdict is unknown"}
	MemoryLimit = Int{Flag: "memory-limit-mb", Min: 0, Max: 1 << 20,
		Why: "MiB of heap for reading and checking the history (0: no limit); the GC works harder from three quarters of it, and past it the check stops, unknown"}
)

// MaxEpisodes bounds --time-limit / --nemesis-interval: the random
// schedule starts a fault about every interval and is laid out whole
// before the run (test.json stores it), at most 4000 steps.
const MaxEpisodes = 1000

// CheckEpisodes refuses a time limit and nemesis interval whose schedule
// would hold more than MaxEpisodes fault episodes.
func CheckEpisodes(timeLimit, interval time.Duration) error {
	if interval <= 0 || timeLimit/interval <= MaxEpisodes {
		return nil
	}
	return fmt.Errorf("--time-limit %s with --nemesis-interval %s is about %d fault episodes: want at most %d (the schedule is laid out whole before the run); raise --nemesis-interval to at least %s",
		fmtDur(timeLimit), interval, timeLimit/interval, MaxEpisodes, fmtDur((timeLimit / MaxEpisodes).Round(time.Millisecond)))
}

// The settings of faultline sim only (its simulated durations).
var (
	SimSteps = Int{Flag: "steps", Min: 0, Max: 100_000_000,
		Why: "client operations of one simulation; 0: until --time-limit"}
	SimTimeLimit = Duration{Flag: "time-limit", Min: time.Millisecond, Max: 30 * 24 * time.Hour, Zero: "until --steps",
		Why: "simulated time of the client phase"}
	SimRate = Float{Flag: "rate", Min: 0, Max: 1_000_000, Open: true,
		Why: "client operations per simulated second"}
	SimOpTimeout = Duration{Flag: "op-timeout", Min: time.Millisecond, Max: time.Hour,
		Why: "simulated time after which an operation is recorded info"}
	SimFaultInterval = Duration{Flag: "fault-interval", Min: 10 * time.Millisecond, Max: 24 * time.Hour,
		Why: "simulated time between fault starts and stops; shorter floods the event queue with faults"}
	SimMaxFaults = Int{Flag: "max-faults", Min: 0, Max: 1_000_000, Why: "0: no cap"}
	SimDelay     = Duration{Flag: "max-delay", Min: 0, Max: time.Minute,
		Why: "one-way simulated message delay"}
	SimProbability = Float{Flag: "drop", Min: 0, Max: 0.99,
		Why: "a probability; at 1 no message would ever arrive"}
	SimWallLimit = Duration{Flag: "wall-limit", Min: time.Second, Max: 7 * 24 * time.Hour, Zero: "none",
		Why: "wall time of a search"}
	SimWorkers = Int{Flag: "workers", Min: 0, Max: 1024, Why: "0: one per core"}
	SimSeeds   = Int{Flag: "seeds", Min: 0, Max: 100_000_000, Why: "seeds searched"}
	ShrinkRuns = Int{Flag: "shrink-runs", Min: 0, Max: 10_000, Why: "runs spent shrinking a failing seed"}
)

// The settings of faultline shrink.
var (
	Replays  = Int{Flag: "replays", Min: 1, Max: 100, Why: "runs of each candidate schedule"}
	MaxTries = Int{Flag: "max-tries", Min: 0, Max: 100_000, Why: "0: no limit"}
	MaxTime  = Duration{Flag: "max-time", Min: time.Second, Max: 7 * 24 * time.Hour, Zero: "no limit",
		Why: "time spent searching"}
)

// Named returns b for the flag name (sim's --min-delay and --max-delay,
// --drop and --dup share bounds).
func (b Duration) Named(flag string) Duration { b.Flag = flag; return b }

// Named returns b for the flag name.
func (b Float) Named(flag string) Float { b.Flag = flag; return b }

// First returns the first non-nil error.
func First(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
