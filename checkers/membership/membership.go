// Package membership measures a failure detector from the history alone:
// the harness's observer (process -2) records each node's membership view
// (node -> alive|suspect|dead) whenever it changes, and the nemesis records
// kills, restarts, pauses and network faults. Two figures come out:
//
//   - detection: for each node killed (or paused), the time from the
//     kill to the moment every other node that was up had marked it dead;
//     a kill undone before that counts as undetected.
//   - false suspicions: a node marking another suspect or dead while that
//     one was up and no network fault was in effect (nor had ended within
//     Grace). Suspicions during partitions and link faults are counted
//     apart: there they are the detector doing its job.
//
// The checker is informational (Result.Informational): Valid with the
// figures in Details, or Unknown when the history has no membership
// observations at all (every history from another tool); either way it
// never decides a run's verdict.
package membership

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

// Kinds of note this checker makes (it finds no anomalies: a slow or
// jumpy failure detector is a figure, not an inconsistency).
const (
	// FalseSuspicion: a node marked another suspect or dead while that one
	// was up and the network whole. Its event: the observation.
	FalseSuspicion checkers.Kind = "false-suspicion"
	// Undetected: a kill (or pause, or power loss) undone before every
	// live node had marked the node dead. Its events: the kill and the
	// step that brought the node back.
	Undetected checkers.Kind = "undetected"
)

// maxNotes bounds the notes listed per kind; Details holds the counts.
const maxNotes = 10

// Options tune the checker.
type Options struct {
	// Grace is how long after a network fault ends, or after a node comes
	// back, a suspicion is still attributed to it. Zero means 5s.
	Grace time.Duration
}

// Checker is the membership checker.
type Checker struct{ o Options }

// New returns a membership checker.
func New(o Options) Checker {
	if o.Grace == 0 {
		o.Grace = 5 * time.Second
	}
	return Checker{o: o}
}

func (Checker) Name() string { return "membership" }

type kill struct {
	node       string
	at, upAt   int64 // upAt: when it came back, or -1
	event      int   // the kill's event
	upEvent    int   // the event that brought it back, or -1
	detectedAt int64 // -1 until every up node saw it dead
}

// detector follows the history event by event: what each node thinks of
// the others, which nodes are down, which network faults are on.
type detector struct {
	grace time.Duration

	views      map[string]map[string]string // viewer -> its latest view
	nodes      map[string]bool
	down       map[string]int64 // node -> since when
	lastUp     map[string]int64 // node -> when it last came back
	kills      []*kill
	open       map[string]*kill // node -> its pending kill
	netOpen    map[string]int64 // network fault -> since when
	netFaults  int
	lastNetEnd int64

	observations, falseSusp, netSusp, recoverySusp int
	notes                                          []checkers.Anomaly
}

// Check measures the detector; its result is always Informational.
func (c Checker) Check(ctx context.Context, events []history.Event) checkers.Result {
	r := c.check(ctx, events)
	r.Informational = true
	return r
}

func (c Checker) check(ctx context.Context, events []history.Event) checkers.Result {
	d := &detector{
		grace: c.o.Grace, views: map[string]map[string]string{}, nodes: map[string]bool{},
		down: map[string]int64{}, lastUp: map[string]int64{}, open: map[string]*kill{},
		netOpen: map[string]int64{}, lastNetEnd: -1 << 62,
	}
	for _, e := range events {
		switch {
		case e.IsNemesis() && e.Type != history.Invoke:
			d.nemesis(e)
		case e.Process == history.ObserverProcess && e.F == history.Membership:
			d.observe(e)
		}
		if err := ctx.Err(); err != nil {
			return checkers.Result{Verdict: checkers.Unknown, Reason: "checker interrupted: " + err.Error()}
		}
	}
	if d.observations == 0 {
		return checkers.Result{Verdict: checkers.Unknown, Reason: "no membership observations in the history: the system reports no membership view"}
	}
	return d.result()
}

// nemesis takes in a nemesis step: nodes going down or coming back,
// network faults starting or ending, the final recover.
func (d *detector) nemesis(e history.Event) {
	names := e.Nodes()
	for _, n := range names {
		d.nodes[n] = true
	}
	fault, start, isFault := history.FaultOf(e.F)
	switch {
	case e.F == history.Recover:
		for n := range d.down {
			d.nodeUp(n, e)
		}
		for f := range d.netOpen {
			d.netEnded(f, e.Time)
		}
	case !isFault || fault.Effect == history.Clocks || fault.Effect == history.Clients:
		// Clock and client faults leave the network alone.
	case fault.Effect == history.NodesDown && start:
		for _, n := range names {
			d.down[n] = e.Time
			k := &kill{node: n, at: e.Time, event: e.Index, upAt: -1, upEvent: -1, detectedAt: -1}
			d.kills = append(d.kills, k)
			d.open[n] = k
		}
		d.detect(e.Time)
	case fault.Effect == history.NodesDown:
		for _, n := range names {
			d.nodeUp(n, e)
		}
	case start: // a network fault, or a fault of a foreign history
		d.netOpen[fault.Name] = e.Time
	default:
		d.netEnded(fault.Name, e.Time)
	}
}

func (d *detector) netEnded(f string, at int64) {
	if _, ok := d.netOpen[f]; ok {
		delete(d.netOpen, f)
		d.netFaults++
		d.lastNetEnd = at
	}
}

func (d *detector) nodeUp(n string, e history.Event) {
	if _, ok := d.down[n]; !ok {
		return
	}
	delete(d.down, n)
	d.lastUp[n] = e.Time
	if k := d.open[n]; k != nil {
		k.upAt, k.upEvent = e.Time, e.Index
		delete(d.open, n)
	}
}

// observe takes in one node's new view: each new suspicion in it is
// attributed (a node down, a network fault, a recent restart) or counted
// false, and a kill may now be detected by everyone.
func (d *detector) observe(e history.Event) {
	view, ok := asView(e.Value)
	if !ok {
		return
	}
	d.observations++
	d.nodes[e.Node] = true
	for n := range view {
		d.nodes[n] = true
	}
	prev := d.views[e.Node]
	for _, n := range slices.Sorted(maps.Keys(view)) {
		s := view[n]
		if n == e.Node || (s != "suspect" && s != "dead") || prev[n] == s || (s == "dead" && prev[n] == "suspect") {
			continue
		}
		// A new suspicion of n by e.Node.
		_, nDown := d.down[n]
		_, vDown := d.down[e.Node]
		switch {
		case nDown || vDown:
		case d.lastUp[n] != 0 && e.Time-d.lastUp[n] < int64(d.grace):
			d.recoverySusp++
		case len(d.netOpen) > 0 || e.Time-d.lastNetEnd < int64(d.grace):
			d.netSusp++
		default:
			d.falseSusp++
			if d.falseSusp <= maxNotes {
				d.notes = append(d.notes, checkers.Anomaly{Kind: FalseSuspicion, Events: []int{e.Index},
					Text: fmt.Sprintf("%s marked %s %s at %s (event %d) while it was up and the network whole", e.Node, n, s, ms(e.Time), e.Index)})
			}
		}
	}
	d.views[e.Node] = view
	d.detect(e.Time)
}

// detect marks the pending kills every node that is up now sees dead.
func (d *detector) detect(t int64) {
	for n, k := range d.open {
		if k.detectedAt < 0 && d.allSeeDead(n) {
			k.detectedAt = t
		}
	}
}

// allSeeDead reports whether every node that is up (other than n) has n
// dead in its latest view.
func (d *detector) allSeeDead(n string) bool {
	seen := 0
	for v := range d.nodes {
		if v == n {
			continue
		}
		if _, isDown := d.down[v]; isDown {
			continue
		}
		if d.views[v][n] != "dead" {
			return false
		}
		seen++
	}
	return seen > 0
}

// result turns what was followed into figures and notes.
func (d *detector) result() checkers.Result {
	var detect []time.Duration
	var perKill []map[string]any
	undetected := 0
	for _, k := range d.kills {
		row := map[string]any{"node": k.node, "at_ms": dms(time.Duration(k.at))}
		if k.detectedAt >= 0 {
			dt := time.Duration(k.detectedAt - k.at)
			detect = append(detect, dt)
			row["detected_ms"] = dms(dt)
			perKill = append(perKill, row)
			continue
		}
		undetected++
		row["detected_ms"] = nil
		n := checkers.Anomaly{Kind: Undetected, Events: []int{k.event},
			Text: fmt.Sprintf("%s went down at %s (event %d) and was never marked dead by every live node", k.node, ms(k.at), k.event)}
		if k.upAt >= 0 {
			row["back_after_ms"] = dms(time.Duration(k.upAt - k.at))
			n.Events = append(n.Events, k.upEvent)
			n.Text = fmt.Sprintf("%s went down at %s (event %d) and was back %s later (event %d), before every live node had marked it dead",
				k.node, ms(k.at), k.event, time.Duration(k.upAt-k.at).Round(time.Millisecond), k.upEvent)
		}
		if undetected <= maxNotes {
			d.notes = append(d.notes, n)
		}
		perKill = append(perKill, row)
	}
	details := map[string]any{
		"observations":                     d.observations,
		"kills":                            len(d.kills),
		"detected":                         len(detect),
		"undetected":                       undetected,
		"false_suspicions":                 d.falseSusp,
		"suspicions_during_network_faults": d.netSusp,
		"suspicions_after_restart":         d.recoverySusp,
		"network_faults":                   d.netFaults,
		"per_kill":                         perKill,
	}
	reason := fmt.Sprintf("%d kills, %d detected by every live node", len(d.kills), len(detect))
	if len(detect) > 0 {
		slices.Sort(detect)
		var sum time.Duration
		for _, dt := range detect {
			sum += dt
		}
		details["detection_ms"] = map[string]float64{
			"min": dms(detect[0]), "median": dms(detect[len(detect)/2]), "max": dms(detect[len(detect)-1]),
			"mean": dms(sum / time.Duration(len(detect))),
		}
		reason += fmt.Sprintf(" (median %s, max %s)", detect[len(detect)/2].Round(time.Millisecond), detect[len(detect)-1].Round(time.Millisecond))
	}
	reason += fmt.Sprintf("; %d false suspicions", d.falseSusp)
	return checkers.Result{Verdict: checkers.Valid, Reason: reason, Details: details, Notes: d.notes}
}

func asView(v any) (map[string]string, bool) {
	switch m := v.(type) {
	case map[string]string:
		return m, true
	case map[string]any:
		out := make(map[string]string, len(m))
		for k, x := range m {
			s, ok := x.(string)
			if !ok {
				return nil, false
			}
			out[k] = s
		}
		return out, true
	}
	return nil, false
}

func ms(t int64) string           { return time.Duration(t).Round(time.Millisecond).String() }
func dms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
