package history

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Recorder numbers, timestamps and writes events as they happen. Each event
// reaches the underlying writer in a single Write call before Record returns,
// so with an *os.File a harness killed with SIGKILL still leaves every
// completed line on disk. Safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	w      io.Writer
	start  time.Time // holds a monotonic reading; Since uses it
	events []Event
	err    error
}

// NewRecorder records to w, with times measured from start.
func NewRecorder(w io.Writer, start time.Time) *Recorder {
	return &Recorder{w: w, start: start}
}

// Record stamps e with the next index and the current time, writes it and
// returns the stamped event. A write error is kept (see Err) and later
// events are still kept in memory, so a full disk loses lines, not the run.
func (r *Recorder) Record(e Event) Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	e.Index = len(r.events)
	e.Time = int64(time.Since(r.start))
	r.events = append(r.events, e)
	if r.err == nil {
		line, err := json.Marshal(e)
		if err != nil {
			// A value JSON cannot carry (NaN, a channel) must not cost the
			// rest of the file: write it as text and say so.
			e.Error = strings.TrimSpace(e.Error + fmt.Sprintf(" (value not JSON-encodable: %v)", err))
			e.Value = fmt.Sprintf("%v", e.Value)
			r.events[len(r.events)-1] = e
			if line, err = json.Marshal(e); err != nil {
				r.err = fmt.Errorf("history: encode event %d: %w", e.Index, err)
				return e
			}
		}
		line = append(line, '\n')
		if _, err := r.w.Write(line); err != nil {
			r.err = fmt.Errorf("history: write event %d: %w", e.Index, err)
		}
	}
	return e
}

// Events returns a copy of everything recorded so far.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// Err returns the first write error, if any.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Write writes events as JSON lines, as they are (no renumbering).
func Write(w io.Writer, events []Event) error {
	enc := json.NewEncoder(w)
	for _, e := range events {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("history: write event %d: %w", e.Index, err)
		}
	}
	return nil
}
