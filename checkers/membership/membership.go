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
// The checker is informational: Valid with the figures in Details, or
// Unknown when the history has no membership observations at all.
package membership

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

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
	detectedAt int64 // -1 until every up node saw it dead
}

type interval struct{ from, to int64 }

func (c Checker) Check(ctx context.Context, events []history.Event, _ string) checkers.Result {
	views := map[string]map[string]string{} // viewer -> its latest view
	down := map[string]int64{}              // node -> since when
	lastUp := map[string]int64{}            // node -> when it last came back
	var kills []*kill
	open := map[string]*kill{} // node -> its pending kill
	netOpen := map[string]int64{}
	var netFaults []interval
	var lastNetEnd int64 = -1 << 62
	observations, falseSusp, netSusp, recoverySusp := 0, 0, 0, 0
	var falseEx []string
	nodes := map[string]bool{}

	netActive := func(t int64) bool {
		return len(netOpen) > 0 || t-lastNetEnd < int64(c.o.Grace)
	}
	// allSeeDead reports whether every node up at t (other than n) has n
	// dead in its latest view.
	allSeeDead := func(n string) bool {
		seen := 0
		for v := range nodes {
			if v == n {
				continue
			}
			if _, isDown := down[v]; isDown {
				continue
			}
			if views[v][n] != "dead" {
				return false
			}
			seen++
		}
		return seen > 0
	}
	check := func(t int64) {
		for n, k := range open {
			if k.detectedAt < 0 && allSeeDead(n) {
				k.detectedAt = t
			}
		}
	}

	for _, e := range events {
		if e.Node != "" && (e.IsNemesis() || e.Process == history.ObserverProcess) {
			for _, n := range strings.Split(e.Node, ",") {
				if n != "" {
					nodes[n] = true
				}
			}
		}
		switch {
		case e.IsNemesis() && e.Type != history.Invoke:
			names := e.Nodes()
			fault, start, isFault := history.FaultOf(e.F)
			switch {
			case isFault && fault.Effect == history.NodesDown && start:
				for _, n := range names {
					down[n] = e.Time
					k := &kill{node: n, at: e.Time, upAt: -1, detectedAt: -1}
					kills = append(kills, k)
					open[n] = k
				}
				check(e.Time)
			case isFault && fault.Effect == history.NodesDown:
				for _, n := range names {
					c.nodeUp(n, e.Time, down, lastUp, open)
				}
			case e.F == history.Recover:
				for n := range down {
					c.nodeUp(n, e.Time, down, lastUp, open)
				}
				if len(netOpen) > 0 {
					lastNetEnd = e.Time
				}
				for f, from := range netOpen {
					netFaults = append(netFaults, interval{from, e.Time})
					delete(netOpen, f)
				}
			case !isFault || fault.Effect == history.Clocks:
				// Clock faults leave the network alone.
			case start: // a network fault, or one of a foreign history
				netOpen[fault.Name] = e.Time
			default:
				f := fault.Name
				if from, ok := netOpen[f]; ok {
					netFaults = append(netFaults, interval{from, e.Time})
					delete(netOpen, f)
					lastNetEnd = e.Time
				}
			}
		case e.Process == history.ObserverProcess && e.F == history.Membership:
			view, ok := asView(e.Value)
			if !ok {
				continue
			}
			observations++
			for n := range view {
				nodes[n] = true
			}
			prev := views[e.Node]
			for n, s := range view {
				if n == e.Node || (s != "suspect" && s != "dead") || prev[n] == s || (s == "dead" && prev[n] == "suspect") {
					continue
				}
				// A new suspicion of n by e.Node.
				_, nDown := down[n]
				_, vDown := down[e.Node]
				recent := e.Time-lastUp[n] < int64(c.o.Grace) && lastUp[n] != 0
				switch {
				case nDown || vDown:
				case recent:
					recoverySusp++
				case netActive(e.Time):
					netSusp++
				default:
					falseSusp++
					if len(falseEx) < 10 {
						falseEx = append(falseEx, fmt.Sprintf("%s marked %s %s at %s (event %d) while it was up and the network whole", e.Node, n, s, ms(e.Time), e.Index))
					}
				}
			}
			views[e.Node] = view
			check(e.Time)
		}
		if err := ctx.Err(); err != nil {
			return checkers.Result{Valid: checkers.Unknown, Reason: "checker interrupted: " + err.Error()}
		}
	}
	if observations == 0 {
		return checkers.Result{Valid: checkers.Unknown, Reason: "no membership observations in the history: the system reports no membership view"}
	}
	var detect []time.Duration
	var perKill []map[string]any
	undetected := 0
	for _, k := range kills {
		row := map[string]any{"node": k.node, "at_ms": dms(time.Duration(k.at))}
		if k.detectedAt >= 0 {
			d := time.Duration(k.detectedAt - k.at)
			detect = append(detect, d)
			row["detected_ms"] = float64(d.Microseconds()) / 1000
		} else {
			undetected++
			row["detected_ms"] = nil
			if k.upAt >= 0 {
				row["back_after_ms"] = float64(time.Duration(k.upAt-k.at).Microseconds()) / 1000
			}
		}
		perKill = append(perKill, row)
	}
	details := map[string]any{
		"observations":                     observations,
		"kills":                            len(kills),
		"detected":                         len(detect),
		"undetected":                       undetected,
		"false_suspicions":                 falseSusp,
		"suspicions_during_network_faults": netSusp,
		"suspicions_after_restart":         recoverySusp,
		"network_faults":                   len(netFaults),
		"per_kill":                         perKill,
	}
	if len(detect) > 0 {
		sort.Slice(detect, func(i, j int) bool { return detect[i] < detect[j] })
		var sum time.Duration
		for _, d := range detect {
			sum += d
		}
		details["detection_ms"] = map[string]float64{
			"min": dms(detect[0]), "median": dms(detect[len(detect)/2]), "max": dms(detect[len(detect)-1]),
			"mean": dms(sum / time.Duration(len(detect))),
		}
	}
	if len(falseEx) > 0 {
		details["false_suspicion_examples"] = falseEx
	}
	reason := fmt.Sprintf("%d kills, %d detected by every live node", len(kills), len(detect))
	if len(detect) > 0 {
		reason += fmt.Sprintf(" (median %s, max %s)", detect[len(detect)/2].Round(time.Millisecond), detect[len(detect)-1].Round(time.Millisecond))
	}
	reason += fmt.Sprintf("; %d false suspicions", falseSusp)
	return checkers.Result{Valid: checkers.Valid, Reason: reason, Details: details}
}

func (c Checker) nodeUp(n string, t int64, down, lastUp map[string]int64, open map[string]*kill) {
	if _, ok := down[n]; !ok {
		return
	}
	delete(down, n)
	lastUp[n] = t
	if k := open[n]; k != nil {
		k.upAt = t
		delete(open, n)
	}
}

func splitNodes(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
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
