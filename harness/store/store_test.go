package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestNewRunCreatesDistinctDirsAndLatest(t *testing.T) {
	results := t.TempDir()
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	a, err := NewRun(results, "quorum-s1", now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewRun(results, "quorum-s1", now)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two runs at the same instant share dir %s", a)
	}
	target, err := os.Readlink(filepath.Join(results, LatestLink))
	if err != nil {
		t.Fatal(err)
	}
	if target != filepath.Base(b) {
		t.Fatalf("latest -> %s, want %s", target, filepath.Base(b))
	}
	if fi, err := os.Stat(filepath.Join(b, "nodes")); err != nil || !fi.IsDir() {
		t.Fatalf("nodes dir missing: %v", err)
	}
}

func TestWriteReadJSONRoundTrip(t *testing.T) {
	dir := t.TempDir()
	in := map[string]any{"seed": 7.0, "system": "quorum"}
	if err := WriteJSON(dir, TestFile, in); err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := ReadJSON(dir, TestFile, &out); err != nil {
		t.Fatal(err)
	}
	if out["seed"] != 7.0 || out["system"] != "quorum" {
		t.Fatalf("round trip gave %v", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "."+TestFile+".tmp")); !os.IsNotExist(err) {
		t.Fatalf("temp file left behind: %v", err)
	}
}
