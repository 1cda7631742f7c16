package report

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/store"
)

// page is what the template renders. Strings in it are plain text: the
// template escapes them.
type page struct {
	Title     string
	Verdict   string // valid, invalid, unknown
	Reason    string
	Meta      []pair
	Checkers  []checkerView
	Problems  []string
	Faults    []faultRow
	Anomalies []anomalyView
	Links     []link
	Logs      []logView
	Counts    struct{ Ops, OK, Fail, Info, Lanes int }
	Data      any // the figures the script draws, embedded once as JSON
}

type pair struct{ K, V string }

type link struct{ Href, Text string }

type checkerView struct {
	Name, Verdict, Reason string
	Anomalies             int
}

type faultRow struct {
	Label, Start, End, Duration, Affected, Keys string
	OK, Fail, Info                              int
	Availability, Recovery, RecoveredBy         string
	Errors                                      []string
	StartS, EndS                                float64
}

// anomalyView is one checker's findings: what it found wrong, each with
// the events it points at, and its notes.
type anomalyView struct {
	Checker, Verdict, Reason string
	Stories                  []storyView   // linearizability: failing keys told in words
	Findings                 []findingView // anomalies
	More                     int           // anomalies not shown
	Notes                    []findingView
	MoreNotes                int
	Files                    []link // artifacts not tied to a story
	Note                     string
}

// findingView is one anomaly or note: its words and the events it points
// at, as rows (a client operation as one row, invoke to completion).
type findingView struct {
	Kind, Key, Text string
	Rows            []opRow
	Missing         []int // event indexes not in the history
	ZoomS, ZoomE    float64
}

type storyView struct {
	Key, Summary string
	Vis          *link
	Cut          int
	Rows         []opRow
}

type opRow struct {
	Index, Process                 int
	Done                           int // the completion's index; -1 if none (or not an operation)
	Node, F, Value, Outcome, Error string
	Invoke, Complete               string
	Witness                        bool
}

type logView struct {
	Name, Href string
	Lines      []string
	Total      int
}

const (
	maxStories  = 5  // failing keys explained in words
	maxFindings = 20 // anomalies (and notes) shown per checker
	maxRows     = 12 // events shown per anomaly
	logTail     = 30 // lines of each node log shown
	// MaxTimelineOps bounds the operations the timeline draws.
	MaxTimelineOps = 50_000
	maxLogLine     = 300
	maxValueLen    = 80 // characters of a value shown in a tooltip
)

// build turns the material into a page. outDir is where the page will live:
// links are relative to it.
func build(ctx context.Context, m *material, outDir string, budget time.Duration) *page {
	p := &page{Verdict: "unknown", Problems: m.problems}
	ops := pairOps(m.events)
	var endNS int64
	for _, e := range m.events {
		endNS = max(endNS, e.Time)
	}
	nodes := nodeNames(m, ops)
	faults := nemesisIntervals(m.events, endNS)

	name := filepath.Base(m.in.History)
	if m.in.Dir != "" {
		dir := m.in.Dir
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			dir = real // results/latest: name the run, not the link
		}
		name = filepath.Base(filepath.Clean(dir))
	}
	p.Title = name
	p.Meta = meta(m, nodes, endNS)
	if r := m.results; r != nil {
		p.Verdict, p.Reason = r.Verdict.String(), r.Reason
		for _, n := range r.Checkers.Names() {
			c := r.Checkers[n]
			p.Checkers = append(p.Checkers, checkerView{Name: n, Verdict: c.Verdict.String(), Reason: c.Reason, Anomalies: len(c.Anomalies)})
		}
	} else {
		p.Reason = "no verdict: results.json is missing (the run did not finish); run `faultline check` on this run dir"
	}

	for _, o := range ops {
		p.Counts.Ops++
		switch o.outcome {
		case history.OK:
			p.Counts.OK++
		case history.Fail:
			p.Counts.Fail++
		default:
			p.Counts.Info++
		}
	}
	maxDur := longest(ops)
	for _, f := range faults {
		p.Faults = append(p.Faults, faultRowOf(f, ops, maxDur))
	}
	var marks []mark
	p.Anomalies, marks = anomalies(ctx, m, ops, outDir, budget)
	p.Links = links(m, outDir)
	p.Logs = logs(m, outDir)
	var lanes int
	drawn := ops
	if len(ops) > MaxTimelineOps {
		// A page drawing a million operations is tens of megabytes no
		// browser shows usefully: draw the first ones, say so.
		drawn = ops[:MaxTimelineOps]
		p.Problems = append(p.Problems, fmt.Sprintf("the timeline draws the first %d of %d operations (a larger history makes a page too big to open); the counts, faults and findings cover them all",
			MaxTimelineOps, len(ops)))
	}
	p.Data, lanes = figures(drawn, faults, marks, endNS)
	p.Counts.Lanes = lanes
	return p
}

// nodeNames are the cluster's nodes: from test.json's count when the names
// follow n1…nN, plus every node an operation went to.
func nodeNames(m *material, ops []op) []string {
	set := map[string]bool{}
	if m.test != nil {
		for i := 1; i <= m.test.Nodes; i++ {
			set[fmt.Sprintf("n%d", i)] = true
		}
	}
	for _, o := range ops {
		if o.node != "" {
			set[o.node] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func meta(m *material, nodes []string, endNS int64) []pair {
	dash := func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	}
	var out []pair
	if t := m.test; t != nil {
		seed := fmt.Sprint(t.Seed)
		nem := strings.Join(t.Nemesis, ", ")
		if t.NemesisInterval != "" && nem != "" && nem != "none" {
			nem += " every " + t.NemesisInterval
		}
		out = append(out,
			pair{"system", dash(t.System)},
			pair{"nodes", fmt.Sprintf("%d (%s)", t.Nodes, strings.Join(nodes, " "))},
			pair{"runtime", dash(t.Runtime)},
			pair{"workload", fmt.Sprintf("%s, %d clients, %g ops/s", dash(t.Workload), t.Concurrency, t.Rate)},
			pair{"nemesis", dash(nem)},
			pair{"seed", seed},
			pair{"bug", dash(strings.Join(t.Bugs, ", "))},
			pair{"time limit", dash(t.TimeLimit)},
		)
		if t.ShrunkFrom > 0 {
			out = append(out, pair{"shrunk", t.MinimalLine()})
		}
		if t.LinkMechanism != "" {
			out = append(out, pair{"links cut by", t.LinkMechanism})
		}
		for _, s := range t.Skipped {
			out = append(out, pair{"skipped " + s.Fault, s.Reason})
		}
	} else {
		out = append(out, pair{"history", m.in.History}, pair{"nodes", dash(strings.Join(nodes, " "))})
	}
	out = append(out, pair{"duration", fmt.Sprintf("%.1f s of history, %d events", float64(endNS)/1e9, len(m.events))})
	if r := m.results; r != nil && r.Recovered != nil {
		out = append(out, pair{"recovered", fmt.Sprint(*r.Recovered)})
	}
	if r := m.results; r != nil && r.Interrupted {
		out = append(out, pair{"interrupted", "yes (Ctrl-C)"})
	}
	return out
}

func faultRowOf(f fault, ops []op, maxDur int64) faultRow {
	r := recoveryOf(f, ops, maxDur)
	row := faultRow{
		Label: f.Label, Start: secs(f.Start), End: secs(f.End),
		Duration: fmt.Sprintf("%.2f s", float64(f.End-f.Start)/1e9),
		Affected: strings.Join(f.Affected, " "),
		OK:       r.OK, Fail: r.Fail, Info: r.Info, Errors: f.Errors,
		StartS: float64(f.Start) / 1e9, EndS: float64(f.End) / 1e9,
	}
	if f.Instant {
		row.Duration = "instant"
	}
	if f.Open {
		row.End = "never stopped"
	}
	if row.Affected == "" {
		row.Affected = "—"
	}
	if n := len(r.Keys); n > 0 {
		shown := r.Keys[:min(n, 6)]
		row.Keys = strings.Join(shown, " ")
		if n > len(shown) {
			row.Keys += fmt.Sprintf(" … (%d keys)", n)
		}
	} else {
		row.Keys = "—"
	}
	if total := r.OK + r.Fail + r.Info; total > 0 {
		row.Availability = fmt.Sprintf("%.0f%%", 100*float64(r.OK)/float64(total))
	} else {
		row.Availability = "—"
	}
	switch {
	case r.Nothing:
		row.Recovery = "nothing affected"
	case r.Recovered < 0:
		row.Recovery = "no success after it"
	default:
		row.Recovery = fmt.Sprintf("%.3f s", float64(r.Recovered-f.End)/1e9)
		row.RecoveredBy = fmt.Sprintf("%s %s on %s (event %d)", r.By.f, r.By.key, r.By.node, r.By.endIndex)
	}
	return row
}

// artifactHref links a checker file (relative to the artifact dir) from
// the page's dir.
func artifactHref(m *material, outDir, name string) string {
	return rel(outDir, filepath.Join(m.in.ArtifactDir, name))
}

func rel(from, to string) string {
	fa, err1 := filepath.Abs(from)
	ta, err2 := filepath.Abs(to)
	if err1 == nil && err2 == nil {
		if r, err := filepath.Rel(fa, ta); err == nil {
			return filepath.ToSlash(r)
		}
	}
	return filepath.ToSlash(to)
}

func links(m *material, outDir string) []link {
	var out []link
	add := func(path, text string) {
		if _, err := os.Stat(path); err == nil {
			out = append(out, link{Href: rel(outDir, path), Text: text})
		}
	}
	add(m.in.History, filepath.Base(m.in.History))
	if m.in.Dir != "" {
		add(filepath.Join(m.in.Dir, store.ResultsFile), store.ResultsFile)
		add(filepath.Join(m.in.Dir, store.TestFile), store.TestFile)
		add(filepath.Join(m.in.Dir, store.HarnessLog), store.HarnessLog)
	}
	for _, l := range m.logs {
		add(l, "nodes/"+filepath.Base(l))
	}
	return out
}

// logs holds the tail of each node log: the lines nearest the end of a run
// are the ones that explain a node that did not recover.
func logs(m *material, outDir string) []logView {
	var out []logView
	for _, path := range m.logs {
		lv := logView{Name: filepath.Base(path), Href: rel(outDir, path)}
		f, err := os.Open(path)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		ring := make([]string, 0, logTail)
		for sc.Scan() {
			lv.Total++
			line := truncate(sc.Text(), maxLogLine)
			if len(ring) == logTail {
				copy(ring, ring[1:])
				ring = ring[:logTail-1]
			}
			ring = append(ring, line)
		}
		f.Close()
		lv.Lines = ring
		out = append(out, lv)
	}
	return out
}

// figures are the columns the page's script draws, one entry per operation,
// times in microseconds. Strings (functions, keys, nodes, values, errors)
// are interned in tables and referenced by position, so 100,000 operations
// stay a few megabytes.
type figuresData struct {
	End       int64       `json:"end"`
	Lanes     []int       `json:"lanes"`      // first process of each lane
	LaneProcs []int       `json:"lane_procs"` // how many processes each lane holds
	Lane      []int       `json:"lane"`
	Proc      []int       `json:"p"`
	Start     []int64     `json:"s"`
	Dur       []int64     `json:"d"` // -1: never completed
	Out       []int       `json:"o"` // 0 ok, 1 fail, 2 info
	F         []int       `json:"f"`
	Key       []int       `json:"k"`
	Node      []int       `json:"n"`
	Val       []int       `json:"v"`
	Err       []int       `json:"e"` // -1: none
	Strs      []string    `json:"strs"`
	Faults    []faultData `json:"faults"`
	Marks     []mark      `json:"marks"` // operations anomalies point at
}

// mark is an operation an anomaly points at, outlined on the timeline.
type mark struct {
	Op   int    `json:"op"` // index into the operation columns
	What string `json:"what"`
}

type faultData struct {
	Start   int64  `json:"s"`
	End     int64  `json:"e"`
	Name    string `json:"name"`
	Label   string `json:"label"`
	Instant bool   `json:"instant,omitempty"`
}

func figures(ops []op, faults []fault, marks []mark, endNS int64) (figuresData, int) {
	n := len(ops)
	d := figuresData{End: endNS / 1e3,
		Lane: make([]int, n), Proc: make([]int, n), Start: make([]int64, n), Dur: make([]int64, n), Out: make([]int, n),
		F: make([]int, n), Key: make([]int, n), Node: make([]int, n), Val: make([]int, n), Err: make([]int, n),
		Strs: []string{}, Faults: []faultData{}, Marks: marks}
	if d.Marks == nil {
		d.Marks = []mark{}
	}
	strIdx := map[string]int{}
	intern := func(s string) int {
		if i, ok := strIdx[s]; ok {
			return i
		}
		strIdx[s] = len(d.Strs)
		d.Strs = append(d.Strs, s)
		return len(d.Strs) - 1
	}
	laneOf, lanes := packLanes(ops, endNS)
	d.Lanes, d.LaneProcs = lanes, make([]int, len(lanes))
	for _, l := range laneOf {
		d.LaneProcs[l]++
	}
	for i, o := range ops {
		d.Lane[i] = laneOf[o.process]
		d.Proc[i] = o.process
		d.Start[i] = o.start / 1e3
		d.Dur[i] = -1
		if o.end >= 0 {
			d.Dur[i] = (o.end - o.start) / 1e3
		}
		switch o.outcome {
		case history.OK:
			d.Out[i] = 0
		case history.Fail:
			d.Out[i] = 1
		default:
			d.Out[i] = 2
		}
		d.F[i] = intern(string(o.f))
		d.Key[i] = intern(o.key)
		d.Node[i] = intern(o.node)
		d.Val[i] = intern(truncate(valueText(o.value), maxValueLen))
		d.Err[i] = -1
		if o.errText != "" {
			d.Err[i] = intern(truncate(o.errText, 200))
		}
	}
	for _, f := range faults {
		d.Faults = append(d.Faults, faultData{Start: f.Start / 1e3, End: f.End / 1e3, Name: f.Name, Label: f.Label, Instant: f.Instant})
	}
	return d, len(laneOf)
}

// dataJSON encodes the figures for a <script type="application/json">
// block. encoding/json escapes <, > and & (and U+2028/9), so no value can
// close the block or open markup.
func dataJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// packLanes gives each client process a lane for its lifetime and lets a
// later process reuse a lane once the earlier one is done. A worker whose
// operation goes info continues as a new process, so a long run with many
// timeouts has hundreds of processes but only about as many alive at once
// as there are workers: one lane each for those keeps the timeline readable.
// It returns each process's lane and each lane's first process.
func packLanes(ops []op, endNS int64) (map[int]int, []int) {
	type life struct {
		proc, first int
		from, to    int64
	}
	byProc := map[int]*life{}
	var lives []*life
	for i, o := range ops {
		end := o.end
		if end < 0 {
			end = endNS // never completed: the process never ends
		}
		l, ok := byProc[o.process]
		if !ok {
			l = &life{proc: o.process, first: i, from: o.start, to: end}
			byProc[o.process] = l
			lives = append(lives, l)
		}
		l.to = max(l.to, end)
	}
	// ops are in invoke order, so lives are in order of their first op.
	laneOf := make(map[int]int, len(lives))
	lanes := []int{}
	var freeAt []int64
	for _, l := range lives {
		lane := -1
		for i, t := range freeAt {
			if t < l.from {
				lane = i
				break
			}
		}
		if lane < 0 {
			lane = len(freeAt)
			freeAt = append(freeAt, 0)
			lanes = append(lanes, l.proc)
		}
		freeAt[lane] = l.to
		laneOf[l.proc] = lane
	}
	// Lanes were opened in time order; list them by their first process,
	// so the workers' lanes read p0, p1, p2 … from the top.
	order := make([]int, len(lanes))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return lanes[a] - lanes[b] })
	rank := make([]int, len(lanes))
	sorted := make([]int, len(lanes))
	for r, i := range order {
		rank[i], sorted[r] = r, lanes[i]
	}
	for p, l := range laneOf {
		laneOf[p] = rank[l]
	}
	return laneOf, sorted
}
