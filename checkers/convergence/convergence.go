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
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/internal/settled"
	"github.com/faultline/faultline/history"
)

// Kinds of anomaly this checker finds. The events of each are the last
// final-phase read of the key on every node that answered.
const (
	// MissingNode: some node answered no final read of the key.
	MissingNode checkers.Kind = "missing-final-read"
	// Diverged: the nodes' last answers differ.
	Diverged checkers.Kind = "diverged"
	// Incomplete: the nodes agree on a value that lacks acknowledged
	// updates (the workload's Expect says which).
	Incomplete checkers.Kind = "incomplete"
	// Slow: convergence took longer than the bound (the slowest key).
	Slow checkers.Kind = "slow"
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

func unknown(reason string) checkers.Result {
	return checkers.Result{Verdict: checkers.Unknown, Reason: reason}
}

func (c Checker) Check(ctx context.Context, events []history.Event) checkers.Result {
	ops, err := history.Pair(events)
	if err != nil {
		return unknown("history does not pair up: " + err.Error())
	}
	recovered, healStarted, ok := settled.RecoveredAt(events)
	if !ok {
		return unknown("no final phase: the history has no completed recover")
	}
	reads := settled.Reads(ops, recovered)
	if len(reads) == 0 {
		return unknown("no ok read after the cluster recovered")
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
	var anomalies []checkers.Anomaly
	var worst time.Duration
	var slowest string
	perKey := map[string]float64{}
	keys := slices.Sorted(maps.Keys(reads))
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return unknown("checker interrupted: " + err.Error())
		}
		settledAt, a, ok := judgeKey(k, reads[k], len(nodes), expect)
		if !ok {
			anomalies = append(anomalies, a)
			continue
		}
		d := time.Duration(max(0, settledAt-recovered))
		perKey[k] = ms(d)
		if d >= worst {
			worst, slowest = d, k
		}
	}
	converged := len(perKey)
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
	if c.o.Bound > 0 && worst > c.o.Bound {
		anomalies = append(anomalies, checkers.Anomaly{Kind: Slow, Key: slowest, Events: lastReads(reads[slowest]),
			Text: fmt.Sprintf("convergence took %s (key %s), more than the bound %s", worst, slowest, c.o.Bound)})
	}
	res := checkers.Result{Verdict: checkers.Valid, Details: details, Anomalies: anomalies}
	if len(anomalies) > 0 {
		res.Verdict = checkers.Invalid
		res.Reason = fmt.Sprintf("%d of %d keys converged to a complete state", converged, len(keys))
		return res
	}
	res.Reason = fmt.Sprintf("all %d keys converged on %d nodes within %s of recovery", len(keys), len(nodes), worst.Round(time.Millisecond))
	return res
}

// judgeKey judges one key's final-phase reads, by node: every one of the
// cluster's nodes answered, their last answers agree, and the common value
// is complete. If so it returns when the key converged: the end of the
// read from which the last node to settle kept the final value.
func judgeKey(k string, byNode map[string][]settled.Read, nodes int, expect func(string, any) []string) (int64, checkers.Anomaly, bool) {
	a := checkers.Anomaly{Key: k, Events: lastReads(byNode)}
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
	switch {
	case len(byNode) < nodes:
		a.Kind, a.Text = MissingNode, fmt.Sprintf("%s: only %d of %d nodes answered a final read", k, len(byNode), nodes)
		return 0, a, false
	case len(distinct) > 1:
		var parts []string
		for v, ns := range distinct {
			slices.Sort(ns)
			parts = append(parts, fmt.Sprintf("%s: %s", strings.Join(ns, ","), abbreviate(v)))
		}
		slices.Sort(parts)
		a.Kind, a.Text = Diverged, fmt.Sprintf("%s: nodes never agreed: %s", k, strings.Join(parts, "; "))
		return 0, a, false
	}
	if expect != nil {
		if why := expect(k, final); len(why) > 0 {
			a.Kind, a.Text = Incomplete, fmt.Sprintf("%s: nodes agree on a value that %s", k, strings.Join(why, "; "))
			return 0, a, false
		}
	}
	var settledAt int64
	for _, rs := range byNode {
		i := len(rs) - 1
		for i > 0 && history.ValueKey(rs[i-1].Value) == finals[rs[i].Node] {
			i--
		}
		settledAt = max(settledAt, rs[i].Complete)
	}
	return settledAt, checkers.Anomaly{}, true
}

// lastReads are the completions of each node's last read, in node order.
func lastReads(byNode map[string][]settled.Read) []int {
	var out []int
	for _, n := range slices.Sorted(maps.Keys(byNode)) {
		rs := byNode[n]
		out = append(out, rs[len(rs)-1].Index)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func abbreviate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
