// Package store lays out a run's results directory:
//
//	<results>/<run-id>/test.json       the full configuration, seed and resolved defaults
//	<results>/<run-id>/history.jsonl   the history, written while the run goes on
//	<results>/<run-id>/results.json    the verdict, per checker, and statistics
//	<results>/<run-id>/harness.log     the harness's own log
//	<results>/<run-id>/nodes/<n>.log   each node's log
//	<results>/<run-id>/data/<n>/       each node's data dir
//	<results>/latest                   symlink to the newest run
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// File names inside a run dir.
const (
	TestFile    = "test.json"
	HistoryFile = "history.jsonl"
	ResultsFile = "results.json"
	HarnessLog  = "harness.log"
	LatestLink  = "latest"
)

// NewRun creates a fresh run dir under results named after the start time
// and label, and points results/latest at it.
func NewRun(results, label string, now time.Time) (string, error) {
	if err := os.MkdirAll(results, 0o755); err != nil {
		return "", fmt.Errorf("store: create results dir: %w", err)
	}
	base := now.UTC().Format("20060102T150405.000Z") + "-" + label
	for i := 0; ; i++ {
		id := base
		if i > 0 {
			id = fmt.Sprintf("%s-%d", base, i)
		}
		dir := filepath.Join(results, id)
		err := os.Mkdir(dir, 0o755)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("store: create run dir: %w", err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "nodes"), 0o755); err != nil {
			return "", fmt.Errorf("store: %w", err)
		}
		return dir, pointLatest(results, id)
	}
}

// pointLatest swaps results/latest to id atomically (symlink then rename),
// so a reader never sees it missing.
func pointLatest(results, id string) error {
	tmp := filepath.Join(results, fmt.Sprintf(".latest-%d", os.Getpid()))
	_ = os.Remove(tmp)
	if err := os.Symlink(id, tmp); err != nil {
		return fmt.Errorf("store: link latest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(results, LatestLink)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("store: link latest: %w", err)
	}
	return nil
}

// WriteJSON writes v, indented, to dir/name through a temp file and rename,
// so a crash leaves the old file or the new one, never half of one.
func WriteJSON(dir, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", name, err)
	}
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("store: write %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("store: write %s: %w", name, err)
	}
	return nil
}

// ReadJSON reads dir/name into v.
func ReadJSON(dir, name string, v any) error {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("store: %s: %w", filepath.Join(dir, name), err)
	}
	return nil
}
