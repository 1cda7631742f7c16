package nemesis

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// Aim is what aimed faults remember between steps of one run: the leader
// an aimed partition cut off with its follower (Old, Buddy), and the node
// that led after that (New). Faults aimed by cluster state read and write
// it; the Runner owns one per run.
type Aim struct {
	mu    sync.Mutex
	Old   int // 0: not yet seen
	Buddy int
	New   int
	// Side is the smaller side the last partition with two sides cut off.
	Side []int
	// Lag is the follower a follower partition cut off (it missed writes);
	// LagSide the leader and the others a lag-majority cut put with it,
	// Lag not included.
	Lag     int
	LagSide []int
	// Seen and SeenCommit are the leader the last wait saw and its commit
	// index then: commit-moves counts from there, so a commit that lands
	// between two waits is not missed.
	Seen       int
	SeenCommit uint64
}

func (a *Aim) get() (old, buddy, nu int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.Old, a.Buddy, a.New
}

func (a *Aim) set(f func(*Aim)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a)
}

func (a *Aim) side() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.Side
}

func (a *Aim) lag() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.Lag
}

func (a *Aim) lagSide() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.LagSide
}

// aimer is a fault that reads or writes the run's Aim.
type aimer interface{ setAim(*Aim) }

// Conditions are what an until step can wait for, read from every node's
// status (role, term, commit index):
//
//   - leader: some node says it leads;
//   - new-leader: a node other than the old leader (the one an aimed
//     partition cut off) leads; it becomes the new leader that
//     new-leader faults aim at;
//   - old-side-leads: the old leader or the follower cut off with it leads;
//   - old-side-commits: one of them leads and its commit index is past
//     any the two had before (while cut off they can commit nothing, so
//     this is the first commit of the re-elected old side);
//   - commit-moves: the leader's commit index passes what it was when the
//     last wait saw it (or, for a leader no wait saw, when this one began);
//   - caught-up: every node that answers has the commit index the leader
//     had when the wait began.
var Conditions = []string{"leader", "new-leader", "old-side-leads", "old-side-commits", "commit-moves", "caught-up"}

func knownCond(c string) bool { return slices.Contains(Conditions, c) }

// condPoll is how often a wait reads the nodes: an aimed step that must
// land between a leader's election and its first replicated write has
// milliseconds, not a membership poll's 150.
const condPoll = 5 * time.Millisecond

// snapshot reads every node's status at once.
func snapshot(ctx context.Context, c Cluster) map[int]systems.Status {
	nodes := c.Nodes()
	out := make(map[int]systems.Status, len(nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			st, err := c.Status(sctx, n.ID)
			cancel()
			if err == nil {
				mu.Lock()
				out[n.ID] = st
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// leaderOf returns the node of sts that leads in the highest term.
func leaderOf(sts map[int]systems.Status) (int, systems.Status, bool) {
	best, found := 0, false
	var bst systems.Status
	for id, st := range sts {
		if st.Role == "leader" && (!found || st.Term > bst.Term || (st.Term == bst.Term && id < best)) {
			best, bst, found = id, st, true
		}
	}
	return best, bst, found
}

// wait runs an until step: it polls the nodes until the step's condition
// holds or its timeout passes, and records the outcome as a nemesis info
// observation (f "wait") so a report shows how long it took.
func (r *Runner) wait(ctx context.Context, i int, s Step) {
	begin := time.Now()
	wctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	sts := snapshot(wctx, r.Cluster)
	lead, lst, ok := leaderOf(sts)
	w := &waitState{cond: s.Until, baseline: lst.Commit}
	if seen, seenCommit := r.aim.seen(); ok && seen == lead {
		w.baseline = seenCommit
	}
	met, who := false, 0
	for wctx.Err() == nil {
		if met, who = r.holds(w, sts); met {
			break
		}
		if w.fast && ok {
			// The moment matters to the millisecond (figure8 cuts the
			// leader off between its commit of an old entry and of its
			// own): ask the leader alone, without a pause.
			sctx, scancel := context.WithTimeout(wctx, 300*time.Millisecond)
			st, err := r.Cluster.Status(sctx, lead)
			scancel()
			if err == nil && st.Role == "leader" {
				sts = map[int]systems.Status{lead: st}
				continue
			}
		}
		if !sleep(wctx, condPoll) {
			break
		}
		sts = snapshot(wctx, r.Cluster)
		lead, _, ok = leaderOf(sts)
	}
	if l, st, ok := leaderOf(sts); ok {
		r.aim.set(func(a *Aim) { a.Seen, a.SeenCommit = l, st.Commit })
	}
	v := map[string]any{"until": s.Until, "met": met, StepKey: i, "waited_ms": time.Since(begin).Milliseconds()}
	label := "until " + s.Until
	if !met {
		label += " (timed out)"
	}
	e := history.Event{Process: history.ObserverProcess, Type: history.Info, F: history.Wait, Value: v, Label: label}
	if who > 0 {
		e.Node = systems.NodeName(who)
	}
	r.History.Record(e)
	r.Logger.Info("nemesis wait", "until", s.Until, "met", met, "waited", time.Since(begin))
}

// waitState is what one wait has seen so far.
type waitState struct {
	cond     string
	baseline uint64 // commit-moves: the leader's commit to pass
	sideMax  uint64 // old-side-commits: the highest commit of the old side seen before it led
	// fast: the leader's commit is what is awaited, so poll it alone.
	fast bool
}

func (a *Aim) seen() (int, uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.Seen, a.SeenCommit
}

// holds reports whether w's condition holds on sts, and the node it is
// about.
func (r *Runner) holds(w *waitState, sts map[int]systems.Status) (bool, int) {
	lead, st, ok := leaderOf(sts)
	old, buddy, _ := r.aim.get()
	switch w.cond {
	case "leader":
		return ok, lead
	case "new-leader":
		if ok && lead != old {
			r.aim.set(func(a *Aim) { a.New = lead })
			return true, lead
		}
	case "old-side-leads":
		return ok && (lead == old || lead == buddy), lead
	case "old-side-commits":
		if ok && (lead == old || lead == buddy) {
			w.fast = true
			return st.Commit > w.sideMax, lead
		}
		for _, id := range []int{old, buddy} {
			if s, seen := sts[id]; seen {
				w.sideMax = max(w.sideMax, s.Commit)
			}
		}
	case "commit-moves":
		w.fast = true
		return ok && st.Commit > w.baseline, lead
	case "caught-up":
		for _, s := range sts {
			if s.Commit < w.baseline {
				return false, 0
			}
		}
		return len(sts) > 0, 0
	}
	return false, 0
}

// resolveAimed returns the nodes an aimed choice (ch.Kind for partitions,
// ch.Target for process faults) acts on, how they were found (the
// leader... constants) and the nodes to record as resolved, and updates
// the run's Aim:
//
//   - leader-plus-one: the leader and one follower; they become the old
//     leader and its buddy;
//   - new-leader: the node leading now, unless that is the old leader,
//     else the new leader a wait saw; it becomes the new leader;
//   - old-leader: the old leader (else whoever leads now);
//   - rest: every node but the old leader, its buddy and the new leader;
//   - cut-side: the side the last two-sided partition cut off;
//   - old-side: the old leader and its buddy again;
//   - follower: one follower, not the leader; it becomes the lagging node;
//   - hub: the node the last one-node cut isolated (Side, when it holds
//     one node);
//   - lag-majority: the leader, the lagging node and just enough other
//     nodes for a bare majority; all but the lagging node become LagSide;
//     as a process target, LagSide.
//
// Without a leader (a leaderless system, an election under way) the
// choice's seeded nodes stand in; a replay uses its pinned nodes.
func resolveAimed(ctx context.Context, c Cluster, ch Choice, aim *Aim) ([]int, string, []int) {
	if aim == nil {
		aim = &Aim{}
	}
	kind := ch.Kind
	if ch.Target != "" {
		kind = ch.Target
	}
	old, buddy, nu := aim.get()
	nodes, how := ch.Nodes, leaderFallback
	if ch.Pinned {
		how = leaderPinned
	} else {
		switch kind {
		case "leader-plus-one":
			if id, ok := leader(ctx, c); ok {
				nodes, how = []int{id, buddyOf(id, ch.Nodes, nodeIDs(c))}, leaderFound
			}
		case "new-leader":
			// The leader now, unless it is the old one; else the new
			// leader a wait saw (it may have stepped down since).
			id, ok := leader(ctx, c)
			switch {
			case ok && id != old:
				nodes, how = []int{id}, leaderFound
			case nu > 0:
				nodes, how = []int{nu}, leaderFound
			case ok:
				nodes, how = []int{id}, leaderFound
			}
		case "old-side":
			if old > 0 {
				nodes, how = []int{old, buddy}, leaderFound
			}
		case "old-leader":
			if old > 0 {
				nodes, how = []int{old}, leaderFound
			} else if id, ok := leader(ctx, c); ok {
				nodes, how = []int{id}, leaderFound
			}
		case "cut-side":
			if side := aim.side(); len(side) > 0 {
				nodes, how = side, leaderFound
			}
		case "hub":
			// The node the last one-node cut isolated: it missed what
			// the others committed meanwhile.
			if side := aim.side(); len(side) == 1 {
				nodes, how = side, leaderFound
			}
		case "follower":
			if id, ok := leader(ctx, c); ok {
				nodes, how = []int{buddyOf(id, ch.Nodes, nodeIDs(c))}, leaderFound
				aim.set(func(a *Aim) { a.Lag, a.LagSide = nodes[0], nil })
			}
		case "lag-majority":
			if ch.Target != "" {
				if side := aim.lagSide(); len(side) > 0 {
					nodes, how = side, leaderFound
				}
				break
			}
			lag := aim.lag()
			if id, ok := leader(ctx, c); ok && lag > 0 && lag != id {
				nodes, how = lagMajority(id, lag, ch.Nodes, nodeIDs(c)), leaderFound
				side := slices.DeleteFunc(slices.Clone(nodes), func(n int) bool { return n == lag })
				aim.set(func(a *Aim) { a.LagSide = side })
			}
		case "rest":
			if old > 0 {
				nodes, how = nil, leaderFound
				for _, id := range nodeIDs(c) {
					if id != old && id != buddy && id != nu {
						nodes = append(nodes, id)
					}
				}
			}
		}
	}
	switch {
	case how != leaderFound && how != leaderPinned:
	case kind == "leader-plus-one" && len(nodes) == 2:
		aim.set(func(a *Aim) { a.Old, a.Buddy, a.New = nodes[0], nodes[1], 0 })
	case kind == "new-leader" && len(nodes) == 1:
		aim.set(func(a *Aim) { a.New = nodes[0] })
	}
	var resolved []int
	if how == leaderFound {
		resolved = nodes
	}
	return nodes, how, resolved
}

// lagMajority is the leader, the lagging node and, from the seeded nodes
// then the rest in order, just enough others for a bare majority of ids.
func lagMajority(lead, lag int, seeded, ids []int) []int {
	out := []int{lead, lag}
	for _, id := range append(slices.Clone(seeded), ids...) {
		if len(out) >= len(ids)/2+1 {
			break
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// buddyOf picks the follower cut off with leader lead: the first of the
// seeded nodes that is not the leader, else the leader's next node.
func buddyOf(lead int, seeded, ids []int) int {
	for _, id := range seeded {
		if id != lead {
			return id
		}
	}
	for _, id := range ids {
		if id != lead {
			return id
		}
	}
	return lead
}
