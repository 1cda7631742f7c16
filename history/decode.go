package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

type rawEvent struct {
	Index   *int   `json:"index"`
	Time    int64  `json:"time"`
	Process *int   `json:"process"`
	Type    Type   `json:"type"`
	F       *Func  `json:"f"`
	Key     string `json:"key"`
	Value   any    `json:"value"`
	Node    string `json:"node"`
	Error   string `json:"error"`
	Label   string `json:"label"`
}

// parseLine decodes one non-blank line into an event numbered position
// unless the line carries its own index.
func parseLine(line []byte, position int, in *interner) (Event, error) {
	if line[0] != '{' {
		return Event{}, fmt.Errorf("not a JSON object: %s (each line must be one event object)", abbrev(line))
	}
	if e, ok := fastParse(line, position, in); ok {
		return e, nil
	}
	return slowParse(line, position)
}

// slowParse decodes a line with encoding/json: every line fastParse
// declines, and the wording of every error.
func slowParse(line []byte, position int) (Event, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var raw rawEvent
	if err := dec.Decode(&raw); err != nil {
		return Event{}, fmt.Errorf("not a JSON event: %w", err)
	}
	if dec.More() {
		return Event{}, errors.New("more than one JSON value on the line")
	}
	return raw.event(position)
}

func (raw *rawEvent) event(position int) (Event, error) {
	if !raw.Type.Valid() {
		return Event{}, fmt.Errorf("type %q is not one of invoke, ok, fail, info", raw.Type)
	}
	if raw.Process == nil {
		return Event{}, errors.New(`missing "process"`)
	}
	if *raw.Process < ObserverProcess {
		return Event{}, fmt.Errorf("process %d is negative (only -1, the nemesis, and -2, the observer, are allowed)", *raw.Process)
	}
	if raw.F == nil || *raw.F == "" {
		return Event{}, errors.New(`missing "f"`)
	}
	e := Event{
		Index: position, Time: raw.Time, Process: *raw.Process, Type: raw.Type,
		F: *raw.F, Key: raw.Key, Value: raw.Value, Node: raw.Node, Error: raw.Error, Label: raw.Label,
	}
	if raw.Index != nil {
		e.Index = *raw.Index
	}
	return e, nil
}

// abbrev shows at most 40 bytes of a bad line.
func abbrev(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q…", b[:40])
	}
	return fmt.Sprintf("%q", b)
}
