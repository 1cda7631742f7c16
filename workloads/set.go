package workloads

import (
	"github.com/faultline/faultline/checkers"
	setchecker "github.com/faultline/faultline/checkers/set"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// Set is the set workload: clients add unique elements to a few sets at a
// time (and, where the system offers it, remove some they added) and read
// whole sets; after the faults stop, every node is read until it settles.
// Judged by the set checker (lost / stale / unexpected elements), the
// convergence checker and the membership checker.
func Set() Workload {
	return converging{name: "set", readPct: setReadPct,
		summary: "add unique elements to sets (and remove some), read whole sets; checked for lost, stale and unexpected elements and convergence",
		pool:    poolSpec{stream: 0x736574 /* "set" */, prefix: "set", active: 2, minOps: 800, maxOps: 1200},
		own:     func() checkers.Checker { return setchecker.New() }, expect: setchecker.Expect, pick: pickSet}
}

const (
	setReadPct   = 10
	setRemovePct = 10
)

func pickSet(g *convergingGen, key string, roll int) systems.Op {
	switch {
	case g.removes && roll < setReadPct+setRemovePct && len(g.added[key]) > 0:
		// Remove one of the recent adds, so the remove often races the
		// add's dissemination (the OR-Set's add-wins case).
		xs := g.added[key]
		i := max(0, len(xs)-1-g.rng.IntN(min(len(xs), 20)))
		return systems.Op{F: history.OpRemove, Key: key, Value: xs[i]}
	default:
		g.seq++
		g.added[key] = append(g.added[key], g.seq)
		return systems.Op{F: history.OpAdd, Key: key, Value: g.seq}
	}
}
