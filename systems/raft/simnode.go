package raft

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/simdisk"
	"github.com/faultline/faultline/systems/raft/core"
)

// The simulator runs the very node of node.go (core, state machine,
// proposals, ReadIndex reads, the ack-before-fsync and stale-local-read
// bugs) with the socket transport replaced by the simulated network and
// the WAL by the simulated disk.

var _ systems.Simulated = system{}

// Files of a simulated node's disk.
const (
	simWAL  = "wal"
	simSnap = "snap"
)

// simStorage is the WAL on a simulated disk: records are core.HardState
// and core.Entry values, replayed by the same replayer as the real WAL.
type simStorage struct {
	d    *simdisk.Disk
	sync bool
}

func openSimStorage(d *simdisk.Disk) (*simStorage, recovered, error) {
	var rec recovered
	if recs := d.Records(simSnap); len(recs) > 0 {
		snap := recs[len(recs)-1].(core.Snapshot)
		rec.snap = &snap
	}
	rp := newReplayer(rec.snap)
	for i, r := range d.Records(simWAL) {
		switch v := r.(type) {
		case core.HardState:
			rp.hardState(v)
		case core.Entry:
			if err := rp.entry(v); err != nil {
				return nil, rec, fmt.Errorf("simulated wal record %d: %w", i, err)
			}
		}
	}
	rec.hs, rec.entries = rp.result()
	return &simStorage{d: d, sync: true}, rec, nil
}

func (s *simStorage) append(hs *core.HardState, ents []core.Entry) error {
	if hs == nil && len(ents) == 0 {
		return nil
	}
	if hs != nil {
		s.d.Append(simWAL, *hs)
	}
	for _, e := range ents {
		s.d.Append(simWAL, e)
	}
	if s.sync {
		s.d.Sync(simWAL)
	}
	return nil
}

func (s *simStorage) saveSnapshot(snap *core.Snapshot) error {
	s.d.Replace(simSnap, *snap)
	return nil
}

func (s *simStorage) rewriteWAL(hs core.HardState, snap *core.Snapshot, keep bool) error {
	recs := []any{hs}
	if keep {
		rp := newReplayer(snap)
		for _, r := range s.d.Records(simWAL) {
			if e, ok := r.(core.Entry); ok {
				if err := rp.entry(e); err != nil {
					return fmt.Errorf("rewrite simulated wal: %w", err)
				}
			}
		}
		_, ents := rp.result()
		for _, e := range ents {
			recs = append(recs, e)
		}
	}
	s.d.Replace(simWAL, recs...)
	return nil
}

func (s *simStorage) setSync(sync bool) { s.sync = sync }
func (s *simStorage) close() error      { return nil }

// simNode drives a node from the simulator. Proposals and reads answer on
// their buffered done channels, which the node fills without blocking;
// after each input the simulated node polls them in the order asked.
type simNode struct {
	n     *node
	waits []simWait
}

type simWait struct {
	op    systems.Op
	done  chan result
	reply func(systems.SimReply)
}

func (system) NewSimNode(cfg systems.SimConfig, env systems.SimEnv) (systems.SimNode, error) {
	ids := []uint64{uint64(cfg.ID)}
	names := map[uint64]string{uint64(cfg.ID): cfg.Name}
	for _, p := range cfg.Peers {
		ids = append(ids, uint64(p))
		names[uint64(p)] = systems.NodeName(p)
	}
	slices.Sort(ids)
	st, rec, err := openSimStorage(cfg.Disk)
	if err != nil {
		return nil, fmt.Errorf("raft sim node %s: %w", cfg.Name, err)
	}
	ncfg := systems.NodeConfig{System: "raft", ID: cfg.ID, Name: cfg.Name, Bugs: cfg.Bugs}
	n, err := newNode(ncfg, defaultNodeOptions(), slog.New(slog.DiscardHandler), ids, names, st, rec, cfg.Rand)
	if err != nil {
		return nil, fmt.Errorf("raft sim node %s: %w", cfg.Name, err)
	}
	n.out = func(m core.Message) { env.Send(int(m.To), m) }
	return &simNode{n: n}, nil
}

func (s *simNode) TickInterval() time.Duration { return s.n.opts.tick }

func (s *simNode) Tick() {
	s.n.r.Tick()
	s.settle()
}

func (s *simNode) Deliver(_ int, msg any) {
	m, ok := msg.(core.Message)
	if !ok {
		return
	}
	s.n.step(m)
	s.settle()
}

func (s *simNode) Leader() bool { return s.n.r.Status().SoftState.Role == core.Leader }

func (s *simNode) Invoke(op systems.Op, reply func(systems.SimReply)) {
	done := make(chan result, 1)
	if op.F == history.OpRead {
		s.n.read([]*readReq{{key: op.Key, done: done}})
	} else {
		data, err := simCommand(op)
		if err != nil {
			reply(systems.SimReply{Completion: systems.Failed("%v", err)})
			return
		}
		s.n.propose([]*proposal{{data: data, done: done}})
	}
	s.waits = append(s.waits, simWait{op: op, done: done, reply: reply})
	s.settle()
}

// simCommand encodes op as the client API would and the node does.
func simCommand(op systems.Op) ([]byte, error) {
	raw, err := json.Marshal(op.Value)
	if err != nil {
		return nil, fmt.Errorf("encode value: %w", err)
	}
	c, err := toCommand(&clientRequest{F: string(op.F), Key: op.Key, Value: raw})
	if err != nil {
		return nil, err
	}
	return json.Marshal(c)
}

// settle handles every Ready, then answers the operations that finished.
func (s *simNode) settle() {
	for s.n.r.HasReady() {
		if err := s.n.handleReady(); err != nil {
			// The simulated disk does not fail: this is a bug.
			panic(fmt.Sprintf("raft sim node %s: %v", s.n.cfg.Name, err))
		}
	}
	kept := s.waits[:0]
	for _, w := range s.waits {
		select {
		case res := <-w.done:
			comp, redirected := completionOf(w.op, &res, s.n.cfg.Name)
			w.reply(systems.SimReply{Completion: comp, Retry: redirected, Redirect: res.Leader})
		default:
			kept = append(kept, w)
		}
	}
	s.waits = kept
}

func (*simNode) Members() map[string]string { return nil }
