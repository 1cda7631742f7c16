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
		if err := pointLatest(results, id); err != nil {
			return dir, err
		}
		// The run dir's name and latest survive a power loss.
		return dir, SyncDir(results)
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

// WriteJSON writes v, indented, to dir/name through WriteFile: a crash
// leaves the old file or the new one, never half of one, and a symlink at
// dir/name is replaced, never followed.
func WriteJSON(dir, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", name, err)
	}
	return WriteFile(dir, name, append(b, '\n'))
}

// WriteFile writes data to dir/name, durably and without following
// symlinks: into a temp file of its own in dir (created exclusively, so a
// planted name is never opened), fsynced, then renamed over dir/name —
// which replaces a symlink there rather than writing through it — and the
// directory fsynced so the rename survives a power loss. name must be a
// plain file name.
func WriteFile(dir, name string, data []byte) error {
	return writeFile(dir, name, data, true)
}

// writeFile is WriteFile; durable false skips the fsyncs (for files that
// can be made again from the history, such as checker artifacts).
func writeFile(dir, name string, data []byte, durable bool) error {
	if name != filepath.Base(name) || name == "." || name == ".." || name == "" {
		return fmt.Errorf("store: %q is not a plain file name", name)
	}
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return fmt.Errorf("store: write %s: %w", name, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("store: write %s: %w", name, err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if durable {
		if err := syncFile(f); err != nil {
			return fail(err)
		}
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: write %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: write %s: %w", name, err)
	}
	if durable {
		if err := SyncDir(dir); err != nil {
			return fmt.Errorf("store: write %s: %w", name, err)
		}
	}
	return nil
}

// File is the part of an *os.File CloseDurably needs.
type File interface {
	Sync() error
	Close() error
	Name() string
}

// CloseDurably fsyncs f (a file of a run dir still being written, such as
// the history), closes it and fsyncs its directory, so what was written
// survives a power loss once it returns nil. f is closed either way.
func CloseDurably(f File) error {
	var err error
	if of, ok := f.(*os.File); ok {
		err = syncFile(of)
	} else {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: %s: %w", filepath.Base(f.Name()), err)
	}
	return nil
}

// SyncDir fsyncs directory dir, so the names created or renamed in it
// survive a power loss.
func SyncDir(dir string) error {
	return syncDir(dir)
}

// syncFile and syncDir are the fsyncs; tests replace them to see that
// the paths above call them.
var (
	syncFile = (*os.File).Sync
	syncDir  = func(dir string) error {
		d, err := os.Open(dir)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := d.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", dir, err)
		}
		return nil
	}
)

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
			// Through a rename: a symlink planted under an artifact's
			// name is replaced, never written through.
			// (Not fsynced: faultline check makes them again.)
			if err := writeFile(dir, a.Name, a.Data, false); err != nil {
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
