package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// Targets are how process faults pick their nodes.
var Targets = []string{"one", "minority", "majority", "leader", "all", "leader-plus-one", "new-leader", "old-leader", "rest", "cut-side", "lag-majority"}

// defaultTargets are what a family name alone mixes. Kill and pause keep
// a majority up, so a correct system stays available while its dead or
// frozen nodes' work is cut short; losing power to every node at once is
// what loses data that was never fsynced anywhere.
var defaultTargets = map[string][]string{
	"kill":       {"one", "minority", "leader"},
	"pause":      {"one", "minority", "leader"},
	"power-loss": {"one", "minority", "all"},
}

var targetSummary = map[string]string{
	"one":             "one random node",
	"minority":        "a random minority (1 up to just under half)",
	"majority":        "a random majority (just over half)",
	"leader":          "the current leader (a random node for leaderless systems)",
	"all":             "every node at once",
	"leader-plus-one": "the current leader and one follower",
	"new-leader":      "whichever node leads now (after a leader-plus-one partition: the majority's new leader)",
	"old-leader":      "the old leader (the one a leader-plus-one fault cut off), else the current leader",
	"rest":            "every node but the old leader, its buddy and the new leader (the bystanders of figure8)",
	"cut-side":        "the nodes the last two-sided partition cut off (a random minority if none did)",
	"lag-majority":    "the leader and the others a lag-majority partition put with the lagging node, the lagging node spared (a random minority if none did)",
}

// Process is a fault on node processes. Action says which:
//
//   - kill: SIGKILL; Stop restarts the nodes on their data dirs;
//   - pause: SIGSTOP; Stop sends SIGCONT;
//   - power-loss: SIGKILL of every target at once, with nodes running
//     with lazy storage (the runner arranges it), so what they wrote but
//     did not fsync is gone, as on machines that lost power; Stop
//     restarts them.
type Process struct {
	Action  string   // kill, pause, power-loss
	Targets []string // chosen from per episode

	name string
	hit  []int // nodes the running episode acted on
	aim  *Aim
}

func (p *Process) setAim(a *Aim) { p.aim = a }

func (p *Process) Name() string { return nameOr(p.name, p.Action) }
func (*Process) Lane() string   { return LaneProcess }

func (p *Process) StartF() history.Func {
	switch p.Action {
	case "pause":
		return history.Pause
	case "power-loss":
		return history.PowerLoss
	}
	return history.Kill
}

func (p *Process) StopF() history.Func {
	switch p.Action {
	case "pause":
		return history.Resume
	case "power-loss":
		return history.PowerRestore
	}
	return history.Restart
}

// Choose picks a target and its nodes; for leader, the nodes are the
// fallback.
func (p *Process) Choose(rng *rand.Rand, ids []int) Choice {
	targets := orDefault(p.Targets, defaultTargets[p.Action])
	ch := Choice{Target: targets[rng.IntN(len(targets))]}
	n := len(ids)
	switch ch.Target {
	case "one", "leader", "new-leader", "old-leader":
		ch.Nodes = pickN(rng, ids, 1)
	case "leader-plus-one":
		ch.Nodes = pickN(rng, ids, 2)
	case "rest":
		ch.Nodes = pickN(rng, ids, max(1, len(ids)-3))
	case "minority", "cut-side", "lag-majority":
		ch.Nodes = pickN(rng, ids, 1+rng.IntN(max(1, (n-1)/2)))
	case "majority":
		ch.Nodes = pickN(rng, ids, n/2+1)
	case "all":
		ch.Nodes = append([]int(nil), ids...)
	}
	return ch
}

func (p *Process) Start(ctx context.Context, c Cluster, ch Choice) (Action, error) {
	a := Action{F: p.StartF()}
	nodes, how := ch.Nodes, ""
	switch ch.Target {
	case "leader":
		nodes, how = resolveLeader(ctx, c, ch)
		if how == leaderFound {
			a.Resolved = nodes
		}
	case "leader-plus-one", "new-leader", "old-leader", "rest", "cut-side", "lag-majority":
		nodes, how, a.Resolved = resolveAimed(ctx, c, ch, p.aim)
	}
	do := c.Kill
	if p.Action == "pause" {
		do = c.Pause
	}
	// Every target at once: a power cut does not wait for one machine to
	// die before the next; kills of a minority land together too.
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, id := range nodes {
		wg.Go(func() {
			if err := do(ctx, id); err != nil {
				errs[i] = fmt.Errorf("%s %s: %w", p.StartF(), systems.NodeName(id), err)
			}
		})
	}
	wg.Wait()
	// Only nodes really hit are undone by Stop and named in the history;
	// the end-of-run recovery restarts and resumes anything else.
	p.hit = p.hit[:0]
	for i, id := range nodes {
		if errs[i] == nil {
			p.hit = append(p.hit, id)
		}
	}
	a.Value = map[string]any{"target": ch.Target, "nodes": names(p.hit)}
	if how != "" {
		a.Value["leader"] = how
	}
	a.Node = nodeField(p.hit)
	a.Label = processLabel(string(p.StartF()), p.hit, ch.Target, how)
	return a, errors.Join(errs...)
}

func (p *Process) Stop(ctx context.Context, c Cluster) (Action, error) {
	undo := c.Start
	if p.Action == "pause" {
		undo = c.Resume
	}
	errs := make([]error, len(p.hit))
	var wg sync.WaitGroup
	for i, id := range p.hit {
		wg.Go(func() {
			if err := undo(ctx, id); err != nil {
				errs[i] = fmt.Errorf("%s %s: %w", p.StopF(), systems.NodeName(id), err)
			}
		})
	}
	wg.Wait()
	a := Action{F: p.StopF(), Value: map[string]any{"nodes": names(p.hit)}, Node: nodeField(p.hit),
		Label: processLabel(string(p.StopF()), p.hit, "", "")}
	p.hit = nil
	return a, errors.Join(errs...)
}

func names(ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = systems.NodeName(id)
	}
	return out
}

func nodeField(ids []int) string { return strings.Join(names(ids), ",") }
