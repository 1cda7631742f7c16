// Package checkers judges histories. A checker reads only the history: no
// cluster, no clock, no network. Its verdict is three-valued: a checker that
// gives up says Unknown, never Valid.
package checkers

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/faultline/faultline/history"
)

// Verdict is a checker's judgement.
type Verdict int

const (
	Valid Verdict = iota
	Invalid
	Unknown
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

// MarshalJSON encodes Valid as true, Invalid as false and Unknown as "unknown".
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

// Merge combines verdicts: any Invalid wins, then any Unknown.
func Merge(vs ...Verdict) Verdict {
	out := Valid
	for _, v := range vs {
		if v == Invalid {
			return Invalid
		}
		if v == Unknown {
			out = Unknown
		}
	}
	return out
}

// Result is one checker's output.
type Result struct {
	Valid Verdict `json:"valid"`
	// Anomalies are one-line human descriptions of what was wrong.
	Anomalies []string `json:"anomalies,omitempty"`
	// Reason says why the verdict is Unknown (or a short summary otherwise).
	Reason string `json:"reason,omitempty"`
	// Details holds checker-specific figures (keys checked, failing keys…).
	Details map[string]any `json:"details,omitempty"`
	// Files are paths (relative to the output dir) the checker wrote.
	Files []string `json:"files,omitempty"`
}

// Checker judges a history. OutDir is where it may write artifacts (a
// visualization of a failure); empty means write nothing.
type Checker interface {
	Name() string
	Check(ctx context.Context, events []history.Event, outDir string) Result
}

// Summary is the combined verdict of several checkers, as stored in
// results.json.
type Summary struct {
	Valid    Verdict           `json:"valid"`
	Checkers map[string]Result `json:"checkers"`
	Stats    any               `json:"stats,omitempty"`
}

// Run runs every checker and merges their verdicts.
func Run(ctx context.Context, cs []Checker, events []history.Event, outDir string) Summary {
	s := Summary{Valid: Valid, Checkers: map[string]Result{}}
	for _, c := range cs {
		r := c.Check(ctx, events, outDir)
		s.Checkers[c.Name()] = r
		s.Valid = Merge(s.Valid, r.Valid)
	}
	return s
}

var _ json.Marshaler = Valid
