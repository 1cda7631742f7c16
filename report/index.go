package report

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/outcome"
)

type indexRow struct {
	ID, Href, Started, Verdict, Reason    string
	System, Workload, Nemesis, Bugs, Seed string
	Nodes, Ops                            string
}

// WriteIndex writes results/index.html (see RenderIndex) through a temp
// file and a rename, and returns its path.
func WriteIndex(results string) (string, error) {
	out := filepath.Join(results, store.IndexFile)
	// Runs that end together each rewrite the index: each through its own
	// temp file, so the last rename wins with a whole page.
	f, err := os.CreateTemp(results, "."+store.IndexFile+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("report: index: %w", err)
	}
	tmp := f.Name()
	bw := bufio.NewWriter(f)
	err = f.Chmod(0o644)
	if err == nil {
		err = RenderIndex(bw, results)
	}
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("report: index: %w", err)
	}
	return out, nil
}

// RenderIndex writes the index page of the runs under results: every run,
// newest first, with its verdict, linked to its report (or its dir when it
// has none). It reads only each run's test.json and results.json.
func RenderIndex(w io.Writer, results string) error {
	ids, err := store.Runs(results)
	if err != nil {
		return fmt.Errorf("report: index: %w", err)
	}
	var rows []indexRow
	var problems []string
	systems := map[string]bool{}
	for _, id := range ids {
		row, probs := indexRowOf(results, id)
		rows = append(rows, row)
		problems = append(problems, probs...)
		if row.System != "" {
			systems[row.System] = true
		}
	}
	err = indexTmpl.Execute(w, map[string]any{
		"CSP": indexCSP, "CSS": template.CSS(css), "Script": template.JS(indexJS),
		"Dir": results, "Runs": rows, "Problems": problems,
		"Systems": slices.Sorted(maps.Keys(systems)),
	})
	if err != nil {
		return fmt.Errorf("report: index: %w", err)
	}
	return nil
}

func indexRowOf(results, id string) (indexRow, []string) {
	var problems []string
	dir := filepath.Join(results, id)
	row := indexRow{ID: id, Href: id + "/", Verdict: "incomplete", Started: "—", Seed: "—", Nodes: "—", Ops: "—"}
	if t := store.RunStarted(id); !t.IsZero() {
		row.Started = t.Format("2006-01-02 15:04:05")
	}
	if _, err := os.Stat(filepath.Join(dir, File)); err == nil {
		row.Href = id + "/" + File
	}
	if t, err := outcome.ReadSpec(dir); err == nil {
		row.System, row.Workload = t.System, t.Workload
		row.Nemesis = strings.Join(t.Nemesis, ", ")
		row.Bugs = strings.Join(t.Bugs, ", ")
		row.Nodes = fmt.Sprint(t.Nodes)
		row.Seed = fmt.Sprint(t.Seed)
	} else if !errors.Is(err, fs.ErrNotExist) {
		problems = append(problems, err.Error())
	}
	var r outcome.Result
	switch err := readJSON(filepath.Join(dir, store.ResultsFile), &r); {
	case err == nil:
		row.Verdict, row.Reason = r.Verdict.String(), r.Reason
		if r.Stats.Ops.Total > 0 {
			row.Ops = fmt.Sprintf("%d (%d ok) in %.0f s", r.Stats.Ops.Total, r.Stats.Ops.OK, r.Stats.DurationS)
		}
	case os.IsNotExist(err):
		row.Reason = "no results.json: still running, or the harness died"
	default:
		problems = append(problems, err.Error())
	}
	return row, problems
}

// Publish writes a finished run's report and rewrites the results index
// beside it. It is what the runner calls after results.json: a failure is
// logged and never changes the run's verdict.
func Publish(ctx context.Context, runDir string, log *slog.Logger) {
	if path, err := Write(ctx, Input{Dir: runDir}); err != nil {
		log.Warn("no HTML report", "err", err)
	} else {
		log.Info("report written", "path", path)
	}
	if _, err := WriteIndex(filepath.Dir(runDir)); err != nil {
		log.Warn("no results index", "err", err)
	}
}
