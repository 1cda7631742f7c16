package workloads

import (
	"github.com/faultline/faultline/checkers"
	lwwchecker "github.com/faultline/faultline/checkers/lww"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// LWW is the last-writer-wins register workload for eventually consistent
// stores: reads and writes of unique values on a few keys at a time, so a
// node often reads a value and then takes a write; after the faults stop,
// every node is read until it settles. Judged by the lww checker (no
// settled value that an acknowledged write had causally superseded), the
// convergence checker and the membership checker. Pair it with the clock
// fault: skew is what breaks registers stamped with wall clocks.
func LWW() Workload {
	return converging{name: "lww", readPct: 50,
		summary: "read and write last-writer-wins registers; checked that no settled value lost to a write that had seen it",
		pool:    poolSpec{stream: 0x6c7777 /* "lww" */, prefix: "r", active: 3, minOps: 150, maxOps: 250},
		own:     func() checkers.Checker { return lwwchecker.New() }, expect: lwwchecker.Expect, pick: pickLWW}
}

func pickLWW(g *convergingGen, key string, _ int) systems.Op {
	g.seq++
	return systems.Op{F: history.OpWrite, Key: key, Value: g.seq}
}
