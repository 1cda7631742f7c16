package report

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/linearizable"
	"github.com/faultline/faultline/history"
)

// anomalies describes what every checker found: each anomaly and note with
// the events it points at, looked up in the history, so a reader sees the
// lost element's add and the reads that lack it, the read outside a
// counter's bounds, the write that superseded a settled register. For
// linearizability it also explains the first few failing keys in words
// and links Porcupine's page for each. It returns the operations the
// anomalies point at, to outline on the timeline.
func anomalies(ctx context.Context, m *material, ops []op, outDir string, budget time.Duration) ([]anomalyView, []mark) {
	if m.results == nil {
		return nil, nil
	}
	ix := newEventIndex(m.events, ops)
	var out []anomalyView
	var marks []mark
	for _, name := range m.results.Checkers.Names() {
		c := m.results.Checkers[name]
		if c.Verdict != checkers.Invalid && len(c.Anomalies) == 0 && len(c.Notes) == 0 {
			continue
		}
		av := anomalyView{Checker: name, Verdict: c.Verdict.String(), Reason: c.Reason}
		files := c.Artifacts
		if name == linearizable.Name && c.Verdict == checkers.Invalid {
			files = stories(ctx, m, c, outDir, budget, &av)
			for _, st := range av.Stories {
				for _, r := range st.Rows {
					if o := ix.opOfIndex(r.Index); r.Witness && o >= 0 {
						marks = append(marks, mark{Op: o, What: "key " + st.Key + ": no linearization once this operation completes"})
					}
				}
			}
		}
		for _, f := range files {
			av.Files = append(av.Files, link{Href: artifactHref(m, outDir, f.Name), Text: f.Name})
		}
		for i, a := range c.Anomalies {
			if i == maxFindings {
				av.More = len(c.Anomalies) - i
				break
			}
			fv := ix.finding(a)
			av.Findings = append(av.Findings, fv)
			for _, e := range a.Events {
				if o := ix.opOfIndex(e); o >= 0 {
					marks = append(marks, mark{Op: o, What: name + " " + string(a.Kind) + ": " + truncate(a.Text, 200)})
				}
			}
		}
		for i, a := range c.Notes {
			if i == maxFindings {
				av.MoreNotes = len(c.Notes) - i
				break
			}
			av.Notes = append(av.Notes, ix.finding(a))
		}
		out = append(out, av)
	}
	return out, marks
}

// stories explains the first failing keys of a linearizability result
// and pairs each with its visualization. It returns the artifacts no
// story took.
func stories(ctx context.Context, m *material, c checkers.Result, outDir string, budget time.Duration, av *anomalyView) []checkers.Artifact {
	var keys []string
	for _, a := range c.Anomalies {
		if a.Kind == linearizable.NotLinearizable && a.Key != "" {
			keys = append(keys, a.Key)
		}
	}
	if len(keys) == 0 {
		// results.json written before anomalies were typed named them here.
		for _, k := range anySlice(c.Details["failing_keys"]) {
			if s, ok := k.(string); ok {
				keys = append(keys, s)
			}
		}
	}
	keys = keys[:min(len(keys), maxStories)]
	byKey := map[string]checkers.Artifact{}
	var rest []checkers.Artifact
	for _, a := range c.Artifacts {
		if a.Key != "" {
			byKey[a.Key] = a
		} else {
			rest = append(rest, a)
		}
	}
	deadline := time.Now().Add(budget)
	for i, k := range keys {
		left := time.Until(deadline)
		if left <= 0 {
			av.Note = fmt.Sprintf("Only %d of the failing keys were explained within %s.", i, budget)
			break
		}
		sv := storyViewOf(explainKey(ctx, m.events, k, left/time.Duration(len(keys)-i)))
		if a, ok := byKey[k]; ok {
			sv.Vis = &link{Href: artifactHref(m, outDir, a.Name), Text: "Porcupine's visualization of " + k}
			delete(byKey, k)
		}
		av.Stories = append(av.Stories, sv)
	}
	for _, a := range c.Artifacts {
		if _, left := byKey[a.Key]; a.Key != "" && left {
			rest = append(rest, a)
		}
	}
	if len(c.Artifacts) == 0 {
		av.Note += " No Porcupine visualization was written (`faultline check --out DIR` writes one)."
	}
	return rest
}

func anySlice(v any) []any {
	switch s := v.(type) {
	case []any:
		return s
	case []string:
		out := make([]any, len(s))
		for i, x := range s {
			out[i] = x
		}
		return out
	}
	return nil
}

func storyViewOf(st story) storyView {
	sv := storyView{Key: st.Key, Summary: st.Summary, Cut: st.Cut}
	for i, o := range st.Ops {
		row := rowOfOp(o)
		row.Witness = i == st.Witness
		sv.Rows = append(sv.Rows, row)
	}
	return sv
}

func rowOfOp(o op) opRow {
	row := opRow{Index: o.invIndex, Done: o.endIndex, Process: o.process, Node: o.node, F: string(o.f),
		Value: truncate(valueText(o.value), maxValueLen), Outcome: string(o.outcome),
		Error: o.errText, Invoke: secs(o.start), Complete: secs(o.end)}
	if o.endPos < 0 {
		row.Outcome = "no completion"
	}
	return row
}

// eventIndex finds events by their Index, and the client operation an
// event belongs to.
type eventIndex struct {
	events []history.Event
	ops    []op
	pos    map[int]int // Event.Index -> position in events
	opAt   map[int]int // position of an invoke or completion -> op
}

func newEventIndex(events []history.Event, ops []op) *eventIndex {
	ix := &eventIndex{events: events, ops: ops, pos: make(map[int]int, len(events)), opAt: make(map[int]int, 2*len(ops))}
	for p, e := range events {
		if _, dup := ix.pos[e.Index]; !dup {
			ix.pos[e.Index] = p
		}
	}
	for i, o := range ops {
		ix.opAt[o.invPos] = i
		if o.endPos >= 0 {
			ix.opAt[o.endPos] = i
		}
	}
	return ix
}

// opOfIndex is the operation event index idx belongs to, or -1.
func (ix *eventIndex) opOfIndex(idx int) int {
	p, ok := ix.pos[idx]
	if !ok {
		return -1
	}
	if o, ok := ix.opAt[p]; ok {
		return o
	}
	return -1
}

// finding shows an anomaly or note with its events: a client operation as
// one row, any other event (a nemesis step, an observation) as itself.
func (ix *eventIndex) finding(a checkers.Anomaly) findingView {
	fv := findingView{Kind: string(a.Kind), Key: a.Key, Text: a.Text}
	shown := map[int]bool{}
	from, to := int64(-1), int64(-1)
	span := func(s, e int64) {
		if from < 0 || s < from {
			from = s
		}
		to = max(to, e, s)
	}
	for _, idx := range a.Events {
		if len(fv.Rows) == maxRows {
			break
		}
		p, ok := ix.pos[idx]
		if !ok {
			fv.Missing = append(fv.Missing, idx)
			continue
		}
		if o, ok := ix.opAt[p]; ok {
			if !shown[o] {
				shown[o] = true
				fv.Rows = append(fv.Rows, rowOfOp(ix.ops[o]))
				span(ix.ops[o].start, ix.ops[o].end)
			}
			continue
		}
		e := ix.events[p]
		val := truncate(valueText(e.Value), maxValueLen)
		if e.Label != "" {
			val = e.Label
		}
		fv.Rows = append(fv.Rows, opRow{Index: e.Index, Done: -1, Process: e.Process, Node: e.Node, F: string(e.F), Value: val,
			Outcome: string(e.Type), Error: e.Error, Invoke: secs(e.Time), Complete: "—"})
		span(e.Time, e.Time)
	}
	if from >= 0 {
		fv.ZoomS, fv.ZoomE = float64(from)/1e9, float64(to)/1e9
	}
	return fv
}
