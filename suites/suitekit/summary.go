package suitekit

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
)

// Summary registers a ReportAfterSuite that writes the suite's summary
// table — spec, state, verdict, seed, report — to
// <results>/summary-<suite>.md and prints it. Call it at the top level of a
// suite: var _ = suitekit.Summary().
func Summary() bool {
	ginkgo.ReportAfterSuite("faultline summary", func(r ginkgo.Report) {
		cfg, err := FromEnv()
		if err != nil {
			fmt.Fprintln(os.Stderr, "faultline summary:", err)
			return
		}
		table := SummaryTable(r, cfg.root)
		path := filepath.Join(cfg.ResultsDir, "summary-"+slug(r.SuiteDescription)+".md")
		if err := os.MkdirAll(cfg.ResultsDir, 0o755); err == nil {
			err = os.WriteFile(path, []byte(table), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "faultline summary: write:", err)
			path = "(not written)"
		}
		// Straight to stdout: the table is the suite's result and belongs
		// in the CI log whether or not Ginkgo is verbose.
		printTable(os.Stdout, table, path)
	})
	return true
}

func printTable(w io.Writer, table, path string) {
	fmt.Fprintf(w, "\n%s\nsummary written to %s\n", table, path)
}

// SummaryTable renders one row per run (a spec that ran several seeds has
// several rows; a skipped or failed-before-running spec has one, with why).
// Paths under root are shown relative to it.
func SummaryTable(r ginkgo.Report, root string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", r.SuiteDescription)
	b.WriteString("| spec | state | verdict | seed | bugs | report |\n| --- | --- | --- | --- | --- | --- |\n")
	rows := 0
	for _, sr := range r.SpecReports {
		if sr.LeafNodeType != types.NodeTypeIt {
			continue
		}
		name := cell(sr.FullText())
		state := sr.State.String()
		runs := runsOf(sr)
		if len(runs) == 0 {
			if sr.State == types.SpecStateSkipped && sr.Failure.Message == "" {
				continue // filtered out by labels: not part of this run
			}
			why := firstLine(sr.Failure.Message)
			fmt.Fprintf(&b, "| %s | %s | %s | | | |\n", name, state, cell(why))
			rows++
			continue
		}
		for _, run := range runs {
			where := run.Report
			if where == "" {
				where = run.RunDir
			}
			if rel, err := filepath.Rel(root, where); root != "" && err == nil && !strings.HasPrefix(rel, "..") {
				where = rel
			}
			verdict := run.Verdict
			if run.Reason != "" && run.Verdict != "valid" {
				verdict += " (" + run.Reason + ")"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %s | %s |\n", name, state, cell(verdict), run.Seed,
				cell(strings.Join(run.Bugs, ",")), cell(where))
			rows++
		}
	}
	if rows == 0 {
		b.WriteString("| (no spec ran) | | | | | |\n")
	}
	return b.String()
}

func runsOf(sr types.SpecReport) []Run {
	var out []Run
	for _, e := range sr.ReportEntries {
		if e.Name != entryName {
			continue
		}
		var run Run
		if json.Unmarshal([]byte(e.StringRepresentation()), &run) == nil {
			out = append(out, run)
		}
	}
	return out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// cell keeps a value inside one Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

func slug(s string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(s), "-"), "-")
}
