package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lineErr reads in and expects a *LineError at line want whose message
// contains every one of subs.
func lineErr(t *testing.T, in string, want int, subs ...string) {
	t.Helper()
	_, err := Read(strings.NewReader(in), "h.jsonl")
	var le *LineError
	if !errors.As(err, &le) || le.Line != want {
		t.Fatalf("err = %v, want a LineError at h.jsonl:%d", err, want)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %q", err, s)
		}
	}
}

func TestReadRejectsACompletionOfAnotherOperation(t *testing.T) {
	lineErr(t, `{"process":0,"type":"invoke","f":"write","key":"k","value":1}
{"process":0,"type":"ok","f":"read","key":"other","value":1}
`, 2, `ok completion of process 0 is read of key "other"`, "line 1", `write of key "k"`)
	// Same f, other key.
	lineErr(t, `{"process":3,"type":"invoke","f":"write","key":"a","value":1}
{"process":4,"type":"invoke","f":"read","key":"a"}
{"process":3,"type":"info","f":"write","key":"b","value":1}
`, 3, `key "b"`)
}

func TestReadRejectsNegativeAndDuplicateIndices(t *testing.T) {
	lineErr(t, `{"index":-1,"process":0,"type":"invoke","f":"read","key":"a"}
`, 1, "index -1 is negative")
	lineErr(t, `{"index":0,"time":1,"process":0,"type":"invoke","f":"read","key":"a"}
{"index":1,"time":2,"process":0,"type":"ok","f":"read","key":"a"}
{"index":0,"time":3,"process":1,"type":"invoke","f":"read","key":"a"}
`, 3, "index 0 repeats the index of line 1")
	// Unique but not increasing indices are fine.
	if _, err := Read(strings.NewReader(`{"index":5,"process":0,"type":"invoke","f":"read"}
{"index":2,"process":0,"type":"ok","f":"read"}
`), "h"); err != nil {
		t.Fatal(err)
	}
}

func TestReadExplainsANullLine(t *testing.T) {
	lineErr(t, "null\n", 1, "not a JSON object", `"null"`)
	lineErr(t, `{"process":0,"type":"invoke","f":"read"}`+"\n[1,2]\n", 2, "not a JSON object")
}

func TestReadSortsBackwardTimesStably(t *testing.T) {
	in := `{"index":0,"time":10,"process":0,"type":"invoke","f":"write","key":"a","value":1}
{"index":1,"time":30,"process":0,"type":"ok","f":"write","key":"a","value":1}
{"index":2,"time":20,"process":1,"type":"invoke","f":"read","key":"a"}
{"index":3,"time":20,"process":2,"type":"invoke","f":"read","key":"a"}
{"index":4,"time":40,"process":1,"type":"ok","f":"read","key":"a","value":1}
`
	events, err := Read(strings.NewReader(in), "h")
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, e := range events {
		got = append(got, e.Index)
	}
	if want := []int{0, 2, 3, 1, 4}; !equalInts(got, want) {
		t.Fatalf("order %v, want %v (by time, equal times in line order)", got, want)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReadBoundsTheLineLength(t *testing.T) {
	ok := `{"process":0,"type":"invoke","f":"write","key":"k","value":"` + strings.Repeat("x", MaxLineBytes-100) + `"}` + "\n"
	if _, err := Read(strings.NewReader(ok), "h"); err != nil {
		t.Fatalf("a line just under MaxLineBytes: %v", err)
	}
	long := `{"process":0,"type":"invoke","f":"write","key":"k","value":"` + strings.Repeat("x", MaxLineBytes) + `"}` + "\n"
	lineErr(t, `{"process":1,"type":"invoke","f":"read"}`+"\n"+long, 2, "longer than 1048576 bytes")
	// A stream with no newline at all stops at the bound, not at EOF.
	_, err := Read(zeros{}, "/dev/zero-like")
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("err = %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestReadFileRefusesNonRegularFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadFile(fifo); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Fatalf("fifo: err = %v, want ErrNotRegular", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadFile blocked on a FIFO")
	}
	for _, dev := range []string{"/dev/zero", "/dev/null"} {
		if _, err := os.Stat(dev); err != nil {
			continue
		}
		if _, err := ReadFile(dev); !errors.Is(err, ErrNotRegular) {
			t.Errorf("%s: err = %v, want ErrNotRegular", dev, err)
		}
	}
}

func TestValueKeyComparesNumbersByValue(t *testing.T) {
	same := [][]any{
		{1, "1", "1.0", "1e0", "10e-1", 1.0},
		{0, "0", "-0", "0.0", "0e5"},
		{-3, "-3", "-3.00", "-0.3e1"},
		{1.5, "1.5", "1.50", "15e-1"},
		{0.1, "0.1", "1e-1", "0.10"},
		{"123456789012345678901234567890", "1.23456789012345678901234567890e29"},
	}
	key := func(v any) string {
		if s, ok := v.(string); ok {
			return ValueKey(numberOf(s))
		}
		return ValueKey(v)
	}
	for _, group := range same {
		k := key(group[0])
		for _, v := range group[1:] {
			if got := key(v); got != k {
				t.Errorf("ValueKey(%v) = %s, want %s (as %v)", v, got, k, group[0])
			}
		}
	}
	differ := [][2]string{{"1", "1.0000000000000000001"}, {"0.1", "0.10000000000000001"},
		{"123456789012345678901234567890", "123456789012345678901234567891"}}
	for _, d := range differ {
		if ValueKey(numberOf(d[0])) == ValueKey(numberOf(d[1])) {
			t.Errorf("%s and %s compare equal", d[0], d[1])
		}
	}
	// Inside lists and objects too, and strings stay strings.
	if ValueKey([]any{numberOf("2.0"), "x"}) != ValueKey([]any{2, "x"}) {
		t.Error("numbers inside a list are not compared by value")
	}
	if ValueKey("1") == ValueKey(1) {
		t.Error(`the string "1" compares equal to the number 1`)
	}
	if ValueKey(`a"b<`) != `"a\"b\u003c"` {
		t.Errorf("escaped string key %s", ValueKey(`a"b<`))
	}
}

// A history that writes 1 and reads 1.0 reads back values with one key.
func TestReadWrittenAndReadNumbersCompareEqual(t *testing.T) {
	events, err := Read(strings.NewReader(`{"process":0,"type":"invoke","f":"write","key":"a","value":1}
{"process":0,"type":"ok","f":"write","key":"a","value":1}
{"process":0,"type":"invoke","f":"read","key":"a"}
{"process":0,"type":"ok","f":"read","key":"a","value":1.0}
`), "h")
	if err != nil {
		t.Fatal(err)
	}
	if ValueKey(events[1].Value) != ValueKey(events[3].Value) {
		t.Fatalf("1 and 1.0: %s != %s", ValueKey(events[1].Value), ValueKey(events[3].Value))
	}
}

func numberOf(s string) any { return json.Number(s) }

// endless is a history that never ends: valid lines forever.
type endless struct{ n int }

func (e *endless) Read(p []byte) (int, error) {
	k := 0
	for k+128 < len(p) {
		k += copy(p[k:], fmt.Sprintf("{\"index\":%d,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\"}\n{\"index\":%d,\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"key\":\"x\"}\n", e.n, e.n+1))
		e.n += 2
	}
	return k, nil
}

// An interrupt stops a read within milliseconds, however long the input:
// ctx is looked at every few thousand lines.
func TestReadStopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := ReadContext(ctx, &endless{}, "endless")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("read stopped %s after start, want within a second of the cancel", took)
	}
}
