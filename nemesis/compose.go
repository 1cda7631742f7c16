package nemesis

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Sched is a fault schedule as a value, in the spirit of Jepsen's
// generator combinators: a step (start or stop a fault, sleep, wait for a
// condition), or a composition of schedules (a sequence, a repeat, a
// random choice). It is plain data: test.json stores it as the run's
// "plan", and Expand turns it into the flat list of Steps the nemesis
// Runner follows (test.json's "schedule"), which replay and shrink work
// on. Build one with the constructors below.
type Sched struct {
	// Op is what the node does: seq, times, forever, one-of, until,
	// sleep, start, stop, episode, random (see the constructors).
	Op    string  `json:"op"`
	Items []Sched `json:"items,omitempty"`
	// N is the count of times.
	N int `json:"n,omitempty"`
	// Fault names the fault of start, stop and episode.
	Fault string `json:"fault,omitempty"`
	// Choice is a start's episode; nil means chosen from the seed.
	Choice *Choice `json:"choice,omitempty"`
	// Cond is the condition of until (see Conditions).
	Cond string `json:"cond,omitempty"`
	// D is how long: a sleep, an episode, an until's timeout, the mean
	// gap of random.
	D Dur `json:"d,omitempty"`
	// Faults are the faults random draws from; empty means all of them.
	Faults []string `json:"faults,omitempty"`
}

// Dur is a time.Duration written "2s" in JSON.
type Dur time.Duration

func (d Dur) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Dur) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string like \"2s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	*d = Dur(v)
	return err
}

// Seq runs its schedules one after the other.
func Seq(s ...Sched) Sched { return Sched{Op: "seq", Items: s} }

// Times runs s n times.
func Times(n int, s Sched) Sched { return Sched{Op: "times", N: n, Items: []Sched{s}} }

// Forever repeats s until the run's time limit.
func Forever(s Sched) Sched { return Sched{Op: "forever", Items: []Sched{s}} }

// OneOf runs one of its schedules, chosen from the seed each time.
func OneOf(s ...Sched) Sched { return Sched{Op: "one-of", Items: s} }

// Until waits until cond holds (read through the nodes' status), at most
// timeout; then the schedule goes on either way.
func Until(cond string, timeout time.Duration) Sched {
	return Sched{Op: "until", Cond: cond, D: Dur(timeout)}
}

// SleepFor waits d.
func SleepFor(d time.Duration) Sched { return Sched{Op: "sleep", D: Dur(d)} }

// StartFault starts the named fault; a nil choice is drawn from the seed.
func StartFault(name string, ch *Choice) Sched { return Sched{Op: "start", Fault: name, Choice: ch} }

// StopFault stops the named fault.
func StopFault(name string) Sched { return Sched{Op: "stop", Fault: name} }

// Episode starts the named fault, lets it act for d and stops it.
func Episode(name string, d time.Duration) Sched { return Sched{Op: "episode", Fault: name, D: Dur(d)} }

// RandomOver is the seeded random schedule (Plan) over the named faults
// (none: every fault of the run), one start every interval on average. It
// fills the rest of the time limit. Over all faults at the start of a
// plan it is exactly the schedule faultline has always drawn from a seed.
func RandomOver(interval time.Duration, faults ...string) Sched {
	return Sched{Op: "random", D: Dur(interval), Faults: faults}
}

// maxSteps bounds an expansion (forever over steps that take no time).
const maxSteps = 4000

// Expand lays out s as steps for a run of faults over nodes ids, drawing
// every random choice from seed. Steps made by random carry their time
// from the run's start (At); the others have At 0 and run as soon as the
// step before them is done. Forever stops once the time its sleeps and
// timeouts add up to passes timeLimit (waits end early, so the real run
// may need more; the runner stops at the time limit anyway).
func Expand(s Sched, seed uint64, faults []Fault, ids []int, timeLimit time.Duration) ([]Step, error) {
	e := &expander{rng: rand.New(rand.NewPCG(seed, Stream)), faults: faults, ids: ids, limit: timeLimit, seed: seed}
	if err := e.walk(s); err != nil {
		return nil, err
	}
	return e.steps, nil
}

type expander struct {
	rng    *rand.Rand
	faults []Fault
	ids    []int
	limit  time.Duration
	seed   uint64
	steps  []Step
	spent  time.Duration // the least time the steps so far take
}

func (e *expander) fault(name string) (int, error) {
	for i, f := range e.faults {
		if f.Name() == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("schedule names fault %q, which the run does not have (give it with --nemesis)", name)
}

func (e *expander) add(s Step) error {
	if len(e.steps) >= maxSteps {
		return fmt.Errorf("schedule expands to more than %d steps", maxSteps)
	}
	e.steps = append(e.steps, s)
	return nil
}

func (e *expander) walk(s Sched) error {
	switch s.Op {
	case "seq":
		for _, it := range s.Items {
			if err := e.walk(it); err != nil {
				return err
			}
		}
	case "times":
		for range s.N {
			if err := e.walk(Seq(s.Items...)); err != nil {
				return err
			}
		}
	case "forever":
		for e.spent < e.limit {
			before := e.spent
			if err := e.walk(Seq(s.Items...)); err != nil {
				return err
			}
			if e.spent == before {
				return fmt.Errorf("forever over a schedule that takes no time (add a sleep)")
			}
		}
	case "one-of":
		if len(s.Items) == 0 {
			return fmt.Errorf("one-of needs at least one schedule")
		}
		return e.walk(s.Items[e.rng.IntN(len(s.Items))])
	case "until":
		if !knownCond(s.Cond) {
			return fmt.Errorf("unknown condition %q (valid: %v)", s.Cond, Conditions)
		}
		e.spent += min(time.Duration(s.D), 500*time.Millisecond)
		return e.add(Step{Fault: -1, Until: s.Cond, Timeout: time.Duration(s.D)})
	case "sleep":
		e.spent += time.Duration(s.D)
		return e.add(Step{Fault: -1, Sleep: time.Duration(s.D)})
	case "start", "stop":
		i, err := e.fault(s.Fault)
		if err != nil {
			return err
		}
		st := Step{Fault: i, Name: s.Fault, Start: s.Op == "start"}
		if st.Start {
			ch := s.Choice
			if ch == nil {
				c := e.faults[i].Choose(e.rng, e.ids)
				ch = &c
			}
			st.Choice = ch
		}
		return e.add(st)
	case "episode":
		return e.walk(Seq(StartFault(s.Fault, nil), SleepFor(time.Duration(s.D)), StopFault(s.Fault)))
	case "random":
		plain := make([]Fault, 0, len(e.faults))
		index := make([]int, 0, len(e.faults))
		for i, f := range e.faults {
			if len(s.Faults) == 0 || slices.Contains(s.Faults, f.Name()) {
				plain, index = append(plain, f), append(index, i)
			}
		}
		if len(plain) < max(1, len(s.Faults)) {
			return fmt.Errorf("random over %v: the run has faults %v", s.Faults, faultNames(e.faults))
		}
		for _, st := range Plan(e.seed, plain, e.ids, time.Duration(s.D), e.limit-e.spent) {
			st.Fault = index[st.Fault]
			st.At += e.spent
			if err := e.add(st); err != nil {
				return err
			}
		}
		e.spent = e.limit
	default:
		return fmt.Errorf("unknown schedule op %q (valid: seq, times, forever, one-of, until, sleep, start, stop, episode, random)", s.Op)
	}
	return nil
}

// Label is a step in words, for shrink reports: "+partition-one",
// "-kill", "sleep 2s", "until new-leader (5s)".
func (s Step) Label() string {
	switch {
	case s.Until != "":
		return fmt.Sprintf("until %s (%s)", s.Until, s.Timeout)
	case s.Sleep > 0:
		return "sleep " + s.Sleep.String()
	}
	sign := "-"
	if s.Start {
		sign = "+"
	}
	at := ""
	if s.At > 0 {
		at = fmt.Sprintf("@%.1fs ", s.At.Seconds())
	}
	return at + sign + s.Name
}

func faultNames(fs []Fault) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name()
	}
	return out
}
