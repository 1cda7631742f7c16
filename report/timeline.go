package report

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/faultline/faultline/history"
)

// op is one client operation. Positions are indexes into the events slice,
// which is in real-time order.
type op struct {
	process    int
	f          history.Func
	key        string
	node       string
	value      any // the invoke's value, or the ok read's value
	errText    string
	outcome    history.Type // ok, fail, info; info also when never completed
	start, end int64        // ns since the run started; end = -1 if never completed
	invPos     int          // position of the invoke event
	endPos     int          // position of the completion, -1 if none
	invIndex   int          // Event.Index of the invoke, for humans
	endIndex   int
}

// pairOps pairs each client invoke with the next completion on its process.
// Unlike history.Pair it never gives up: a report should draw a history
// even when it breaks the rules (a stray completion is skipped). Negative
// processes are the nemesis and other observers, never client operations.
func pairOps(events []history.Event) []op {
	ops := make([]op, 0, len(events)/2+1)
	open := map[int]int{}
	for pos, e := range events {
		if e.Process < 0 {
			continue
		}
		if e.Type == history.Invoke {
			if i, busy := open[e.Process]; busy {
				ops[i].outcome = history.Info // superseded: never completed
			}
			open[e.Process] = len(ops)
			ops = append(ops, op{process: e.Process, f: e.F, key: e.Key, node: e.Node, value: e.Value,
				outcome: history.Info, start: e.Time, end: -1, invPos: pos, endPos: -1, invIndex: e.Index, endIndex: -1})
			continue
		}
		i, ok := open[e.Process]
		if !ok {
			continue
		}
		delete(open, e.Process)
		o := &ops[i]
		o.outcome, o.end, o.endPos, o.endIndex, o.errText = e.Type, e.Time, pos, e.Index, e.Error
		if e.Node != "" {
			o.node = e.Node
		}
		if e.F == history.OpRead && e.Type == history.OK {
			o.value = e.Value
		}
	}
	return ops
}

// fault is one nemesis interval (or, with start == end and instant set, a
// one-off nemesis event).
type fault struct {
	Name     string
	Label    string
	Start    int64 // ns: the start step's invoke
	End      int64 // ns: the stop step's completion (the fault fully undone)
	Open     bool  // never stopped before the history ended
	Instant  bool
	Errors   []string
	Affected []string // nodes the fault acted on
}

// nemesisIntervals reads the nemesis events (process -1) into intervals:
// each fault's start step to its stop step (history.FaultOf pairs them),
// and the run's closing recover. Other nemesis events become instants.
// Other negative processes (observers) are not the nemesis and are ignored.
func nemesisIntervals(events []history.Event, end int64) []fault {
	var out []fault
	openByName := map[string]int{} // fault name -> index in out
	invokedAt := map[history.Func]int64{}
	closeFault := func(name string, at int64, e history.Event) {
		i, ok := openByName[name]
		if !ok {
			return
		}
		out[i].End, out[i].Open = at, false
		if e.Error != "" {
			out[i].Errors = append(out[i].Errors, string(e.F)+": "+e.Error)
		}
		delete(openByName, name)
	}
	for _, e := range events {
		if e.Process != history.NemesisProcess {
			continue
		}
		if e.Type == history.Invoke {
			invokedAt[e.F] = e.Time
			if e.F == history.Recover {
				out = append(out, fault{Name: "recover", Label: "recover: heal, restart, wait healthy", Start: e.Time, End: end, Open: true})
				openByName["recover"] = len(out) - 1
			}
			continue
		}
		began, ok := invokedAt[e.F]
		if !ok {
			began = e.Time
		}
		delete(invokedAt, e.F)
		if e.F == history.Recover {
			closeFault("recover", e.Time, e)
			continue
		}
		fl, start, isFault := history.FaultOf(e.F)
		switch {
		case isFault && start:
			closeFault(fl.Name, began, history.Event{})
			f := fault{Name: fl.Name, Label: labelOf(fl.Name, e), Start: began, End: end, Open: true, Affected: e.Nodes()}
			if e.Error != "" {
				f.Errors = append(f.Errors, string(e.F)+": "+e.Error)
			}
			out = append(out, f)
			openByName[fl.Name] = len(out) - 1
		case isFault:
			closeFault(fl.Name, e.Time, e)
		default:
			out = append(out, fault{Name: string(e.F), Label: labelOf(string(e.F), e), Start: e.Time, End: e.Time, Instant: true,
				Affected: e.Nodes()})
		}
	}
	// A start invoked but never completed (the harness died mid-step).
	for f, at := range invokedAt {
		if fl, start, ok := history.FaultOf(f); ok && start {
			out = append(out, fault{Name: fl.Name, Label: fl.Name + " (step never completed)", Start: at, End: end, Open: true})
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Start < out[b].Start })
	return out
}

// labelOf is the label the fault wrote on its event. Histories written
// before faults labelled their events, and foreign ones, get the step's
// name with its nodes or its value as compact JSON.
func labelOf(name string, e history.Event) string {
	switch {
	case e.Label != "":
		return e.Label
	case e.Node != "":
		return name + " " + strings.Join(e.Nodes(), " ")
	case e.Value == nil:
		return name
	}
	b, err := json.Marshal(e.Value)
	if err != nil {
		return name
	}
	return name + " " + truncate(string(b), 80)
}

// strs returns the strings in v, a JSON array.
func strs(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, x := range a {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}

// recovery is what happened around one fault.
type recovery struct {
	OK, Fail, Info int      // operations completed while the fault was active
	Keys           []string // affected keys: an op on them failed or went info during the fault
	// Recovered is the first ok completion at or after the fault's end of an
	// operation sent to an affected node or on an affected key; -1 if none.
	Recovered int64
	By        *op
	Nothing   bool // nothing affected: no named node, no failed key
}

// longest is the longest duration of a completed operation: no operation
// that started more than that before a moment can complete after it.
func longest(ops []op) int64 {
	var d int64
	for i := range ops {
		if ops[i].end >= 0 {
			d = max(d, ops[i].end-ops[i].start)
		}
	}
	return d
}

// recoveryOf measures recovery after f. ops are in invoke order; maxDur is
// longest(ops), which bounds the scans so that many faults over a long
// history stay cheap.
func recoveryOf(f fault, ops []op, maxDur int64) recovery {
	r := recovery{Recovered: -1}
	keys := map[string]bool{}
	from := sort.Search(len(ops), func(i int) bool { return ops[i].start >= f.Start-maxDur })
	for i := from; i < len(ops); i++ {
		o := &ops[i]
		if o.start > f.End {
			break
		}
		// Completed while the fault lasted, or never completed having
		// started while it lasted.
		in := o.end >= f.Start && o.end <= f.End || o.end < 0 && o.start >= f.Start
		if !in {
			continue
		}
		switch o.outcome {
		case history.OK:
			r.OK++
		case history.Fail:
			r.Fail++
		default:
			r.Info++
		}
		if o.outcome != history.OK && o.key != "" {
			keys[o.key] = true
		}
	}
	nodes := map[string]bool{}
	for _, n := range f.Affected {
		nodes[n] = true
	}
	r.Keys = slices.Sorted(maps.Keys(keys))
	if len(keys) == 0 && len(nodes) == 0 {
		r.Nothing = true
		return r
	}
	from = sort.Search(len(ops), func(i int) bool { return ops[i].start >= f.End-maxDur })
	for i := from; i < len(ops); i++ {
		o := &ops[i]
		if r.Recovered >= 0 && o.start > r.Recovered {
			break // it cannot complete earlier than the best found
		}
		if o.outcome != history.OK || o.end < f.End {
			continue
		}
		if (keys[o.key] || nodes[o.node]) && (r.Recovered < 0 || o.end < r.Recovered) {
			r.Recovered, r.By = o.end, o
		}
	}
	return r
}

// valueText is a value as canonical JSON, for comparing values and for
// showing them. Unlike history.ValueKey it keeps <, > and & as they are:
// the page escapes what it shows, and a reader should see the value itself.
func valueText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
