// Package outcome is what a run came to: its verdict and why, each
// checker's result, the history's figures, and what the end-of-run check
// found. One type, Result, carries it from the checkers to the CLI
// (`faultline run`, `faultline check`), the Gomega matchers and the HTML
// report; results.json is its JSON, and faultline.Result is this type.
//
// It sits below everything that produces or shows a result (the runner,
// the CLI, the report) and above the checkers, so each of them can use it
// without importing another.
package outcome

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/stats"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/store"
)

// Result is a judged run (or a judged history). The zero Result is
// Unknown, and so is one whose history no checker judged.
type Result struct {
	Verdict checkers.Verdict `json:"valid"`
	// Reason says why the verdict is what it is ("anomalies found", "run
	// interrupted; …", "a checker could not decide: …").
	Reason   string           `json:"reason,omitempty"`
	Checkers checkers.Results `json:"checkers"`
	Stats    stats.Stats      `json:"stats"`
	// Interrupted is set when the run was stopped before its time limit.
	Interrupted bool `json:"interrupted,omitempty"`
	// Recovered says whether every node was healthy again and every link
	// healed after the faults were undone; nil when recovery was not
	// attempted.
	Recovered *bool `json:"recovered,omitempty"`
	// Healed is the end-of-run check behind Recovered.
	Healed *Healed `json:"healed,omitempty"`
	// HistoryError is why history.jsonl misses events (a write, fsync or
	// create error); empty when every event was written. The run was
	// judged on the events it kept in memory, but a verdict the stored
	// history cannot reproduce is unknown unless anomalies were found.
	HistoryError string `json:"history_error,omitempty"`

	// Test is what ran, from the run dir's test.json (zero for a bare
	// history file).
	Test Spec `json:"-"`
	// RunDir is results/<run-id>: test.json, history.jsonl, results.json,
	// the report, checker artifacts, logs. Empty for a bare history file.
	RunDir string `json:"-"`
}

// Healed is what the end-of-run check found once the faults were undone.
type Healed struct {
	// LinksHealed: no partition or link toxic left in the mesh;
	// LinkFaults lists what was left.
	LinksHealed bool     `json:"links_healed"`
	LinkFaults  []string `json:"link_faults,omitempty"`
	// NodesUp of Nodes answered ready; Down names the others.
	NodesUp int      `json:"nodes_up"`
	Nodes   int      `json:"nodes"`
	Down    []string `json:"down,omitempty"`
}

// OK reports whether every link healed and every node came back.
func (h Healed) OK() bool { return h.LinksHealed && h.NodesUp == h.Nodes }

// Spec is what readers show of the test that ran: test.json's
// configuration, without the fault schedule (faultline.Replay reads the
// whole test).
type Spec struct {
	System          string   `json:"system"`
	Workload        string   `json:"workload"`
	Nemesis         []string `json:"nemesis"`
	Bugs            []string `json:"bugs"`
	Nodes           int      `json:"nodes"`
	Runtime         string   `json:"runtime"`
	TimeLimit       string   `json:"time_limit"`
	Concurrency     int      `json:"concurrency"`
	Rate            float64  `json:"rate"`
	NemesisInterval string   `json:"nemesis_interval"`
	RecoveryTimeout string   `json:"recovery_timeout"`
	Seed            uint64   `json:"seed"`
	// ShrunkFrom and ShrunkSteps describe a run of a schedule that
	// faultline shrink reduced: the original's number of steps and the
	// steps kept, in words.
	ShrunkFrom  int      `json:"shrunk_from,omitempty"`
	ShrunkSteps []string `json:"shrunk_steps,omitempty"`
	// Skipped are faults asked for and not injected: they mean nothing
	// for this system on this runtime.
	Skipped []SkippedFault `json:"skipped_faults,omitempty"`
	// LinkMechanism is how partitions and link faults acted on links.
	LinkMechanism string `json:"link_mechanism,omitempty"`
}

// SkippedFault is a fault asked for and not injected, and why (a clock
// fault for a system whose clocks cannot be set): skipped, never faked.
type SkippedFault struct {
	Fault  string `json:"fault"`
	Reason string `json:"reason"`
}

// MinimalLine is "minimal schedule: 3 of 14 steps: +kill-one, sleep 2s, …"
// for a shrunk run, "" for any other.
func (s Spec) MinimalLine() string {
	if s.ShrunkFrom == 0 {
		return ""
	}
	line := fmt.Sprintf("minimal schedule: %d of %d steps", len(s.ShrunkSteps), s.ShrunkFrom)
	if len(s.ShrunkSteps) > 0 {
		line += ": " + strings.Join(s.ShrunkSteps, ", ")
	}
	return line
}

// Judge sets Verdict and Reason from the checkers' results, the history's
// figures and what the run knows of itself. It is the one place a run's
// verdict is derived; callers fill Checkers, Stats, Interrupted and
// Recovered/Healed first.
//
//   - Any checker Invalid: invalid, even if the run was cut short (an
//     anomaly found is an anomaly).
//   - The history could not be stored in full (HistoryError): unknown.
//     The checkers judged every event, from memory, but the run dir
//     could not reproduce a valid verdict.
//   - Interrupted, or the cluster did not recover: unknown.
//   - No checker, no operation that succeeded, or a checker undecided:
//     unknown. Nothing judged proves nothing.
//   - Informational checkers (membership) never count: neither their
//     unknown nor their absence of a verdict decides anything.
//   - Otherwise valid.
func (r *Result) Judge() {
	v := r.Checkers.Verdict()
	switch {
	case v == checkers.Invalid:
		r.Verdict, r.Reason = checkers.Invalid, "anomalies found"
	case r.HistoryError != "":
		r.Verdict, r.Reason = checkers.Unknown, "the history could not be stored in full ("+r.HistoryError+"); history.jsonl misses events, so no verdict is claimed"
	case r.Interrupted:
		r.Verdict, r.Reason = checkers.Unknown, "run interrupted; no anomaly in what was recorded and checked"
	case r.Recovered != nil && !*r.Recovered:
		r.Verdict, r.Reason = checkers.Unknown, r.notRecovered()
	case r.Checkers.Deciding() == 0:
		r.Verdict, r.Reason = checkers.Unknown, "no checker judged the history"
	case r.Stats.Ops.OK == 0:
		r.Verdict, r.Reason = checkers.Unknown, "no operation succeeded: there was nothing to judge"
	case v != checkers.Valid:
		var why []string
		for _, name := range r.Checkers.Names() {
			if c := r.Checkers[name]; c.Verdict != checkers.Valid && !c.Informational {
				why = append(why, name+": "+c.Reason)
			}
		}
		r.Verdict, r.Reason = checkers.Unknown, "a checker could not decide ("+strings.Join(why, "; ")+")"
	default:
		r.Verdict, r.Reason = checkers.Valid, ""
	}
}

func (r *Result) notRecovered() string {
	within := ""
	if r.Test.RecoveryTimeout != "" {
		within = " within " + r.Test.RecoveryTimeout
	}
	s := "cluster did not recover" + within + " after the faults stopped"
	if h := r.Healed; h != nil {
		s += fmt.Sprintf(" (links healed: %v, nodes up: %d of %d)", h.LinksHealed, h.NodesUp, h.Nodes)
	}
	return s + "; see harness.log and nodes/"
}

// ExitCode is the CLI's exit code for the result: 0 valid, 1 invalid, 3
// unknown (see internal/exitcode).
func (r *Result) ExitCode() int { return exitcode.FromVerdict(r.Verdict) }

// Anomalies lists every anomaly, checker by checker (sorted by name), each
// in its checker's order.
func (r *Result) Anomalies() []checkers.Anomaly {
	var out []checkers.Anomaly
	for _, name := range r.Checkers.Names() {
		out = append(out, r.Checkers[name].Anomalies...)
	}
	return out
}

// HasAnomaly reports whether some checker found an anomaly of kind
// (set.Lost, linearizable.NotLinearizable, …).
func (r *Result) HasAnomaly(kind checkers.Kind) bool {
	for _, a := range r.Anomalies() {
		if a.Kind == kind {
			return true
		}
	}
	return false
}

// HasAnomalyFrom reports whether the named checker found an anomaly.
func (r *Result) HasAnomalyFrom(checker string) bool {
	return len(r.Checkers[checker].Anomalies) > 0
}

// CheckerNames lists the checkers that judged the run, sorted.
func (r *Result) CheckerNames() []string { return r.Checkers.Names() }

// ReportPath is the run's HTML report, or "" when the run has none.
func (r *Result) ReportPath() string {
	if r.RunDir == "" {
		return ""
	}
	p := filepath.Join(r.RunDir, store.ReportFile)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// Describe is a readable account of the result: the verdict and reason,
// what ran, each checker's verdict with its anomalies (the first
// maxAnomalies of each, with their kinds and events) and artifacts, then
// where the report and run dir are. The CLI and the matchers print it.
func (r *Result) Describe(maxAnomalies int) string {
	var b strings.Builder
	b.WriteString(r.Verdict.String())
	if r.Reason != "" {
		fmt.Fprintf(&b, ": %s", r.Reason)
	}
	b.WriteString("\n")
	if t := r.Test; t.System != "" {
		fmt.Fprintf(&b, "  test: system %s, workload %s, nemesis %s, bugs %s, %d nodes, %s, runtime %s, seed %d\n",
			t.System, t.Workload, listOr(t.Nemesis, "none"), listOr(t.Bugs, "none"), t.Nodes, t.TimeLimit, t.Runtime, t.Seed)
	}
	if line := r.Test.MinimalLine(); line != "" {
		fmt.Fprintf(&b, "  %s\n", line)
	}
	for _, name := range r.Checkers.Names() {
		c := r.Checkers[name]
		fmt.Fprintf(&b, "  checker %s: %s", name, c.Verdict)
		if c.Reason != "" {
			fmt.Fprintf(&b, " (%s)", c.Reason)
		}
		b.WriteString("\n")
		for i, a := range c.Anomalies {
			if i == maxAnomalies {
				fmt.Fprintf(&b, "    … and %d more\n", len(c.Anomalies)-i)
				break
			}
			fmt.Fprintf(&b, "    %s", a.Text)
			if a.Kind != "" {
				fmt.Fprintf(&b, " [%s]", a.Kind)
			}
			b.WriteString("\n")
		}
		for _, f := range c.Artifacts {
			fmt.Fprintf(&b, "    see %s\n", filepath.Join(r.RunDir, f.Name))
		}
	}
	if p := r.ReportPath(); p != "" {
		fmt.Fprintf(&b, "  report: %s\n", p)
	}
	if r.RunDir != "" {
		fmt.Fprintf(&b, "  run dir: %s\n", r.RunDir)
	}
	if r.HistoryError != "" && r.Verdict == checkers.Invalid {
		fmt.Fprintf(&b, "  warning: history.jsonl misses events (%s); the anomalies were found in the events kept in memory\n", r.HistoryError)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func listOr(xs []string, none string) string {
	if len(xs) == 0 {
		return none
	}
	return strings.Join(xs, ",")
}

// Read reads the result stored in run dir dir (results.json), with the
// test that ran (test.json) when it is there.
func Read(dir string) (*Result, error) {
	r := &Result{RunDir: dir}
	if err := store.ReadJSON(dir, store.ResultsFile, r); err != nil {
		return nil, fmt.Errorf("outcome: %w", err)
	}
	if err := store.ReadJSON(dir, store.TestFile, &r.Test); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("outcome: %w", err)
	}
	return r, nil
}

// ReadSpec reads what ran from run dir dir's test.json.
func ReadSpec(dir string) (Spec, error) {
	var s Spec
	if err := store.ReadJSON(dir, store.TestFile, &s); err != nil {
		return Spec{}, fmt.Errorf("outcome: %w", err)
	}
	return s, nil
}
