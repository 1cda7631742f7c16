// Package convergence checks that an eventually consistent store did
// converge: after the faults stopped and every node was healthy again, the
// nodes' repeated final reads of each key reach one common value, that
// value includes every acknowledged update (as the workload's Expect
// says), and this happens within a bound. It reports how long it took:
// convergence_time_ms, from the moment every node was healthy (the end of
// the nemesis's recover) to the completion of the first read from which
// every node's answers stayed at the common value (null when some key
// never converged). Its resolution is the final phase's read interval.
package convergence

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/settled"
	"github.com/faultline/faultline/history"
)

// Options configure the checker.
type Options struct {
	// Bound is how long convergence may take; past it the run is invalid.
	Bound time.Duration
	// Expect, given the history, returns a test of a key's converged value:
	// what acknowledged updates it lacks (none: nil).
	Expect func(events []history.Event) func(key string, v any) []string
}

// Checker is the convergence checker.
type Checker struct{ o Options }

// New returns a convergence checker.
func New(o Options) Checker { return Checker{o: o} }

func (Checker) Name() string { return "convergence" }

func (c Checker) Check(ctx context.Context, events []history.Event, _ string) checkers.Result {
	ops, err := history.Pair(events)
	if err != nil {
		return checkers.Result{Valid: checkers.Unknown, Reason: "history does not pair up: " + err.Error()}
	}
	recovered, healStarted, ok := settled.RecoveredAt(events)
	if !ok {
		return checkers.Result{Valid: checkers.Unknown, Reason: "no final phase: the history has no completed recover"}
	}
	reads := settled.Reads(ops, recovered)
	if len(reads) == 0 {
		return checkers.Result{Valid: checkers.Unknown, Reason: "no ok read after the cluster recovered"}
	}
	nodes := map[string]bool{}
	for _, byNode := range reads {
		for n := range byNode {
			nodes[n] = true
		}
	}
	var expect func(string, any) []string
	if c.o.Expect != nil {
		expect = c.o.Expect(events)
	}
	var anomalies []string
	var worst time.Duration
	slowest := ""
	converged := 0
	keys := make([]string, 0, len(reads))
	for k := range reads {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	perKey := map[string]float64{}
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return checkers.Result{Valid: checkers.Unknown, Reason: "checker interrupted: " + err.Error()}
		}
		byNode := reads[k]
		finals := map[string]string{}
		var final any
		for n, rs := range byNode {
			finals[n] = history.ValueKey(rs[len(rs)-1].Value)
			final = rs[len(rs)-1].Value
		}
		distinct := map[string][]string{}
		for n, v := range finals {
			distinct[v] = append(distinct[v], n)
		}
		if len(byNode) < len(nodes) {
			anomalies = append(anomalies, fmt.Sprintf("%s: only %d of %d nodes answered a final read", k, len(byNode), len(nodes)))
			continue
		}
		if len(distinct) > 1 {
			var parts []string
			for v, ns := range distinct {
				sort.Strings(ns)
				parts = append(parts, fmt.Sprintf("%s: %s", strings.Join(ns, ","), abbreviate(v)))
			}
			sort.Strings(parts)
			anomalies = append(anomalies, fmt.Sprintf("%s: nodes never agreed: %s", k, strings.Join(parts, "; ")))
			continue
		}
		if expect != nil {
			if why := expect(k, final); len(why) > 0 {
				anomalies = append(anomalies, fmt.Sprintf("%s: nodes agree on a value that %s", k, strings.Join(why, "; ")))
				continue
			}
		}
		// The key converged when the last node settled on the final value.
		var settledAt int64
		for _, rs := range byNode {
			i := len(rs) - 1
			for i > 0 && history.ValueKey(rs[i-1].Value) == finals[rs[i].Node] {
				i--
			}
			settledAt = max(settledAt, rs[i].Complete)
		}
		d := time.Duration(max(0, settledAt-recovered))
		perKey[k] = ms(d)
		converged++
		if d >= worst {
			worst, slowest = d, k
		}
	}
	details := map[string]any{
		"keys":                len(keys),
		"converged_keys":      converged,
		"nodes":               len(nodes),
		"convergence_time_ms": ms(worst),
		"slowest_key":         slowest,
		"bound_ms":            ms(c.o.Bound),
		"recovery_ms":         ms(time.Duration(recovered - healStarted)),
		"per_key_ms":          perKey,
	}
	if converged < len(keys) {
		// Not converged: a time would read as "instantly".
		details["convergence_time_ms"] = nil
	}
	res := checkers.Result{Valid: checkers.Valid, Details: details, Anomalies: anomalies}
	if c.o.Bound > 0 && worst > c.o.Bound {
		anomalies = append(anomalies, fmt.Sprintf("convergence took %s, more than the bound %s", worst, c.o.Bound))
		res.Anomalies = anomalies
	}
	if len(anomalies) > 0 {
		res.Valid = checkers.Invalid
		res.Reason = fmt.Sprintf("%d of %d keys converged to a complete state", converged, len(keys))
		return res
	}
	res.Reason = fmt.Sprintf("all %d keys converged on %d nodes within %s of recovery", len(keys), len(nodes), worst.Round(time.Millisecond))
	return res
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func abbreviate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
