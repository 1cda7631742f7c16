// Package set checks the set workload, after Jepsen's set-full: for every
// element, whether its add was acknowledged, whether reads saw it, and
// whether the final reads (every node, after the faults stopped and the
// cluster settled) hold it.
//
//   - lost: acknowledged, never the target of a remove, and absent from
//     some node's final read. Invalid.
//
//   - unexpected: read although it was never added, its add certainly
//     failed, or the read finished before the add began. Invalid.
//
//   - stale: a read that began after the add was acknowledged but lacked
//     the element. Expected of an eventually consistent store, so a note
//     and a figure (count, worst delay), not an anomaly.
//
//   - vanished: an element a node had held — it acknowledged an add of it,
//     or returned it in a read — missing from a later read on that node
//     (begun after), no remove of it ever attempted, the node not
//     restarted in between. A replica of a set without removes only grows;
//     this is read-your-writes and monotonic reads per node, and it is
//     what shows a lost update mid-run, before the final reads. Invalid.
//     It assumes a node answers from its own replica (the included gossip
//     store does); it is judged on reads before the final phase, whose
//     lacks are "lost".
//
//   - resurrected: the observed-remove (OR-set) rule. An element with one
//     add that did not certainly fail, removed by an acknowledged remove
//     on a node that had already returned it (and did not restart in
//     between), is absent from every final read. Invalid.
//
// An element may be added more than once: its adds are judged per
// operation (acknowledged if any add was, certainly absent only if every
// add failed, readable from the first add that did not fail). Otherwise,
// elements a client tried to remove are judged only for unexpectedness:
// an observed-remove set may keep an element whose remove raced its add,
// or one of whose several adds its remove had not seen.
package set

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/internal/settled"
	"github.com/faultline/faultline/history"
)

// Checker is the set checker.
type Checker struct{}

// New returns the set checker.
func New() Checker { return Checker{} }

func (Checker) Name() string { return "set" }

// Kinds of what this checker finds.
const (
	// Lost: an acknowledged element absent from a node's final read. Its
	// events: the add, the last read that saw the element (if any), and
	// the final reads that lack it.
	Lost checkers.Kind = "lost"
	// Unexpected: a read of an element never (successfully) added. Its
	// events: the read, and the add if there was one.
	Unexpected checkers.Kind = "unexpected"
	// Stale (a note): reads that began after the add was acknowledged and
	// lacked the element. Its events: the add and the last such read.
	Stale checkers.Kind = "stale"
	// Vanished: an element missing from a read on a node that had held it
	// (acknowledged its add or returned it) and was not restarted since.
	// Its events: the add's acknowledgement or the read that showed it,
	// and the read that lacked it.
	Vanished checkers.Kind = "vanished"
	// Resurrected: an element still in a final read after a remove that
	// had observed its only add (the observed-remove rule). Its events:
	// the remove, the read that showed the remove's node the element, and
	// the final reads that hold it.
	Resurrected checkers.Kind = "resurrected"
)

type element struct {
	key, value string
	addInvoke  int64
	addDone    int64 // ack time; 0 unless acknowledged
	addEvent   int   // the add's completion (its invoke if it never completed)
	outcome    history.Type
	removed    bool // a remove was attempted and did not certainly fail
	adds       int  // add operations of the element beyond the first
	liveAdds   int  // add operations that did not certainly fail
	// seenOn is, per node, the first read on it that held the element.
	seenOn map[string]settled.Read
	// ackedRemoves are the acknowledged removes of the element.
	ackedRemoves []history.Op
	// resurrected are the final reads holding the element after a remove
	// that had observed every add of it (see observedRemove).
	resurrected   []settled.Read
	resurrectedBy history.Op
	lastSeen      int // the last read that held it; -1 if none
	staleReads    int
	lastStale     settled.Read // the last stale read
	// missingFinal are the final reads (one per node) that lack it.
	missingFinal []settled.Read
	// heldOn is, per node and per life of that node (kills and restarts before),
	// the first sign the node held it: an acknowledged add there or a
	// read there that returned it.
	heldOn map[string]map[int]held
	// vanished is the first read that lacked it on a node that held it.
	vanished   settled.Read
	vanishedBy held
}

// held is a sign that a node held an element: the event and its time.
type held struct {
	time  int64
	index int
}

// life is which life of node a time falls in: how many kills and restarts came
// before it.
func (m *model) life(node string, t int64) int {
	rs := m.lifeEnds[node]
	return sort.Search(len(rs), func(i int) bool { return rs[i] >= t })
}

// hold records that node held e during op (an acknowledged add, or a read
// that returned it), unless the node restarted while op was open: then
// which life answered is not known.
func (m *model) hold(e *element, op history.Op) {
	node := op.Invoke.Node
	l := m.life(node, op.Invoke.Time)
	if node == "" || l != m.life(node, op.Complete.Time) {
		return
	}
	if e.heldOn == nil {
		e.heldOn = map[string]map[int]held{}
	}
	if e.heldOn[node] == nil {
		e.heldOn[node] = map[int]held{}
	}
	if h, ok := e.heldOn[node][l]; !ok || op.Complete.Time < h.time {
		e.heldOn[node][l] = held{time: op.Complete.Time, index: op.Complete.Index}
	}
}

// merge folds a repeated add of the element into it, per operation: the
// element is acknowledged when any add was (from the first
// acknowledgement), certainly absent only when every add failed, and may
// be read from the first add that did not certainly fail.
func (e *element) merge(op history.Op) {
	e.adds++
	out := op.Outcome()
	if out == history.Fail {
		return
	}
	e.liveAdds++
	if e.outcome == history.Fail || op.Invoke.Time < e.addInvoke {
		e.addInvoke = op.Invoke.Time
	}
	switch {
	case out == history.OK && (e.outcome != history.OK || op.Complete.Time < e.addDone):
		e.outcome, e.addDone, e.addEvent = history.OK, op.Complete.Time, op.Complete.Index
	case out == history.Info && e.outcome == history.Fail:
		e.outcome, e.addEvent = history.Info, op.Invoke.Index
		if op.Complete != nil {
			e.addEvent = op.Complete.Index
		}
	}
}

// model is what the history says about every element.
type model struct {
	elems    map[string]map[string]*element // key -> element -> state
	ops      []history.Op
	lifeEnds map[string][]int64 // node -> times it was killed, lost power or came back
}

// observedRemove returns an acknowledged remove of e that had observed
// every add of it, if there is one. Observed-remove (OR-set) rule: a
// remove deletes the adds its node has seen. It certainly deleted them
// all when the element had one add that did not certainly fail, the
// remove's node had returned the element in a read finished before the
// remove began, and the node did not restart in between (a restarted node
// may have forgotten what it held). Such an element must be absent from
// every final read: no later add can bring it back, as no other add
// exists. With several adds, one the node had not seen may survive the
// remove, so nothing is judged.
func (m *model) observedRemove(e *element) (history.Op, bool) {
	if e.liveAdds != 1 {
		return history.Op{}, false
	}
	for _, rm := range e.ackedRemoves {
		node := rm.Invoke.Node
		r, ok := e.seenOn[node]
		if !ok || r.Complete >= rm.Invoke.Time || e.addInvoke > rm.Invoke.Time {
			continue
		}
		restarted := false
		for _, t := range m.lifeEnds[node] {
			restarted = restarted || (t > r.Complete && t < rm.Invoke.Time)
		}
		if !restarted {
			return rm, true
		}
	}
	return history.Op{}, false
}

func build(events []history.Event) (*model, error) {
	ops, err := history.Pair(events)
	if err != nil {
		return nil, err
	}
	m := &model{elems: map[string]map[string]*element{}, ops: ops, lifeEnds: map[string][]int64{}}
	for _, e := range events {
		// A life ends at a kill, not only at the restart: the restarted
		// process may answer before the harness records the restart.
		if e.IsNemesis() && e.Type != history.Invoke && (e.F == history.Kill || e.F == history.PowerLoss || e.F == history.Restart || e.F == history.PowerRestore) {
			for _, n := range e.Nodes() {
				m.lifeEnds[n] = append(m.lifeEnds[n], e.Time)
			}
		}
	}
	for _, rs := range m.lifeEnds {
		slices.Sort(rs)
	}
	for _, op := range ops {
		if op.F != history.OpAdd {
			continue
		}
		v := history.ValueKey(op.Invoke.Value)
		if m.elems[op.Key] == nil {
			m.elems[op.Key] = map[string]*element{}
		}
		if e := m.elems[op.Key][v]; e != nil {
			e.merge(op)
			continue
		}
		e := &element{key: op.Key, value: v, addInvoke: op.Invoke.Time, addEvent: op.Invoke.Index, outcome: op.Outcome(), lastSeen: -1,
			seenOn: map[string]settled.Read{}}
		if e.outcome != history.Fail {
			e.liveAdds = 1
		}
		if op.Complete != nil {
			e.addEvent = op.Complete.Index
		}
		if e.outcome == history.OK {
			e.addDone = op.Complete.Time
		}
		m.elems[op.Key][v] = e
	}
	for _, op := range ops {
		if op.F == history.OpRemove && op.Outcome() != history.Fail {
			if e := m.elems[op.Key][history.ValueKey(op.Invoke.Value)]; e != nil {
				e.removed = true
				if op.Outcome() == history.OK {
					e.ackedRemoves = append(e.ackedRemoves, op)
				}
			}
		}
	}
	for _, op := range ops {
		if op.F == history.OpAdd && op.Outcome() == history.OK {
			m.hold(m.elems[op.Key][history.ValueKey(op.Invoke.Value)], op)
		}
	}
	return m, nil
}

// readSet returns the elements of a read's value.
func readSet(v any) (map[string]bool, error) {
	out := map[string]bool{}
	if v == nil {
		return out, nil
	}
	xs, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("read value %s is not a list", history.ValueKey(v))
	}
	for _, x := range xs {
		out[history.ValueKey(x)] = true
	}
	return out, nil
}

func unknown(reason string) checkers.Result {
	return checkers.Result{Verdict: checkers.Unknown, Reason: reason}
}

func (Checker) Check(ctx context.Context, events []history.Event) checkers.Result {
	m, err := build(events)
	if err != nil {
		return unknown("history does not pair up: " + err.Error())
	}
	recovered, _, ok := settled.RecoveredAt(events)
	if !ok {
		recovered = math.MaxInt64 // every read is mid-run
	}
	unexpected, reads, err := m.judgeReads(ctx, recovered)
	if err != nil {
		return unknown(err.Error())
	}
	if !ok {
		// Without a final phase nothing can be lost yet, but what the
		// reads so far show stands (a prefix of a run is judged so).
		f := m.figures()
		if len(unexpected)+len(f.vanished) == 0 {
			return unknown("no final phase: the history has no completed recover, so no read is known to come after the faults")
		}
		res := checkers.Result{Verdict: checkers.Invalid, Details: f.details}
		res.Anomalies = append(res.Anomalies, unexpected[:min(len(unexpected), checkers.MaxExamples)]...)
		for _, e := range f.vanished[:min(len(f.vanished), checkers.MaxExamples)] {
			res.Anomalies = append(res.Anomalies, vanishedAnomaly(e))
		}
		res.Reason = fmt.Sprintf("no final phase yet; %d unexpected, %d vanished", len(unexpected), len(f.vanished))
		return res
	}
	finalReads, err := m.judgeFinals(recovered)
	if err != nil {
		return unknown(err.Error())
	}
	if finalReads == 0 {
		return unknown("no ok read after the cluster recovered: nothing to judge the final state by")
	}
	f := m.figures()
	f.details["unexpected"] = len(unexpected)
	f.details["reads"] = reads
	f.details["final_reads"] = finalReads
	res := checkers.Result{Verdict: checkers.Valid, Details: f.details}
	for _, e := range f.lost[:min(len(f.lost), checkers.MaxExamples)] {
		res.Anomalies = append(res.Anomalies, lostAnomaly(e))
	}
	res.Anomalies = append(res.Anomalies, unexpected[:min(len(unexpected), checkers.MaxExamples)]...)
	for _, e := range f.stale[:min(len(f.stale), checkers.MaxExamples)] {
		res.Notes = append(res.Notes, staleNote(e))
	}
	for _, e := range f.resurrected[:min(len(f.resurrected), checkers.MaxExamples)] {
		res.Anomalies = append(res.Anomalies, resurrectedAnomaly(e))
	}
	for _, e := range f.vanished[:min(len(f.vanished), checkers.MaxExamples)] {
		res.Anomalies = append(res.Anomalies, vanishedAnomaly(e))
	}
	if len(f.lost)+len(unexpected)+len(f.resurrected)+len(f.vanished) > 0 {
		res.Verdict = checkers.Invalid
	}
	res.Reason = fmt.Sprintf("%d acknowledged, %d lost, %d unexpected, %d resurrected, %d vanished, %d stale; %d final reads",
		f.details["acknowledged"], len(f.lost), len(unexpected), len(f.resurrected), len(f.vanished), len(f.stale), finalReads)
	return res
}

// judgeReads goes through every ok read: an element it holds that was
// never added, or whose add failed or had not begun, is unexpected; the
// others are seen. A read before the final phase that lacks an element
// acknowledged before it began is stale for that element.
func (m *model) judgeReads(ctx context.Context, recovered int64) (unexpected []checkers.Anomaly, reads int, err error) {
	for _, op := range m.ops {
		if op.F != history.OpRead || op.Outcome() != history.OK {
			continue
		}
		reads++
		got, err := readSet(op.Complete.Value)
		if err != nil {
			return nil, 0, fmt.Errorf("event %d: %w", op.Complete.Index, err)
		}
		if op.Invoke.Time < recovered {
			m.judgeVanished(op, got)
		}
		for v := range got {
			if a, bad := m.unexpected(op, v); bad {
				unexpected = append(unexpected, a)
			} else {
				e := m.elems[op.Key][v]
				m.hold(e, op)
				e.lastSeen = op.Complete.Index
				if first, ok := e.seenOn[op.Invoke.Node]; !ok || op.Complete.Time < first.Complete {
					e.seenOn[op.Invoke.Node] = settled.Read{Node: op.Invoke.Node, Invoke: op.Invoke.Time, Complete: op.Complete.Time, Index: op.Complete.Index}
				}
			}
		}
		if op.Invoke.Time >= recovered {
			continue // final reads are judged by judgeFinals
		}
		for _, e := range m.elems[op.Key] {
			if e.addDone != 0 && e.addDone < op.Invoke.Time && !got[e.value] && !e.removed {
				e.staleReads++
				if op.Invoke.Time >= e.lastStale.Invoke {
					e.lastStale = settled.Read{Node: op.Invoke.Node, Invoke: op.Invoke.Time, Complete: op.Complete.Time, Index: op.Complete.Index}
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, 0, fmt.Errorf("checker interrupted: %w", err)
		}
	}
	slices.SortStableFunc(unexpected, func(a, b checkers.Anomaly) int { return a.Events[0] - b.Events[0] })
	return unexpected, reads, nil
}

// judgeVanished notes, for every element never removed that read op
// lacks, whether op's node had held it earlier in the same life: a sign
// that completed before op began (reads come in invoke order, so every
// read that could be such a sign has been seen).
func (m *model) judgeVanished(op history.Op, got map[string]bool) {
	node := op.Invoke.Node
	l := m.life(node, op.Invoke.Time)
	for _, e := range m.elems[op.Key] {
		if e.removed || got[e.value] || e.vanished.Index != 0 {
			continue
		}
		if h, ok := e.heldOn[node][l]; ok && h.time < op.Invoke.Time {
			e.vanished = settled.Read{Node: node, Invoke: op.Invoke.Time, Complete: op.Complete.Time, Index: op.Complete.Index}
			e.vanishedBy = h
		}
	}
}

// unexpected says whether element v in read op is one the read could not
// have seen, and why.
func (m *model) unexpected(op history.Op, v string) (checkers.Anomaly, bool) {
	e := m.elems[op.Key][v]
	read := op.Complete.Index
	a := checkers.Anomaly{Kind: Unexpected, Key: op.Key, Events: []int{read}}
	switch {
	case e == nil:
		a.Text = fmt.Sprintf("%s: %s read by %s (event %d) was never added", op.Key, v, op.Invoke.Node, read)
	case e.outcome == history.Fail:
		a.Text = fmt.Sprintf("%s: %s read by %s (event %d) although its add failed (event %d)", op.Key, v, op.Invoke.Node, read, e.addEvent)
	case op.Complete.Time < e.addInvoke:
		a.Text = fmt.Sprintf("%s: %s read by %s (event %d) before its add began (event %d)", op.Key, v, op.Invoke.Node, read, e.addEvent)
	default:
		return checkers.Anomaly{}, false
	}
	if e != nil {
		a.Events = append(a.Events, e.addEvent)
	}
	return a, true
}

// judgeFinals notes, for every acknowledged element never removed, the
// nodes whose last final-phase read lacks it. It returns how many final
// reads there were (one per node and key).
func (m *model) judgeFinals(recovered int64) (int, error) {
	finals := settled.Finals(settled.Reads(m.ops, recovered))
	n := 0
	for key, byNode := range finals {
		for _, r := range byNode {
			n++
			got, err := readSet(r.Value)
			if err != nil {
				return 0, fmt.Errorf("event %d: %w", r.Index, err)
			}
			for _, e := range m.elems[key] {
				if e.outcome == history.OK && !e.removed && !got[e.value] {
					e.missingFinal = append(e.missingFinal, r)
				}
				if got[e.value] {
					if rm, ok := m.observedRemove(e); ok {
						e.resurrected, e.resurrectedBy = append(e.resurrected, r), rm
					}
				}
			}
		}
	}
	for _, byValue := range m.elems {
		for _, e := range byValue {
			slices.SortFunc(e.missingFinal, func(a, b settled.Read) int { return strings.Compare(a.Node, b.Node) })
		}
	}
	return n, nil
}

// figures are the counts of every element, and the lost and stale ones:
// lost in add order, stale worst first.
type figures struct {
	details                            map[string]any
	lost, stale, resurrected, vanished []*element
}

func (m *model) figures() figures {
	var all []*element
	for _, byValue := range m.elems {
		for _, e := range byValue {
			all = append(all, e)
		}
	}
	slices.SortFunc(all, func(a, b *element) int { return int(a.addInvoke - b.addInvoke) })
	f := figures{}
	counts := map[string]int{}
	var worstStale time.Duration
	for _, e := range all {
		counts["attempted"]++
		switch e.outcome {
		case history.OK:
			counts["acknowledged"]++
		case history.Fail:
			counts["failed"]++
		default:
			counts["unknown"]++
		}
		if e.removed {
			counts["remove_attempted"]++
		}
		if e.lastSeen >= 0 {
			counts["read"]++
		} else if e.outcome == history.OK {
			counts["acknowledged_never_read"]++
		}
		if len(e.missingFinal) > 0 {
			f.lost = append(f.lost, e)
		}
		if len(e.resurrected) > 0 {
			f.resurrected = append(f.resurrected, e)
		}
		if e.vanished.Index != 0 {
			f.vanished = append(f.vanished, e)
		}
		if e.staleReads > 0 {
			f.stale = append(f.stale, e)
			counts["stale_reads"] += e.staleReads
			worstStale = max(worstStale, staleFor(e))
		}
	}
	slices.SortStableFunc(f.stale, func(a, b *element) int { return int(staleFor(b) - staleFor(a)) })
	f.details = map[string]any{
		"keys":                    len(m.elems),
		"lost":                    len(f.lost),
		"resurrected":             len(f.resurrected),
		"vanished":                len(f.vanished),
		"stale":                   len(f.stale),
		"worst_stale_ms":          float64(worstStale) / float64(time.Millisecond),
		"attempted":               counts["attempted"],
		"acknowledged":            counts["acknowledged"],
		"unknown":                 counts["unknown"],
		"failed":                  counts["failed"],
		"remove_attempted":        counts["remove_attempted"],
		"read":                    counts["read"],
		"acknowledged_never_read": counts["acknowledged_never_read"],
		"stale_reads":             counts["stale_reads"],
	}
	return f
}

// staleFor is how long after its add was acknowledged the element's last
// stale read began.
func staleFor(e *element) time.Duration { return time.Duration(e.lastStale.Invoke - e.addDone) }

func lostAnomaly(e *element) checkers.Anomaly {
	a := checkers.Anomaly{Kind: Lost, Key: e.key, Events: []int{e.addEvent}}
	text := fmt.Sprintf("%s: %s acknowledged at %s (event %d)", e.key, e.value, ms(e.addDone), e.addEvent)
	if e.lastSeen >= 0 {
		a.Events = append(a.Events, e.lastSeen)
		text += fmt.Sprintf(", last read at event %d", e.lastSeen)
	} else {
		text += ", never read"
	}
	var nodes, at []string
	for _, r := range e.missingFinal {
		a.Events = append(a.Events, r.Index)
		nodes, at = append(nodes, r.Node), append(at, fmt.Sprint(r.Index))
	}
	a.Text = text + fmt.Sprintf(", absent from the final read of %s (%s %s)", strings.Join(nodes, ","), plural(len(at), "event"), strings.Join(at, ", "))
	return a
}

func resurrectedAnomaly(e *element) checkers.Anomaly {
	rm, seen := e.resurrectedBy, e.seenOn[e.resurrectedBy.Invoke.Node]
	a := checkers.Anomaly{Kind: Resurrected, Key: e.key, Events: []int{rm.Complete.Index, seen.Index}}
	var nodes []string
	for _, r := range e.resurrected {
		a.Events = append(a.Events, r.Index)
		nodes = append(nodes, r.Node)
	}
	slices.Sort(nodes)
	a.Text = fmt.Sprintf("%s: %s removed on %s (acknowledged, event %d) after %s had read it (event %d), and its only add was before; still in the final read of %s",
		e.key, e.value, rm.Invoke.Node, rm.Complete.Index, seen.Node, seen.Index, strings.Join(nodes, ","))
	return a
}

func vanishedAnomaly(e *element) checkers.Anomaly {
	r, h := e.vanished, e.vanishedBy
	return checkers.Anomaly{Kind: Vanished, Key: e.key, Events: []int{h.index, r.Index},
		Text: fmt.Sprintf("%s: %s held by %s at %s (event %d), missing from its read begun %s later (event %d); never removed, %s not restarted in between",
			e.key, e.value, r.Node, ms(h.time), h.index, time.Duration(r.Invoke-h.time).Round(time.Millisecond), r.Index, r.Node)}
}

func staleNote(e *element) checkers.Anomaly {
	r := e.lastStale
	return checkers.Anomaly{Kind: Stale, Key: e.key, Events: []int{e.addEvent, r.Index},
		Text: fmt.Sprintf("%s: %s acknowledged at %s (event %d), missing from %d later reads, the last begun %s after on %s (event %d)",
			e.key, e.value, ms(e.addDone), e.addEvent, e.staleReads, staleFor(e).Round(time.Millisecond), r.Node, r.Index)}
}

// Expect is the convergence checker's test of a settled set: it must hold
// every acknowledged element no client tried to remove.
func Expect(events []history.Event) func(key string, v any) []string {
	m, err := build(events)
	if err != nil {
		return func(string, any) []string { return []string{"history does not pair up: " + err.Error()} }
	}
	return func(key string, v any) []string {
		got, err := readSet(v)
		if err != nil {
			return []string{err.Error()}
		}
		var missing []string
		for _, e := range m.elems[key] {
			if e.outcome == history.OK && !e.removed && !got[e.value] {
				missing = append(missing, e.value)
			}
		}
		slices.Sort(missing)
		if len(missing) > 0 {
			return []string{fmt.Sprintf("lacks %d acknowledged elements (%s)", len(missing), strings.Join(missing[:min(len(missing), 5)], ", "))}
		}
		return nil
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

func ms(t int64) string { return time.Duration(t).Round(time.Millisecond).String() }
