// Package store lays out a run's results directory:
//
//	<results>/<run-id>/test.json       the full configuration, seed and resolved defaults
//	<results>/<run-id>/history.jsonl   the history, written while the run goes on
//	<results>/<run-id>/results.json    the verdict, per checker, and statistics
//	<results>/<run-id>/harness.log     the harness's own log
//	<results>/<run-id>/nodes/<n>.log   each node's log
//	<results>/<run-id>/data/<n>/       each node's data dir
//	<results>/<run-id>/report.html     the run's HTML report
//	<results>/latest                   symlink to the newest run
//	<results>/index.html               every run, newest first
package store

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers"
)

// File names inside a run dir.
const (
	TestFile    = "test.json"
	HistoryFile = "history.jsonl"
	ResultsFile = "results.json"
	HarnessLog  = "harness.log"
	ReportFile  = "report.html"
	LatestLink  = "latest"
	IndexFile   = "index.html"
	// idTime is the layout of the time a run id starts with.
	idTime = "20060102T150405.000Z"
)

// NewRun creates a fresh run dir under results named after the start time
// and label, and points results/latest at it.
func NewRun(results, label string, now time.Time) (string, error) {
	if err := os.MkdirAll(results, 0o755); err != nil {
		return "", fmt.Errorf("store: create results dir: %w", err)
	}
	base := now.UTC().Format(idTime) + "-" + label
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

// Runs lists the run ids under results, newest first: the dirs holding a
// test.json or a history (so stray dirs are left out), ordered by the start
// time their ids begin with, then by name.
func Runs(results string) ([]string, error) {
	entries, err := os.ReadDir(results)
	if err != nil {
		return nil, fmt.Errorf("store: list runs: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue // latest is a symlink, not a dir entry of its own
		}
		for _, f := range []string{TestFile, HistoryFile} {
			if _, err := os.Stat(filepath.Join(results, e.Name(), f)); err == nil {
				ids = append(ids, e.Name())
				break
			}
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		ta, tb := RunStarted(a), RunStarted(b)
		if c := tb.Compare(ta); c != 0 {
			return c
		}
		return cmp.Compare(b, a) // a later -N suffix is a later run
	})
	return ids, nil
}

// RunStarted is the start time a run id begins with, or the zero time for
// an id NewRun did not make.
func RunStarted(id string) time.Time {
	if len(id) < len(idTime) {
		return time.Time{}
	}
	t, err := time.Parse(idTime, id[:len(idTime)])
	if err != nil {
		return time.Time{}
	}
	return t
}

// WriteArtifacts writes every checker artifact that carries data into dir
// under its name, then drops the data, so results.json lists the names of
// files that exist. An artifact whose name is not a plain file name, or
// whose file cannot be written, is dropped from rs; the errors come back
// joined.
func WriteArtifacts(dir string, rs checkers.Results) error {
	var errs []error
	for name, r := range rs {
		kept := r.Artifacts[:0]
		for _, a := range r.Artifacts {
			if a.Data == nil {
				kept = append(kept, a) // already on disk (a stored result)
				continue
			}
			if a.Name != filepath.Base(a.Name) || a.Name == "." || a.Name == ".." || strings.HasPrefix(a.Name, ".") {
				errs = append(errs, fmt.Errorf("store: %s artifact %q: not a plain file name", name, a.Name))
				continue
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				errs = append(errs, fmt.Errorf("store: %w", err))
				continue
			}
			if err := os.WriteFile(filepath.Join(dir, a.Name), a.Data, 0o644); err != nil {
				errs = append(errs, fmt.Errorf("store: %s artifact: %w", name, err))
				continue
			}
			a.Data = nil
			kept = append(kept, a)
		}
		r.Artifacts = kept
		rs[name] = r
	}
	return errors.Join(errs...)
}
