package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// LineError names the line of a history that could not be read.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// ErrTruncated marks a last line with no newline that does not parse: what a
// writer killed mid-line leaves. ReadFile drops such a line and returns the
// events before it together with this error wrapped in a *LineError, so a
// caller may choose to go on.
var ErrTruncated = errors.New("truncated last line (the writer was probably killed mid-write)")

// ReadFile reads a JSON-lines history from path.
func ReadFile(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	return Read(f, path)
}

// Read reads a JSON-lines history; name is used in errors. Blank lines are
// skipped. Each line must be an object with a known type, a non-negative
// process, -1 or -2, and an f. Events keep the index they carry; a history
// without indexes (a foreign one) is numbered by position.
func Read(r io.Reader, name string) ([]Event, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var events []Event
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			return events, nil
		}
		if err != nil && err != io.EOF {
			return events, fmt.Errorf("history: read %s: %w", name, err)
		}
		complete := err == nil
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		e, perr := parseLine(line, len(events))
		if perr != nil {
			if !complete {
				return events, &LineError{File: name, Line: lineNo, Err: ErrTruncated}
			}
			return events, &LineError{File: name, Line: lineNo, Err: perr}
		}
		events = append(events, e)
		if !complete {
			return events, nil
		}
	}
}

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

func parseLine(line []byte, position int) (Event, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var raw rawEvent
	if err := dec.Decode(&raw); err != nil {
		return Event{}, fmt.Errorf("not a JSON event: %w", err)
	}
	if dec.More() {
		return Event{}, errors.New("more than one JSON value on the line")
	}
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
