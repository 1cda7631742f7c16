package storage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func rec(key string, counter, writer uint64, value string) Record {
	return Record{Key: key, Version: Version{Counter: counter, Writer: writer}, Value: []byte(value)}
}

func mustOpen(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustPut(t *testing.T, s *Store, r Record) bool {
	t.Helper()
	applied, err := s.Put(r)
	if err != nil {
		t.Fatalf("Put(%q %v): %v", r.Key, r.Version, err)
	}
	return applied
}

func wantValue(t *testing.T, s *Store, key string, v Version, value string) {
	t.Helper()
	got, ok := s.Get(key)
	if !ok {
		t.Fatalf("Get(%q): absent, want %v %q", key, v, value)
	}
	if got.Version != v || string(got.Value) != value {
		t.Fatalf("Get(%q) = %v %q, want %v %q", key, got.Version, got.Value, v, value)
	}
}

func TestVersionLess(t *testing.T) {
	tests := []struct {
		a, b Version
		want bool
	}{
		{Version{}, Version{1, 0}, true},
		{Version{1, 2}, Version{1, 3}, true},
		{Version{1, 3}, Version{1, 2}, false},
		{Version{1, 9}, Version{2, 1}, true},
		{Version{2, 1}, Version{1, 9}, false},
		{Version{3, 3}, Version{3, 3}, false},
	}
	for _, tt := range tests {
		if got := tt.a.Less(tt.b); got != tt.want {
			t.Errorf("%v.Less(%v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range []Record{
		rec("", 0, 0, ""),
		rec("k", 1, 2, "null"),
		rec("key with spaces", 1<<63, 1<<40|7, `{"a":[1,2,3]}`),
		{Key: string(bytes.Repeat([]byte("k"), 300)), Version: Version{5, 6}, Value: bytes.Repeat([]byte{0, 1, 2}, 10000)},
	} {
		b := appendRecord(nil, r)
		if len(b) != recordSize(r) {
			t.Errorf("recordSize(%q) = %d, encoded %d bytes", r.Key, recordSize(r), len(b))
		}
		got, n, err := decodeRecord(b)
		if err != nil || n != len(b) {
			t.Fatalf("decodeRecord: n=%d err=%v, want n=%d", n, err, len(b))
		}
		if got.Key != r.Key || got.Version != r.Version || !bytes.Equal(got.Value, r.Value) {
			t.Errorf("round trip of %q %v: got %q %v", r.Key, r.Version, got.Key, got.Version)
		}
	}
}

func TestReopenKeepsNewestVersions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	s := mustOpen(t, path, Options{})
	if !mustPut(t, s, rec("a", 1, 1, "1")) {
		t.Fatal("first put of a not applied")
	}
	mustPut(t, s, rec("a", 2, 1, "2"))
	if mustPut(t, s, rec("a", 1, 9, "stale")) {
		t.Error("put of an older version reported applied")
	}
	if mustPut(t, s, rec("a", 2, 1, "2")) {
		t.Error("put of the same version reported applied")
	}
	mustPut(t, s, rec("b", 7, 3, `"x"`))
	mustPut(t, s, rec("b", 7, 4, `"y"`)) // same counter, higher writer wins
	wantValue(t, s, "a", Version{2, 1}, "2")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(rec("c", 1, 1, "1")); !errors.Is(err, ErrClosed) {
		t.Errorf("Put after Close: err = %v, want ErrClosed", err)
	}

	s2 := mustOpen(t, path, Options{})
	wantValue(t, s2, "a", Version{2, 1}, "2")
	wantValue(t, s2, "b", Version{7, 4}, `"y"`)
	if s2.Len() != 2 {
		t.Errorf("Len = %d, want 2", s2.Len())
	}
	if _, ok := s2.Get("c"); ok {
		t.Error("key c exists, but its put failed")
	}
}

// writeLog writes records with a fresh store and returns the log's bytes.
func writeLog(t *testing.T, path string, recs ...Record) []byte {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		mustPut(t, s, r)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTornTailIsCutOff(t *testing.T) {
	recs := []Record{rec("a", 1, 1, "1"), rec("b", 1, 1, "2"), rec("c", 1, 1, "3")}
	lastSize := recordSize(recs[2])
	tests := []struct {
		name string
		tail func(full []byte) []byte // the file contents after the "crash"
	}{
		{"header cut", func(b []byte) []byte { return b[:len(b)-lastSize+5] }},
		{"payload cut", func(b []byte) []byte { return b[:len(b)-3] }},
		{"zero filled", func(b []byte) []byte {
			out := append([]byte(nil), b[:len(b)-lastSize]...)
			return append(out, make([]byte, lastSize+100)...)
		}},
		{"payload zeroed", func(b []byte) []byte {
			out := append([]byte(nil), b...)
			clear(out[len(out)-5:])
			return out
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			full := writeLog(t, path, recs...)
			if err := os.WriteFile(path, tt.tail(full), 0o644); err != nil {
				t.Fatal(err)
			}
			s := mustOpen(t, path, Options{})
			wantValue(t, s, "a", Version{1, 1}, "1")
			wantValue(t, s, "b", Version{1, 1}, "2")
			if _, ok := s.Get("c"); ok {
				t.Error("torn record c was replayed")
			}
			// The store appends after the cut, and the result replays.
			mustPut(t, s, rec("d", 1, 1, "4"))
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2 := mustOpen(t, path, Options{})
			wantValue(t, s2, "d", Version{1, 1}, "4")
			if s2.Len() != 3 {
				t.Errorf("Len after reopen = %d, want 3 (a, b, d)", s2.Len())
			}
		})
	}
}

func TestCorruptMiddleRecordIsAnError(t *testing.T) {
	recs := []Record{rec("a", 1, 1, "1111"), rec("b", 1, 1, "2222"), rec("c", 1, 1, "3333")}
	tests := []struct {
		name string
		off  int // byte to flip, in the first record
	}{
		{"length", 1},
		{"length checksum", 5},
		{"payload checksum", 9},
		{"payload", headerSize + 3},
		{"value", recordSize(recs[0]) - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log")
			b := writeLog(t, path, recs...)
			b[tt.off] ^= 0x40
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, Options{})
			if err == nil {
				_ = s.Close()
				t.Fatal("Open of a log with a corrupt first record succeeded")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

// gateFile holds every Sync until the gate opens, and reports when one is
// waiting.
type gateFile struct {
	File
	gate    chan struct{}
	waiting chan struct{}
	fail    error
}

func (g *gateFile) Sync() error {
	select {
	case g.waiting <- struct{}{}:
	default:
	}
	<-g.gate
	if g.fail != nil {
		return g.fail
	}
	return g.File.Sync()
}

// waitQueued waits until n appends sit in gc's queue.
func waitQueued(t *testing.T, gc *GroupCommit, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(gc.reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d appends queued after 10s, want %d", len(gc.reqs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestConcurrentPutsShareOneFsync(t *testing.T) {
	gf := &gateFile{gate: make(chan struct{}), waiting: make(chan struct{}, 1)}
	s := mustOpen(t, filepath.Join(t.TempDir(), "log"), Options{
		wrapFile: func(f File) File { gf.File = f; return gf },
	})
	var wg sync.WaitGroup
	put := func(r Record) {
		defer wg.Done()
		if _, err := s.Put(r); err != nil {
			t.Errorf("Put(%q): %v", r.Key, err)
		}
	}
	wg.Add(1)
	go put(rec("first", 1, 1, "0"))
	<-gf.waiting // the first put is written and its fsync is held

	if _, ok := s.Get("first"); ok {
		t.Error("a put is visible before its fsync completed")
	}
	const n = 20
	for i := range n {
		wg.Add(1)
		go put(rec(fmt.Sprintf("k%d", i), 1, 1, fmt.Sprint(i)))
	}
	waitQueued(t, s.gc, n)
	close(gf.gate)
	wg.Wait()

	st := s.Stats()
	if st.Commit.Batches != 2 || st.Commit.Appends != n+1 {
		t.Errorf("commit stats = %+v, want 2 batches (fsyncs) for %d appends", st.Commit, n+1)
	}
	for i := range n {
		wantValue(t, s, fmt.Sprintf("k%d", i), Version{1, 1}, fmt.Sprint(i))
	}
}

func TestFailedFsyncIsSticky(t *testing.T) {
	gf := &gateFile{gate: make(chan struct{}), waiting: make(chan struct{}, 1), fail: errors.New("EIO")}
	close(gf.gate)
	s := mustOpen(t, filepath.Join(t.TempDir(), "log"), Options{
		wrapFile: func(f File) File { gf.File = f; return gf },
	})
	if _, err := s.Put(rec("a", 1, 1, "1")); err == nil {
		t.Fatal("Put succeeded although fsync failed")
	}
	if _, ok := s.Get("a"); ok {
		t.Error("a put whose fsync failed is visible")
	}
	gf.fail = nil // the disk "recovers", but the log's state is unknown
	if _, err := s.Put(rec("b", 1, 1, "1")); err == nil {
		t.Error("Put after a failed fsync succeeded; the error must be sticky")
	}
}

func TestCompactOnOpenAndExplicit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	opts := Options{CompactMinBytes: 1, CompactRatio: 2}
	s := mustOpen(t, path, opts)
	for i := range 200 {
		mustPut(t, s, rec(fmt.Sprint("k", i%5), uint64(i+1), 1, fmt.Sprint(i)))
	}
	before := s.Stats()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := mustOpen(t, path, opts)
	after := s2.Stats()
	if after.LogBytes >= before.LogBytes || after.LogBytes != after.LiveBytes {
		t.Errorf("log bytes before %d, after reopen %d (live %d): want compacted to the live set",
			before.LogBytes, after.LogBytes, after.LiveBytes)
	}
	for k := range 5 {
		i := 195 + k
		wantValue(t, s2, fmt.Sprint("k", k), Version{uint64(i + 1), 1}, fmt.Sprint(i))
	}

	// Explicit compaction while puts run: nothing is lost.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if _, err := s2.Put(rec(fmt.Sprint("w", w), uint64(i+1), 1, fmt.Sprint(i))); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
			}
		}()
	}
	for range 5 {
		if err := s2.Compact(); err != nil {
			t.Fatalf("Compact: %v", err)
		}
	}
	wg.Wait()
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	s3 := mustOpen(t, path, Options{})
	for w := range 4 {
		wantValue(t, s3, fmt.Sprint("w", w), Version{50, 1}, "49")
	}
	if _, err := os.Stat(path + ".compact"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("compaction left its temporary file: %v", err)
	}
}

func TestNextIncarnation(t *testing.T) {
	dir := t.TempDir()
	for want := uint64(1); want <= 3; want++ {
		got, err := NextIncarnation(dir)
		if err != nil || got != want {
			t.Fatalf("NextIncarnation = %d, %v; want %d", got, err, want)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "INCARNATION"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NextIncarnation(dir); err == nil {
		t.Error("NextIncarnation accepted a junk file")
	}
}
