package workloads

import (
	"github.com/faultline/faultline/checkers"
	countchecker "github.com/faultline/faultline/checkers/counter"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// Counter is the counter workload: clients add positive and negative
// deltas to a few counters at a time and read them; after the faults stop,
// every node is read until it settles. Judged by the counter checker (reads
// within the bounds the deltas allow, final reads equal), the convergence
// checker and the membership checker.
func Counter() Workload {
	return converging{name: "counter", readPct: 20,
		summary: "add positive and negative deltas to counters and read them; checked against the bounds the deltas allow and for convergence",
		pool:    poolSpec{stream: 0x636f756e746572 /* "counter" */, prefix: "counter", active: 2, minOps: 800, maxOps: 1200},
		own:     func() checkers.Checker { return countchecker.New() }, expect: countchecker.Expect, pick: pickCounter}
}

func pickCounter(g *convergingGen, key string, _ int) systems.Op {
	// Deltas in [-5, 10] without 0: both signs, drifting upwards, so a lost
	// update of either sign moves the final value.
	d := g.rng.IntN(15) - 5
	if d >= 0 {
		d++
	}
	return systems.Op{F: history.OpAdd, Key: key, Value: d}
}
