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
// json.Number read back).
func ValueKey(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}
