package faultline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/store"
)

// writeHistory writes a run dir whose history is lines (one JSON event
// each, index and time filled in: event i happens at i ms).
func writeHistory(t *testing.T, lines ...string) *Result {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	for i, l := range lines {
		fmt.Fprintf(&b, `{"index":%d,"time":%d,%s}`+"\n", i, int64(i)*int64(time.Millisecond), l)
	}
	if err := os.WriteFile(filepath.Join(dir, "history.jsonl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := store.WriteJSON(dir, store.TestFile, New(builtin(t, "quorum"))); err != nil {
		t.Fatal(err)
	}
	return &Result{RunDir: dir}
}

func TestFirstAnomalyFindsTheFirstBadRead(t *testing.T) {
	r := writeHistory(t,
		`"process":0,"type":"invoke","f":"write","key":"a","value":1`,
		`"process":0,"type":"ok","f":"write","key":"a","value":1`,
		`"process":1,"type":"invoke","f":"read","key":"a","value":null`,
		`"process":1,"type":"ok","f":"read","key":"a","value":1`,
		`"process":0,"type":"invoke","f":"write","key":"a","value":2`,
		`"process":0,"type":"ok","f":"write","key":"a","value":2`,
		// A stale read: 1 after the write of 2 completed. Index 7.
		`"process":1,"type":"invoke","f":"read","key":"a","value":null`,
		`"process":1,"type":"ok","f":"read","key":"a","value":1`,
		`"process":0,"type":"invoke","f":"read","key":"a","value":null`,
		`"process":0,"type":"ok","f":"read","key":"a","value":2`,
		`"process":2,"type":"invoke","f":"read","key":"a","value":null`,
		`"process":2,"type":"ok","f":"read","key":"a","value":7`,
	)
	e, at, err := FirstAnomaly(context.Background(), r, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if e.Index != 7 || at != 7*time.Millisecond {
		t.Fatalf("first anomaly: event %d at %s, want event 7 (the stale read) at 7ms", e.Index, at)
	}
}

func TestFirstAnomalyOfAValidHistory(t *testing.T) {
	r := writeHistory(t,
		`"process":0,"type":"invoke","f":"write","key":"a","value":1`,
		`"process":0,"type":"ok","f":"write","key":"a","value":1`,
		`"process":1,"type":"invoke","f":"read","key":"a","value":null`,
		`"process":1,"type":"ok","f":"read","key":"a","value":1`,
	)
	if _, _, err := FirstAnomaly(context.Background(), r, 10*time.Second); !errors.Is(err, ErrNoAnomaly) {
		t.Fatalf("err = %v, want ErrNoAnomaly", err)
	}
}
