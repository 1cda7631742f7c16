// Package report writes a run's HTML report and the index of all runs.
//
// A report is built from files only — a run dir's test.json, results.json,
// history.jsonl, checker artifacts and nodes/*.log, or a bare history file —
// so the end of `faultline run` and `faultline check` on a stored run make
// the same page. The page is one self-contained file: CSS, script and the
// history's figures are inline, and a Content-Security-Policy forbids every
// fetch, so it opens offline from a CI artifact. Every value that comes from a
// history or a log reaches the page through html/template or textContent,
// never as markup.
package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/outcome"
)

// File is the report's name inside a run dir.
const File = store.ReportFile

// Input says where a report's material is and where the page goes.
type Input struct {
	// Dir is a run dir (test.json, results.json, nodes/, checker files);
	// empty for a bare history file.
	Dir string
	// History is the history file; default Dir/history.jsonl.
	History string
	// Results, when set, is the verdict to show instead of Dir/results.json:
	// `faultline check` judges anew and stores no results.json.
	Results *outcome.Result
	// ArtifactDir holds the files the checkers list (Porcupine pages);
	// default Dir, or nowhere for a bare history.
	ArtifactDir string
	// Out is the page's path; default Dir/report.html, or NAME.report.html
	// beside a bare history file NAME.jsonl.
	Out string
	// Events, when set, is the history already read from History
	// (`faultline check` passes what it judged): it is not read twice.
	Events []history.Event
	// ExplainBudget bounds the search for the smallest failing piece of each
	// failing key's history; default 10 s for all keys together.
	ExplainBudget time.Duration
	_             struct{}
}

// OutPath is where Write puts the report for in.
func OutPath(in Input) string {
	switch {
	case in.Out != "":
		return in.Out
	case in.Dir != "":
		return filepath.Join(in.Dir, File)
	default:
		base := strings.TrimSuffix(in.History, filepath.Ext(in.History))
		return base + ".report.html"
	}
}

// Write builds the report for in and writes it (through a temp file and a
// rename, so a reader never sees half a page). It returns the page's path.
func Write(ctx context.Context, in Input) (string, error) {
	if in.Dir == "" && in.History == "" {
		return "", errors.New("report: neither a run dir nor a history file given")
	}
	if in.History == "" {
		in.History = filepath.Join(in.Dir, store.HistoryFile)
	}
	if in.ArtifactDir == "" {
		in.ArtifactDir = in.Dir
	}
	if in.ExplainBudget <= 0 {
		in.ExplainBudget = 10 * time.Second
	}
	out := OutPath(in)
	m, err := load(in)
	if err != nil {
		return "", err
	}
	page := build(ctx, m, filepath.Dir(out), in.ExplainBudget)
	if ctx.Err() != nil {
		// Interrupted (a check's Ctrl-C): no page rather than a late one.
		// A run publishes with a context of its own, so it keeps its page.
		return "", fmt.Errorf("report: %w", ctx.Err())
	}
	// A temp name of its own: two writers (runs ending together, a check
	// during a run) never rename each other's half-written file.
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	tmp := f.Name()
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(tmp)
		return "", fmt.Errorf("report: %w", err)
	}
	if err := render(f, page); err != nil {
		f.Close()
		os.Remove(tmp)
		return "", fmt.Errorf("report: render %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("report: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("report: %w", err)
	}
	return out, nil
}

// material is everything a report is built from.
type material struct {
	in       Input
	test     *outcome.Spec   // nil when there is no test.json
	results  *outcome.Result // nil when there is neither results.json nor in.Results
	events   []history.Event
	problems []string // what could not be read, shown on the page
	logs     []string // node log paths
}

func load(in Input) (*material, error) {
	m := &material{in: in, results: in.Results}
	events, err := in.Events, error(nil)
	if events == nil {
		events, err = history.ReadFile(in.History)
	}
	var le *history.LineError
	switch {
	case err == nil:
	case errors.As(err, &le) && errors.Is(err, history.ErrTruncated):
		m.problems = append(m.problems, err.Error())
	case errors.Is(err, os.ErrNotExist) && in.Dir != "":
		// A run whose cluster never came up has no history; its page
		// still shows the configuration and the reason.
		m.problems = append(m.problems, "no history: "+err.Error())
	default:
		return nil, fmt.Errorf("report: %w", err)
	}
	m.events = events
	if in.Dir == "" {
		return m, nil
	}
	if t, err := outcome.ReadSpec(in.Dir); err != nil {
		m.problems = append(m.problems, err.Error())
	} else {
		m.test = &t
	}
	if m.results == nil {
		var r outcome.Result
		if err := readJSON(filepath.Join(in.Dir, store.ResultsFile), &r); err != nil {
			m.problems = append(m.problems, err.Error())
		} else {
			m.results = &r
		}
	}
	m.logs, _ = filepath.Glob(filepath.Join(in.Dir, "nodes", "*.log"))
	return m, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
