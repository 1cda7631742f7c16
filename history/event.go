// Package history is the contract between every part of a run: one event type
// and its JSON-lines reader and writer. It imports nothing of faultline's.
//
// A history is a sequence of events. A client operation is an invoke event
// followed, on the same process, by exactly one completion (ok, fail or info).
// Nemesis events use process -1; observer events (what the harness saw of
// the cluster, such as a node's membership view) use process -2.
package history

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Type says what an event is.
type Type string

const (
	// Invoke starts an operation.
	Invoke Type = "invoke"
	// OK completes an operation that certainly happened.
	OK Type = "ok"
	// Fail completes an operation that certainly did not happen.
	Fail Type = "fail"
	// Info completes an operation whose outcome is unknown (a timeout, a
	// crash): it may have happened, at any time after its invoke.
	Info Type = "info"
)

// Valid reports whether t is one of the four event types.
func (t Type) Valid() bool {
	switch t {
	case Invoke, OK, Fail, Info:
		return true
	}
	return false
}

// NemesisProcess is the process number of every nemesis event.
const NemesisProcess = -1

// ObserverProcess is the process number of observations the harness makes
// of the cluster while the run goes on (F "membership": a node's view,
// Value node -> alive|suspect|dead, Node the viewer). They are single info
// events, not operations.
const ObserverProcess = -2

// Event is one line of a history.
type Event struct {
	Index   int    `json:"index"`
	Time    int64  `json:"time"` // nanoseconds since the run started, monotonic
	Process int    `json:"process"`
	Type    Type   `json:"type"`
	F       Func   `json:"f"`
	Key     string `json:"key,omitempty"`
	// Value is any JSON value. A read's invoke carries nil; its ok carries
	// the value read (nil when absent); a cas carries [expected, new].
	// Numbers decoded by Reader are json.Number, so they round-trip exactly.
	Value any `json:"value"`
	// Node is the node a client operation went to, or the nodes a nemesis
	// step acted on (comma-separated; see Nodes).
	Node  string `json:"node,omitempty"`
	Error string `json:"error,omitempty"`
	// Label is what a nemesis step did, in words ("isolate n3 | n1 n2 n4
	// n5", "kill n2"), written by the fault itself so a reader need not
	// reconstruct it from Value.
	Label string `json:"label,omitempty"`
}

// IsNemesis reports whether e was recorded by the nemesis.
func (e Event) IsNemesis() bool { return e.Process == NemesisProcess }

// IsClient reports whether e belongs to a client operation (process >= 0).
// Checkers of client operations skip every other event.
func (e Event) IsClient() bool { return e.Process >= 0 }

// ValueKey returns a canonical string for e.Value, suitable for comparing
// values that took different Go types on the way (an int written, a
// json.Number read back). Numbers compare by value: 1, 1.0 and 1e0 have
// one key.
func ValueKey(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if plainString(x) {
			return `"` + x + `"`
		}
	case json.Number:
		return canonNumber(string(x))
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			break
		}
		return canonNumber(strconv.FormatFloat(x, 'g', -1, 64))
	}
	b, err := json.Marshal(canonValue(v))
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// plainString reports whether s marshals to itself in quotes.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// canonValue replaces every number inside v by its canonical json.Number.
func canonValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		return json.Number(canonNumber(string(x)))
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return x
		}
		return json.Number(canonNumber(strconv.FormatFloat(x, 'g', -1, 64)))
	case float32:
		return canonValue(float64(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = canonValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = canonValue(e)
		}
		return out
	}
	return v
}

// canonNumber is the exact canonical text of a JSON number: an integer
// without sign of zero, exponent or fraction ("1.0", "1e0" -> "1"), else
// the reduced fraction's decimal or ratio form, so equal values compare
// equal and different ones never do.
func canonNumber(s string) string {
	if plainInt(s) {
		return s
	}
	var r big.Rat
	if _, ok := r.SetString(s); !ok {
		return s
	}
	if r.IsInt() {
		return r.Num().String()
	}
	if f, exact := r.Float64(); exact {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	// A decimal's denominator is 2^a·5^b: max(a, b) places show it exactly.
	places, d := 0, new(big.Int).Set(r.Denom())
	two, five, m := big.NewInt(2), big.NewInt(5), new(big.Int)
	for d.Cmp(big.NewInt(1)) > 0 {
		if m.Mod(d, two); m.Sign() == 0 {
			d.Quo(d, two)
		} else if m.Mod(d, five); m.Sign() == 0 {
			d.Quo(d, five)
		} else {
			return r.String() // not a decimal; cannot come from JSON
		}
		places++
	}
	return strings.TrimRight(r.FloatString(places), "0")
}

// plainInt reports whether s is already canonical: an optional minus, then
// digits without a leading zero (or "0").
func plainInt(s string) bool {
	d := s
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
		if d == "0" {
			return false
		}
	}
	if d == "" || (d[0] == '0' && len(d) > 1) {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}
