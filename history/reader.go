package history

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"syscall"
)

// MaxLineBytes bounds one line of a history (1 MiB). The harness writes
// lines of a few hundred bytes; a longer line is rejected rather than read
// into memory, so a stream with no newline (/dev/zero, a binary file)
// cannot grow the reader without bound.
const MaxLineBytes = 1 << 20

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

// ErrNotRegular is returned for a path that is not a regular file (a FIFO,
// a device such as /dev/zero, a socket): a history is a file of bounded size.
var ErrNotRegular = errors.New("not a regular file")

// ReadFile reads a JSON-lines history from path, which must be a regular
// file. It is opened non-blocking, so a FIFO is refused instead of waiting
// for a writer.
func ReadFile(path string) ([]Event, error) { return ReadFileContext(context.Background(), path) }

// ReadFileContext is ReadFile that stops when ctx ends (an interrupt while
// reading millions of lines), within a few milliseconds, with ctx's error.
func ReadFileContext(ctx context.Context, path string) ([]Event, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("history: %s: %w (%s)", path, ErrNotRegular, fi.Mode().Type())
	}
	// Sized from the file, the events slice is not regrown (and copied)
	// twenty times on the way to millions of events. Lines are rarely
	// shorter than 80 bytes.
	return read(ctx, f, path, int(min(fi.Size()/80, 1<<26)))
}

// Read reads a JSON-lines history; name is used in errors. Blank lines are
// skipped. Each line must be one JSON object with a known type, a
// non-negative process, -1 or -2, and an f, at most MaxLineBytes long.
// Events keep the index they carry; a history without indexes (a foreign
// one) is numbered by position. Indices must be unique and non-negative.
//
// Events are returned in time order: lines whose times go backwards are
// sorted by time, stably (lines with equal times keep their order), rather
// than judged in line order. The harness's own histories are already in
// order. After sorting, a completion must name the same f and key as the
// open invoke of its process.
//
// Every error is a *LineError naming the offending line.
func Read(r io.Reader, name string) ([]Event, error) { return read(context.Background(), r, name, 0) }

// ReadContext is Read that stops when ctx ends, with ctx's error.
func ReadContext(ctx context.Context, r io.Reader, name string) ([]Event, error) {
	return read(ctx, r, name, 0)
}

// checkEvery is how many lines are read between looks at the context: a
// few milliseconds of work.
const checkEvery = 1 << 12

// read is Read with room for hint events, stopping when ctx ends.
func read(ctx context.Context, r io.Reader, name string, hint int) ([]Event, error) {
	events := make([]Event, 0, hint)
	lines := make([]int, 0, hint) // lines[i] is the line events[i] came from
	in := &interner{m: map[string]string{}}
	br := bufio.NewReaderSize(r, 1<<16)
	var long []byte // a line longer than the reader's buffer, gathered
	var readErr error
	for lineNo := 1; ; lineNo++ {
		if lineNo%checkEvery == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("history: read %s: stopped at line %d: %w", name, lineNo, ctx.Err())
		}
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				if len(long) > MaxLineBytes {
					return nil, &LineError{File: name, Line: lineNo,
						Err: fmt.Errorf("line longer than %d bytes (the limit of a history line)", MaxLineBytes)}
				}
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > MaxLineBytes+1 {
			return nil, &LineError{File: name, Line: lineNo,
				Err: fmt.Errorf("line longer than %d bytes (the limit of a history line)", MaxLineBytes)}
		}
		if len(line) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("history: read %s: %w", name, err)
		}
		complete := err == nil
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			if !complete {
				break
			}
			continue
		}
		e, perr := parseLine(line, len(events), in)
		if perr != nil {
			if !complete {
				readErr = &LineError{File: name, Line: lineNo, Err: ErrTruncated}
				break
			}
			return nil, &LineError{File: name, Line: lineNo, Err: perr}
		}
		events = append(events, e)
		lines = append(lines, lineNo)
		if !complete {
			break
		}
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("history: read %s: %w", name, ctx.Err())
	}
	events, lines = sortByTime(events, lines)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("history: read %s: %w", name, ctx.Err())
	}
	if err := validate(ctx, events, lines, name); err != nil {
		return nil, err
	}
	return events, readErr
}

// sortByTime orders events by time, stably, when their lines are not in
// time order already (the common case costs one pass).
func sortByTime(events []Event, lines []int) ([]Event, []int) {
	sorted := true
	for i := 1; i < len(events) && sorted; i++ {
		sorted = events[i].Time >= events[i-1].Time
	}
	if sorted {
		return events, lines
	}
	perm := make([]int, len(events))
	for i := range perm {
		perm[i] = i
	}
	sort.SliceStable(perm, func(a, b int) bool { return events[perm[a]].Time < events[perm[b]].Time })
	es, ls := make([]Event, len(events)), make([]int, len(events))
	for i, p := range perm {
		es[i], ls[i] = events[p], lines[p]
	}
	return es, ls
}

// validate checks what one line cannot show alone: indices are unique and
// non-negative, and a completion names the f and key of the operation its
// process has open (a write of k completed by a read of j is two
// operations confused, not one).
func validate(ctx context.Context, events []Event, lines []int, name string) error {
	type openOp struct {
		f    Func
		key  string
		line int
	}
	open := map[int]openOp{}
	var seen map[int]int // index -> line, once indices stop increasing
	last := -1
	for i, e := range events {
		if i%checkEvery == 0 && ctx.Err() != nil {
			return fmt.Errorf("history: read %s: %w", name, ctx.Err())
		}
		fail := func(format string, args ...any) error {
			return &LineError{File: name, Line: lines[i], Err: fmt.Errorf(format, args...)}
		}
		if e.Index < 0 {
			return fail("index %d is negative", e.Index)
		}
		if seen == nil && e.Index <= last {
			// Indices no longer increase (sorted by time, or written out
			// of order): remember every one from here on.
			seen = make(map[int]int, len(events))
			for j := range i {
				seen[events[j].Index] = lines[j]
			}
		}
		if seen != nil {
			if l, dup := seen[e.Index]; dup {
				return fail("index %d repeats the index of line %d", e.Index, l)
			}
			seen[e.Index] = lines[i]
		}
		last = e.Index
		if !e.IsClient() {
			continue
		}
		if e.Type == Invoke {
			open[e.Process] = openOp{f: e.F, key: e.Key, line: lines[i]}
			continue
		}
		o, ok := open[e.Process]
		if !ok {
			continue // history.Pair reports a completion with no invoke
		}
		delete(open, e.Process)
		if o.f != e.F || o.key != e.Key {
			return fail("%s completion of process %d is %s of key %q, but its invoke (line %d) is %s of key %q",
				e.Type, e.Process, e.F, e.Key, o.line, o.f, o.key)
		}
	}
	return nil
}
