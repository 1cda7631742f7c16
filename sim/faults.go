package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/systems"
)

// Fault kinds the simulator strikes. Partition shapes are the nemesis's
// (nemesis.PartitionShapes, chosen by the nemesis's own Choose); process
// targets likewise (nemesis.Targets), with the leader resolved from the
// simulated nodes.
var (
	processFaults = []string{"kill", "pause", "power-loss"}
	// simTargets are the nemesis targets the simulator resolves.
	simTargets     = []string{"one", "minority", "majority", "leader", "all"}
	defaultTargets = map[string][]string{
		"kill":       {"one", "minority", "leader"},
		"pause":      {"one", "minority", "leader"},
		"power-loss": {"one", "minority", "all"},
	}
	simShapes = []string{"halves", "one", "majority-ring", "bridge", "leader", "one-way", "leader-plus-one", "new-leader"}
)

// FaultNames lists every fault name Config.Faults takes.
func FaultNames() []string {
	out := []string{"partition"}
	for _, s := range simShapes {
		out = append(out, "partition-"+s)
	}
	for _, f := range processFaults {
		out = append(out, f)
		for _, t := range simTargets {
			out = append(out, f+"-"+t)
		}
	}
	return append(out, "figure8")
}

func checkFault(f string, sys systems.System) error {
	if !slices.Contains(FaultNames(), f) {
		return fmt.Errorf("unknown fault %q (valid: %s)", f, strings.Join(FaultNames(), ", "))
	}
	if f == "figure8" && !leads(sys) {
		return fmt.Errorf("fault figure8 needs a leader, and system %s has none", sys.Name())
	}
	return nil
}

// leads reports whether a system elects leaders (its nodes say so).
func leads(sys systems.System) bool { return sys.Name() == "raft" }

// faulter strikes faults one at a time: every FaultInterval it ends the
// fault in force or starts a new one.
type faulter struct {
	w *world
	// stop ends the fault in force (nil: none).
	stop func()
	// script, while a figure8 runs, polls it.
	script *figure8
	// oldLeader is the leader a leader-plus-one cut isolated.
	oldLeader int
}

func newFaulter(w *world) *faulter { return &faulter{w: w} }

func (f *faulter) schedule() {
	if len(f.w.cfg.Faults) == 0 {
		return
	}
	f.w.s.after(f.w.cfg.FaultInterval, f.step)
}

func (f *faulter) step() {
	w := f.w
	if w.clientsDone {
		return
	}
	switch {
	case f.script != nil:
		// A figure8 runs to its own end.
	case f.stop != nil:
		f.stop()
		f.stop = nil
	case w.cfg.MaxFaults == 0 || w.faultCount < w.cfg.MaxFaults:
		kind := w.cfg.Faults[w.faultRng.IntN(len(w.cfg.Faults))]
		w.faultCount++
		f.start(kind)
	}
	w.s.after(w.cfg.FaultInterval, f.step)
}

func (f *faulter) start(kind string) {
	w := f.w
	switch {
	case kind == "figure8":
		f.script = &figure8{f: f}
		f.script.poll()
	case kind == "partition" || strings.HasPrefix(kind, "partition-"):
		shapes := simShapes
		if s, ok := strings.CutPrefix(kind, "partition-"); ok {
			shapes = []string{s}
		}
		p := &nemesis.Partition{Kinds: shapes}
		ch := p.Choose(w.faultRng, w.ids)
		g := ch.Grudge
		switch ch.Kind {
		case "leader":
			g = nemesis.Bisect(w.ids, f.aim(ch.Nodes[:1], 0))
		case "leader-plus-one":
			side := f.aim(ch.Nodes[:1], 0)
			side = append(side, f.other(ch.Nodes, side[0]))
			f.oldLeader = side[0]
			g = nemesis.Bisect(w.ids, side)
		case "new-leader":
			g = nemesis.Bisect(w.ids, f.aim(ch.Nodes[:1], f.oldLeader))
		}
		f.partition(ch.Kind, g)
		f.stop = func() { f.heal() }
	default:
		action, target := kind, ""
		for _, a := range processFaults {
			if t, ok := strings.CutPrefix(kind, a+"-"); ok {
				action, target = a, t
			}
		}
		targets := defaultTargets[action]
		if target != "" {
			targets = []string{target}
		}
		ch := (&nemesis.Process{Action: action, Targets: targets}).Choose(w.faultRng, w.ids)
		nodes := ch.Nodes
		if ch.Target == "leader" {
			nodes = f.aim(nodes[:1], 0)
		}
		f.process(action, ch.Target, nodes)
	}
}

// aim returns the node that leads now (not avoid), or fallback.
func (f *faulter) aim(fallback []int, avoid int) []int {
	if l, ok := f.leader(avoid); ok {
		return []int{l}
	}
	return fallback
}

// leader returns a node that believes it leads, other than avoid, the
// lowest ID first (deterministic).
func (f *faulter) leader(avoid int) (int, bool) {
	for _, sl := range f.w.nodes {
		if sl.id != avoid && sl.n != nil && !sl.paused && sl.n.Leader() {
			return sl.id, true
		}
	}
	return 0, false
}

// other returns a node of choices that is not id, or the next ID.
func (f *faulter) other(choices []int, id int) int {
	for _, c := range choices {
		if c != id {
			return c
		}
	}
	return id%len(f.w.ids) + 1
}

// partition cuts the links of grudge g (replacing any cut in force).
func (f *faulter) partition(kind string, g cluster.Grudge) {
	w := f.w
	if len(w.blocked) > 0 {
		f.heal() // one cut at a time in the history too
	}
	names := map[string][]string{}
	for to, froms := range g {
		for _, from := range froms {
			w.blocked[[2]int{from, to}] = true
		}
		if len(froms) > 0 {
			names[systems.NodeName(to)] = nodeNames(froms)
		}
	}
	f.record(history.StartPartition, map[string]any{"kind": kind, "grudge": names}, "", "partition "+kind+" "+grudgeLabel(w.ids, g))
}

func (f *faulter) heal() {
	clear(f.w.blocked)
	f.record(history.StopPartition, nil, "", "healed")
}

// process kills, pauses or powers off nodes; stop undoes it.
func (f *faulter) process(action, target string, nodes []int) {
	w := f.w
	startF, stopF := history.Kill, history.Restart
	switch action {
	case "pause":
		startF, stopF = history.Pause, history.Resume
	case "power-loss":
		startF, stopF = history.PowerLoss, history.PowerRestore
	}
	var hit []int
	for _, id := range nodes {
		if sl := w.slot(id); sl.n == nil || (action == "pause" && sl.paused) {
			continue
		}
		hit = append(hit, id)
		if action == "pause" {
			w.pause(id)
		} else {
			w.kill(id, action == "power-loss")
		}
	}
	nf := strings.Join(nodeNames(hit), ",")
	f.record(startF, map[string]any{"target": target, "nodes": nodeNames(hit)}, nf, fmt.Sprintf("%s %s (%s)", startF, nf, target))
	f.stop = func() {
		for _, id := range hit {
			if action == "pause" {
				w.resume(id)
			} else if w.slot(id).n == nil {
				w.start(id)
			}
		}
		f.record(stopF, map[string]any{"nodes": nodeNames(hit)}, nf, fmt.Sprintf("%s %s", stopF, nf))
	}
}

// healAll ends every fault: the cut, paused and downed nodes. Like the
// runner's recovery it is one nemesis "recover" in the history.
func (f *faulter) healAll() {
	w := f.w
	if f.stop != nil {
		f.stop()
		f.stop = nil
	}
	if f.script != nil && len(w.blocked) > 0 {
		f.heal()
	}
	f.script = nil
	w.record(history.Event{Process: history.NemesisProcess, Type: history.Invoke, F: history.Recover})
	clear(w.blocked)
	for _, sl := range w.nodes {
		switch {
		case sl.n == nil:
			w.start(sl.id)
		case sl.paused:
			w.resume(sl.id)
		}
	}
	w.record(history.Event{Process: history.NemesisProcess, Type: history.Info, F: history.Recover,
		Value: map[string]any{"nodes_up": len(w.nodes), "links_healed": true}, Label: "recovered"})
}

func (f *faulter) record(fn history.Func, v map[string]any, node, label string) {
	w := f.w
	w.record(history.Event{Process: history.NemesisProcess, Type: history.Invoke, F: fn})
	e := history.Event{Process: history.NemesisProcess, Type: history.Info, F: fn, Node: node, Label: label}
	if v != nil {
		e.Value = v
	}
	w.record(e)
}

func nodeNames(ids []int) []string {
	out := make([]string, 0, len(ids))
	for _, id := range slices.Sorted(slices.Values(ids)) {
		out = append(out, systems.NodeName(id))
	}
	return out
}

// grudgeLabel renders a grudge for the timeline: "n1,n2 | n3,n4,n5" for a
// clean split, else the cut links.
func grudgeLabel(ids []int, g cluster.Grudge) string {
	var parts []string
	for _, to := range ids {
		if froms := g[to]; len(froms) > 0 {
			parts = append(parts, fmt.Sprintf("%s⊥%s", systems.NodeName(to), strings.Join(nodeNames(froms), ",")))
		}
	}
	return strings.Join(parts, " ")
}

// figure8 is the schedule of the Raft paper's Figure 8, aimed at the
// simulated leaders:
//
//  1. cut the leader L and one follower off the rest: L keeps taking
//     writes for an election timeout, which reach only its buddy;
//  2. when the rest elect L2, isolate L2 alone (healing L's cut): L2 takes
//     writes of its newer term at the same indices, which reach nobody;
//  3. when another node leads (L, whose log is longest), give it time to
//     replicate its old-term tail to a majority, then isolate it and let
//     L2 back: L2's newer last term wins it the votes, and it overwrites
//     the indices L's tail held.
//
// A correct Raft never acknowledges L's tail before step 3, as no entry of
// L's new term is on a majority; with commit-previous-term it does, and
// step 3 loses acknowledged writes. Each wait gives up after figure8Wait.
type figure8 struct {
	f            *faulter
	phase        int
	since        time.Duration
	l, buddy, l2 int
	// led is when the re-elected old side's leader was first seen.
	led time.Duration
}

const (
	figure8Poll = 10 * time.Millisecond
	figure8Wait = 3 * time.Second
	// figure8Replicate is how long the re-elected leader has to push its
	// old tail to a majority before it is cut off.
	// It is short: an entry of its own term on a majority would commit
	// the tail correctly and keep L2 from winning.
	figure8Replicate = 50 * time.Millisecond
	// figure8Overwrite is how long L2 leads before the cut heals.
	figure8Overwrite = 300 * time.Millisecond
)

func (s *figure8) poll() {
	f, w := s.f, s.f.w
	if f.script != s || w.clientsDone {
		return
	}
	now := w.s.now
	if s.phase > 0 && now-s.since > figure8Wait {
		f.heal()
		f.script = nil
		return
	}
	switch s.phase {
	case 0:
		if l, ok := f.leader(0); ok {
			s.l = l
			s.buddy = f.other(nemesisPick(w), l)
			f.oldLeader = l
			f.partition("leader-plus-one", nemesis.Bisect(w.ids, []int{l, s.buddy}))
			s.phase, s.since = 1, now
		} else if now-s.since > figure8Wait {
			f.script = nil
			return
		}
	case 1:
		if l2, ok := f.leaderOutside(s.l); ok {
			s.l2 = l2
			f.partition("new-leader", nemesis.Bisect(w.ids, []int{l2}))
			s.phase, s.since = 2, now
		}
	case 2:
		// L or its buddy must win: they hold the old tail (and L the
		// clients waiting on it).
		l3, ok := f.leader(s.l2)
		switch {
		case !ok || (l3 != s.l && l3 != s.buddy):
			s.led = 0
		case s.led == 0:
			s.led = now
		case now-s.led >= figure8Replicate:
			f.partition("old-leader", nemesis.Bisect(w.ids, []int{l3}))
			s.phase, s.since = 3, now
		}
	case 3:
		if now-s.since > figure8Overwrite {
			if l, ok := f.leader(0); ok && l == s.l2 {
				f.heal()
				f.script = nil
				return
			}
		}
	}
	w.s.after(figure8Poll, s.poll)
}

// leaderOutside returns a leader other than l and not on l's side.
func (f *faulter) leaderOutside(l int) (int, bool) {
	for _, sl := range f.w.nodes {
		if sl.id == l || !f.w.blocked[[2]int{sl.id, l}] {
			continue // l itself, or on l's side
		}
		if sl.n != nil && !sl.paused && sl.n.Leader() {
			return sl.id, true
		}
	}
	return 0, false
}

// nemesisPick draws a random order of the nodes from the fault stream.
func nemesisPick(w *world) []int {
	perm := w.faultRng.Perm(len(w.ids))
	out := make([]int, len(perm))
	for i, p := range perm {
		out[i] = w.ids[p]
	}
	return out
}
