// Package checkers judges histories. A checker reads only the history: no
// cluster, no clock, no network, no files. Its verdict is three-valued, and
// the zero Verdict is Unknown: a checker that gives up, or a result nobody
// filled in, proves nothing. What it found wrong comes back as typed
// anomalies that point at the events involved, and what it would show a
// person (Porcupine's visualization) as artifacts: data the caller may
// write where it likes.
package checkers

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/faultline/faultline/history"
)

// Verdict is a checker's judgement. The zero value is Unknown.
type Verdict int

const (
	// Unknown: nothing proven either way (the checker gave up, had nothing
	// to judge, or never ran).
	Unknown Verdict = iota
	// Valid: the history was judged and has no anomaly.
	Valid
	// Invalid: the history has an anomaly.
	Invalid
)

func (v Verdict) String() string {
	switch v {
	case Valid:
		return "valid"
	case Invalid:
		return "invalid"
	default:
		return "unknown"
	}
}

// MarshalJSON encodes Valid as true, Invalid as false and Unknown as
// "unknown", as results.json always has.
func (v Verdict) MarshalJSON() ([]byte, error) {
	switch v {
	case Valid:
		return []byte("true"), nil
	case Invalid:
		return []byte("false"), nil
	default:
		return []byte(`"unknown"`), nil
	}
}

// UnmarshalJSON reverses MarshalJSON.
func (v *Verdict) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*v = Valid
	case "false":
		*v = Invalid
	case `"unknown"`:
		*v = Unknown
	default:
		return fmt.Errorf("verdict %s is not true, false or \"unknown\"", b)
	}
	return nil
}

// Merge combines verdicts: any Invalid wins, then any Unknown. No verdict
// at all is Unknown: nothing was judged.
func Merge(vs ...Verdict) Verdict {
	if len(vs) == 0 {
		return Unknown
	}
	out := Valid
	for _, v := range vs {
		if v == Invalid {
			return Invalid
		}
		if v != Valid {
			out = Unknown
		}
	}
	return out
}

// Kind names a kind of anomaly. Each checker declares its own (set.Lost,
// counter.FinalOutOfBounds, …); matchers and reports match on them.
type Kind string

// MaxExamples bounds the anomalies (and notes) a checker lists per kind,
// so a badly broken run keeps a readable report; the checker's Details
// hold the full counts.
const MaxExamples = 10

// Anomaly is one thing a checker found, pointing at the events involved.
type Anomaly struct {
	// Checker is the checker that found it (filled in by Run).
	Checker string `json:"checker"`
	Kind    Kind   `json:"kind"`
	// Key is the key involved, when there is one.
	Key string `json:"key,omitempty"`
	// Events are the indexes (Event.Index) of the events it points at, in
	// the order Text names them. A client operation is named by its
	// completion, or by its invoke when it never completed.
	Events []int `json:"events,omitempty"`
	// Text says what is wrong, in one line, for people.
	Text string `json:"text"`
}

func (a Anomaly) String() string { return a.Checker + ": " + a.Text }

// UnmarshalJSON also reads results.json written before anomalies were
// typed, where each was a line of text.
func (a *Anomaly) UnmarshalJSON(b []byte) error {
	var text string
	if json.Unmarshal(b, &text) == nil {
		*a = Anomaly{Text: text}
		return nil
	}
	type plain Anomaly
	return json.Unmarshal(b, (*plain)(a))
}

// Artifact is something a checker made for people to look at, such as
// Porcupine's visualization of a failing key. The checker returns its
// bytes; a caller that keeps files (the runner, `faultline check --out`)
// writes them under Name and results.json lists the names.
type Artifact struct {
	// Name is a file name, unique within one checker's result.
	Name string `json:"name"`
	// Key is the key it shows, if it shows one.
	Key  string `json:"key,omitempty"`
	Data []byte `json:"-"`
}

// Result is one checker's output.
type Result struct {
	Verdict Verdict `json:"valid"`
	// Reason says why the verdict is Unknown, or sums up what was judged.
	Reason string `json:"reason,omitempty"`
	// Anomalies are what makes the history invalid: a checker with any is
	// Invalid. Checkers list the first few of each kind; Details holds the
	// counts.
	Anomalies []Anomaly `json:"anomalies,omitempty"`
	// Notes are findings worth a look that the model allows (a stale read
	// of an eventually consistent store, a false suspicion of a failure
	// detector): they never change the verdict.
	Notes []Anomaly `json:"notes,omitempty"`
	// Details holds checker-specific figures (keys checked, convergence
	// time, …).
	Details map[string]any `json:"details,omitempty"`
	// Artifacts are what the checker made for people; see Artifact.
	Artifacts []Artifact `json:"artifacts,omitempty"`
	// Informational marks a checker whose result is shown but never
	// decides the run's verdict (membership: histories from other tools
	// carry no membership observations, and its unknown must not make
	// every such history unknown).
	Informational bool `json:"informational,omitempty"`
}

// UnmarshalJSON also reads results.json written before artifacts were
// data, which listed the files a checker wrote under "files".
func (r *Result) UnmarshalJSON(b []byte) error {
	type plain Result
	var v struct {
		plain
		Files []string `json:"files"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Result(v.plain)
	for _, f := range v.Files {
		r.Artifacts = append(r.Artifacts, Artifact{Name: f})
	}
	return nil
}

// Checker judges a history. Check must not write files or reach outside
// the events; it returns Unknown when it cannot decide (ctx ended, nothing
// to judge).
type Checker interface {
	Name() string
	Check(ctx context.Context, events []history.Event) Result
}

// Results are the results of several checkers, by name.
type Results map[string]Result

// Verdict merges the checkers' verdicts; no checker at all is Unknown.
func (rs Results) Verdict() Verdict {
	vs := make([]Verdict, 0, len(rs))
	for _, r := range rs {
		if !r.Informational {
			vs = append(vs, r.Verdict)
		}
	}
	return Merge(vs...)
}

// Deciding counts the checkers whose verdict counts (not Informational).
func (rs Results) Deciding() int {
	n := 0
	for _, r := range rs {
		if !r.Informational {
			n++
		}
	}
	return n
}

// Names lists the checkers, sorted.
func (rs Results) Names() []string { return slices.Sorted(maps.Keys(rs)) }

// Run runs every checker on events. Each anomaly and note is stamped with
// its checker's name, and a checker that reported an anomaly is Invalid
// whatever verdict it gave, so an anomaly can never hide in a valid run.
func Run(ctx context.Context, cs []Checker, events []history.Event) Results {
	out := Results{}
	for _, c := range cs {
		r := c.Check(ctx, events)
		for i := range r.Anomalies {
			r.Anomalies[i].Checker = c.Name()
		}
		for i := range r.Notes {
			r.Notes[i].Checker = c.Name()
		}
		if len(r.Anomalies) > 0 {
			r.Verdict = Invalid
		}
		out[c.Name()] = r
	}
	return out
}

var _ json.Marshaler = Valid
