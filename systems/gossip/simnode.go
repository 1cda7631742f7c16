package gossip

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/gossip/crdt"
	"github.com/faultline/faultline/systems/gossip/swim"
)

// The simulator runs the replica (replica.go) with its SWIM machine over
// the simulated network. Updates are acknowledged once their delta is
// synced to the simulated delta log, as node.go's group commit does.

var _ systems.Simulated = system{}

const simDeltaLog = "deltas.log"

// Peer messages of the simulation besides swim.Message: a gossip push,
// and the three legs of an anti-entropy exchange.
type (
	simGossip   struct{ M gossipMsg }
	simAEDigest struct{ M gossipMsg }
	simAEReply  struct{ M gossipMsg }
	simAEPush   struct{ M gossipMsg }
)

type simNode struct {
	cfg  systems.SimConfig
	env  systems.SimEnv
	r    *replica
	ids  map[string]int
	kind string // counter, set or register
	tick int
	// aeUntil is when the anti-entropy exchange in flight times out
	// (zero: none in flight); one at a time, as node.go's aeBusy.
	aeUntil time.Duration
	aePeer  string
}

func (system) NewSimNode(cfg systems.SimConfig, env systems.SimEnv) (systems.SimNode, error) {
	kind := cfg.Workload
	switch kind {
	case "counter", "set":
	case "lww":
		kind = "register"
	default:
		return nil, fmt.Errorf("gossip: no simulated client for workload %q (serves: counter, lww, set)", cfg.Workload)
	}
	n := &simNode{cfg: cfg, env: env, ids: map[string]int{}, kind: kind}
	var peers []string
	for _, id := range cfg.Peers {
		name := systems.NodeName(id)
		peers = append(peers, name)
		n.ids[name] = id
	}
	inc := cfg.Disk.NextIncarnation()
	r, err := newReplica(cfg.Name, peers, cfg.HasBug, DefaultOptions(), inc, cfg.Rand, cfg.Rand)
	if err != nil {
		return nil, fmt.Errorf("gossip sim node %s: %w", cfg.Name, err)
	}
	var recovered []loggedDelta
	for _, rec := range cfg.Disk.Records(simDeltaLog) {
		recovered = append(recovered, rec.(loggedDelta))
	}
	r.replay(recovered)
	n.r = r
	return n, nil
}

func (n *simNode) TickInterval() time.Duration { return n.r.opts.Tick }
func (n *simNode) Leader() bool                { return false }

// Members is the SWIM view, as node.go's status reports it.
func (n *simNode) Members() map[string]string { return memberView(n.r.members.Members()) }

func (n *simNode) send(to string, msg any) {
	if id, ok := n.ids[to]; ok {
		n.env.Send(id, msg)
	}
}

func (n *simNode) Tick() {
	n.tick++
	msgs, rounds, ae := n.r.tick(n.tick)
	for _, m := range msgs {
		n.send(m.To, m)
	}
	for _, a := range rounds {
		n.send(a.to, simGossip{a.msg})
	}
	now := n.env.Now()
	if n.aeUntil != 0 && now >= n.aeUntil {
		n.aeUntil = 0 // the exchange timed out
	}
	if ae && n.aeUntil == 0 {
		if peer, req, ok := n.r.aeStart(); ok {
			n.aeUntil, n.aePeer = now+n.r.opts.AntiEntropyTimeout, peer
			n.send(peer, simAEDigest{req})
		}
	}
}

func (n *simNode) Deliver(from int, msg any) {
	switch m := msg.(type) {
	case swim.Message:
		for _, o := range n.r.onSWIM(m) {
			n.send(o.To, o)
		}
	case simGossip:
		n.r.onGossip(m.M)
	case simAEDigest:
		if m.M.Tree != nil {
			n.send(m.M.From, simAEReply{n.r.onAEDigest(m.M)})
		}
	case simAEReply:
		if n.aeUntil == 0 || m.M.From != n.aePeer {
			return // late: that exchange timed out
		}
		n.aeUntil = 0
		if push, ok := n.r.onAEReply(m.M.From, m.M); ok {
			n.send(m.M.From, simAEPush{push})
		}
	case simAEPush:
		n.r.onAEPush(m.M)
	}
}

func (n *simNode) Invoke(op systems.Op, reply func(systems.SimReply)) {
	if op.F == history.OpRead {
		v, err := systems.DecodeValue(json.RawMessage(n.r.read(n.kind, op.Key)))
		if err != nil {
			reply(systems.SimReply{Completion: systems.Unsure(op, fmt.Sprintf("%s: bad value: %v", n.cfg.Name, err))})
			return
		}
		reply(systems.SimReply{Completion: systems.Completion{Type: history.OK, Value: v}})
		return
	}
	mk, err := n.delta(op)
	if err != nil {
		reply(systems.SimReply{Completion: systems.Failed("%s: %v", n.cfg.Name, err)})
		return
	}
	d := n.r.update(op.Key, mk)
	n.cfg.Disk.Append(simDeltaLog, loggedDelta{Key: op.Key, Obj: d})
	n.cfg.Disk.Sync(simDeltaLog)
	reply(systems.SimReply{Completion: systems.Completion{Type: history.OK}})
}

// delta maps a workload operation to the replica's update, as the client
// API's handlers do.
func (n *simNode) delta(op systems.Op) (func(crdt.Object) crdt.Object, error) {
	raw, err := json.Marshal(op.Value)
	if err != nil {
		return nil, fmt.Errorf("encode value: %w", err)
	}
	switch n.kind + "/" + string(op.F) {
	case "counter/add":
		var d int64
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, fmt.Errorf("counter add needs an integer delta: %w", err)
		}
		return n.r.counterAdd(d), nil
	case "set/add", "set/remove":
		elem, err := canonical(raw)
		if err != nil {
			return nil, fmt.Errorf("set %s needs an element: %w", op.F, err)
		}
		if op.F == history.OpAdd {
			return n.r.setAdd(elem), nil
		}
		return n.r.setRemove(elem), nil
	case "register/write":
		v, err := canonical(raw)
		if err != nil {
			return nil, fmt.Errorf("register write needs a value: %w", err)
		}
		return n.r.registerWrite(v, simEpoch+int64(n.env.Now())), nil
	}
	return nil, fmt.Errorf("unsupported operation %q for workload %s", op.F, n.kind)
}

// simEpoch is the simulated wall clock at the start of a run (2026-01-01
// UTC): HLC timestamps look like real ones, the same in every run.
const simEpoch = int64(1767225600) * int64(time.Second)
