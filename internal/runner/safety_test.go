package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/outcome"
	"github.com/faultline/faultline/systems"
)

// The results dir removed while the clients run: the run is still judged
// on what it recorded (its history file was open and stays writable), the
// verdict is returned with its exit code, and storing it is only a
// warning.
func TestRunWhoseResultsDirIsRemovedMidRunKeepsItsVerdict(t *testing.T) {
	tt := memTest(t)
	var once sync.Once
	removed := make(chan struct{})
	out, _, err := runMem(context.Background(), t, tt, func(s *memSystem) {
		s.onInvoke = func(systems.Op) {
			once.Do(func() {
				if err := os.RemoveAll(tt.ResultsDir); err != nil {
					t.Error(err)
				}
				close(removed)
			})
		}
	})
	<-removed
	if err != nil {
		t.Fatalf("err = %v; want the verdict, not an error", err)
	}
	if out.Verdict != checkers.Valid || out.ExitCode() != exitcode.Valid || out.HistoryError != "" {
		t.Fatalf("verdict %s (%q), exit %d, history error %q; want valid, exit 0", out.Verdict, out.Reason, out.ExitCode(), out.HistoryError)
	}
	if out.Stats.Ops.OK == 0 {
		t.Fatal("no operation judged")
	}
	if _, err := os.Stat(tt.ResultsDir); err == nil {
		t.Fatal("the results dir came back")
	}
}

// The results dir removed before the history file could be created: the
// run goes on, is judged from memory, and says why it is unknown.
func TestRunWhoseHistoryCannotBeCreatedIsUnknownAndSaysWhy(t *testing.T) {
	tt := memTest(t)
	out, _, err := runMem(context.Background(), t, tt, func(s *memSystem) {
		s.onNewClient = func() {
			if err := os.RemoveAll(tt.ResultsDir); err != nil {
				t.Error(err)
			}
		}
	})
	if err != nil {
		t.Fatalf("err = %v; want a verdict", err)
	}
	if out.Verdict != checkers.Unknown || out.ExitCode() != exitcode.Unknown ||
		!strings.Contains(out.HistoryError, "create history") || !strings.Contains(out.Reason, "could not be stored in full") {
		t.Fatalf("verdict %s (%q), history error %q; want unknown, naming the history", out.Verdict, out.Reason, out.HistoryError)
	}
}

// failingHistory is a history file whose writes fail after the first
// okWrites; it counts fsyncs.
type failingHistory struct {
	*os.File
	okWrites int
	writes   atomic.Int32
	syncs    atomic.Int32
}

func (f *failingHistory) Write(p []byte) (int, error) {
	if int(f.writes.Add(1)) > f.okWrites {
		return 0, errors.New("injected: no space left on device")
	}
	return f.File.Write(p)
}

func (f *failingHistory) Sync() error {
	f.syncs.Add(1)
	return f.File.Sync()
}

// withHistory makes the runs of the test write their history through
// wrap.
func withHistory(t *testing.T, wrap func(*os.File) historyFile) {
	old := createHistory
	t.Cleanup(func() { createHistory = old })
	createHistory = func(path string) (historyFile, error) {
		f, err := old(path)
		if err != nil {
			return nil, err
		}
		return wrap(f.(*os.File)), nil
	}
}

// A write error part-way through the history makes the run unknown with
// the reason in results.json, though every event was judged from memory;
// the file holds the lines before the error and nothing after it.
func TestHistoryWriteErrorMakesTheRunUnknownWithTheReason(t *testing.T) {
	var h *failingHistory
	withHistory(t, func(f *os.File) historyFile {
		h = &failingHistory{File: f, okWrites: 10}
		return h
	})
	out, _, err := runMem(context.Background(), t, memTest(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.Verdict != checkers.Unknown || out.ExitCode() != exitcode.Unknown {
		t.Fatalf("verdict %s (%q); want unknown (exit 3)", out.Verdict, out.Reason)
	}
	stored, err := outcome.Read(out.RunDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{stored.HistoryError, stored.Reason} {
		if !strings.Contains(s, "injected: no space left on device") || !strings.Contains(s, "write event 10") {
			t.Errorf("results.json: %q; want the write error and its event", s)
		}
	}
	if stored.Verdict != checkers.Unknown {
		t.Errorf("results.json verdict %s, want unknown", stored.Verdict)
	}
	events, err := history.ReadFile(filepath.Join(out.RunDir, store.HistoryFile))
	if err != nil || len(events) != 10 {
		t.Fatalf("history.jsonl: %d events (%v); want the 10 before the error", len(events), err)
	}
	if out.Stats.Ops.Total <= 10 {
		t.Fatalf("judged %d ops; want every event, from memory", out.Stats.Ops.Total)
	}
}

// A run ends with its history fsynced (and closed).
func TestRunFsyncsItsHistoryWhenItEnds(t *testing.T) {
	var h *failingHistory
	withHistory(t, func(f *os.File) historyFile {
		h = &failingHistory{File: f, okWrites: 1 << 30}
		return h
	})
	out, _, err := runMem(context.Background(), t, memTest(t), nil)
	if err != nil || out.Verdict != checkers.Valid {
		t.Fatalf("%v, %+v; want a valid run", err, out)
	}
	if n := h.syncs.Load(); n != 1 {
		t.Fatalf("history fsynced %d times; want once, at the end", n)
	}
	if _, err := h.File.Write([]byte("x")); err == nil {
		t.Fatal("the history file is still open after the run")
	}
}

// A panic in a client worker is an internal error (exit 4) with its stack;
// the cluster is torn down and results.json says what happened.
func TestPanicInAClientIsAnInternalError(t *testing.T) {
	tt := memTest(t)
	var n atomic.Int32
	out, _, err := runMem(context.Background(), t, tt, func(s *memSystem) {
		s.onInvoke = func(systems.Op) {
			if n.Add(1) == 5 {
				panic("test: the client adapter panics")
			}
		}
	})
	var ie *exitcode.InternalError
	if out != nil || !errors.As(err, &ie) || exitcode.FromError(err) != exitcode.Internal {
		t.Fatalf("out %v, err %v (%T); want an *exitcode.InternalError (exit 4)", out, err, err)
	}
	if !strings.Contains(err.Error(), "panic in client worker") || !strings.Contains(err.Error(), "test: the client adapter panics") {
		t.Errorf("error %q does not say where and what panicked", err)
	}
	if !strings.Contains(string(ie.Stack), "memClient.Invoke") {
		t.Errorf("stack does not reach the panic:\n%s", ie.Stack)
	}
	runs, _ := filepath.Glob(filepath.Join(tt.ResultsDir, "*-mem-*"))
	if len(runs) != 1 {
		t.Fatalf("run dirs %v", runs)
	}
	res, rerr := outcome.Read(runs[0])
	if rerr != nil || res.Verdict != checkers.Unknown || !strings.Contains(res.Reason, "internal error: panic") {
		t.Fatalf("results.json %+v (%v); want unknown, naming the panic", res, rerr)
	}
}
