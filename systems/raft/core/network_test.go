package core

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// testNode is one node of the in-memory network with its "disk" (what it
// persisted, per the Ready contract) and what it applied.
type testNode struct {
	r   *Raft
	cfg Config
	// disk
	hs   HardState
	snap *Snapshot
	ents []Entry
	// applied is every entry handed to the application, in order (with
	// re-applications under bugs); state is index -> entry after restores.
	applied    []Entry
	state      map[uint64]Entry
	readStates []ReadState
	down       bool
}

type link struct{ from, to uint64 }

// network delivers messages between nodes synchronously, like etcd's
// raft_test.go network: cut, isolate, drop and recover links, and an
// optional transform that can drop or rewrite a message in flight.
type network struct {
	t     testing.TB
	ids   []uint64
	nodes map[uint64]*testNode
	cut   map[link]bool
	// transform, when set, sees every message; returning false drops it.
	transform func(m *Message) bool
	queue     []Message
	// sent counts delivered messages by type, for assertions.
	sent map[MsgType]int
	// trace keeps every delivered message when tracing is on.
	tracing bool
	trace   []Message
}

func newNetwork(t testing.TB, n int, opts ...func(id uint64, c *Config)) *network {
	t.Helper()
	nw := &network{t: t, nodes: map[uint64]*testNode{}, cut: map[link]bool{}, sent: map[MsgType]int{}}
	for i := 1; i <= n; i++ {
		nw.ids = append(nw.ids, uint64(i))
	}
	for _, id := range nw.ids {
		cfg := DefaultConfig(id, nw.ids, rand.New(rand.NewPCG(uint64(id), 42)))
		for _, o := range opts {
			o(id, &cfg)
		}
		nd := &testNode{cfg: cfg, hs: cfg.HardState, snap: cfg.Snapshot, ents: slices.Clone(cfg.Entries), state: map[uint64]Entry{}}
		r, err := New(cfg)
		if err != nil {
			t.Fatalf("New(%d): %v", id, err)
		}
		nd.r = r
		nw.nodes[id] = nd
	}
	return nw
}

// classic turns off pre-vote and check-quorum, for scenarios from the
// paper, which has neither.
func classic(_ uint64, c *Config) { c.PreVote, c.CheckQuorum = false, false }

func withBugs(b Bugs) func(uint64, *Config) { return func(_ uint64, c *Config) { c.Bugs = b } }

// withLog presets a node's persisted term and log (terms of entries 1..n).
func withLog(id, term uint64, terms ...uint64) func(uint64, *Config) {
	return func(i uint64, c *Config) {
		if i != id {
			return
		}
		c.HardState = HardState{Term: term}
		c.Entries = nil
		for k, t := range terms {
			c.Entries = append(c.Entries, Entry{Index: uint64(k + 1), Term: t, Data: fmt.Appendf(nil, "e%d-t%d", k+1, t)})
		}
	}
}

func (nw *network) node(id uint64) *Raft { return nw.nodes[id].r }

// process does a node's Ready loop until it has nothing more, following
// the ordering contract: persist, then queue messages, then apply.
func (nw *network) process(id uint64) {
	nd := nw.nodes[id]
	for nd.r.HasReady() {
		rd := nd.r.Ready()
		if rd.Snapshot != nil {
			nd.snap, nd.ents = rd.Snapshot, nil
		}
		if rd.MustSync {
			nd.hs = rd.HardState
		}
		if len(rd.Entries) > 0 {
			first := rd.Entries[0].Index
			base := uint64(0)
			if nd.snap != nil {
				base = nd.snap.Index
			}
			nd.ents = append(nd.ents[:first-base-1], rd.Entries...)
		}
		nw.queue = append(nw.queue, rd.Messages...)
		if rd.Snapshot != nil {
			var es []Entry
			if err := json.Unmarshal(rd.Snapshot.Data, &es); err != nil {
				nw.t.Fatalf("node %d: bad snapshot data: %v", id, err)
			}
			nd.state = map[uint64]Entry{}
			for _, e := range es {
				nd.state[e.Index] = e
			}
		}
		for _, e := range rd.CommittedEntries {
			nd.applied = append(nd.applied, e)
			nd.state[e.Index] = e
		}
		nd.readStates = append(nd.readStates, rd.ReadStates...)
		nd.r.Advance(rd)
	}
}

// deliver delivers queued messages (and the ones they cause) until the
// network is quiet.
func (nw *network) deliver() {
	nw.t.Helper()
	for steps := 0; len(nw.queue) > 0; steps++ {
		if steps > 100000 {
			nw.t.Fatalf("network did not quiesce after %d messages", steps)
		}
		m := nw.queue[0]
		nw.queue = nw.queue[1:]
		to := nw.nodes[m.To]
		if to == nil || to.down || nw.nodes[m.From].down || nw.cut[link{m.From, m.To}] {
			continue
		}
		if nw.transform != nil && !nw.transform(&m) {
			continue
		}
		nw.sent[m.Type]++
		if nw.tracing {
			nw.trace = append(nw.trace, m)
		}
		if err := to.r.Step(m); err != nil {
			nw.t.Fatalf("node %d Step(%s): %v", m.To, m.Type, err)
		}
		nw.process(m.To)
	}
}

func (nw *network) settle() {
	for _, id := range nw.ids {
		if !nw.nodes[id].down {
			nw.process(id)
		}
	}
	nw.deliver()
}

// tick ticks the given nodes (all up nodes when none given) n times,
// delivering messages after each round.
func (nw *network) tick(n int, ids ...uint64) {
	if len(ids) == 0 {
		ids = nw.ids
	}
	for range n {
		for _, id := range ids {
			if !nw.nodes[id].down {
				nw.node(id).Tick()
				nw.process(id)
			}
		}
		nw.deliver()
	}
}

func (nw *network) campaign(id uint64) {
	nw.node(id).Campaign()
	nw.settle()
}

func (nw *network) propose(id uint64, data string) {
	nw.t.Helper()
	if _, _, err := nw.node(id).Propose([]byte(data)); err != nil {
		nw.t.Fatalf("Propose on %d: %v", id, err)
	}
	nw.settle()
}

func (nw *network) isolate(id uint64) {
	for _, o := range nw.ids {
		if o != id {
			nw.cut[link{id, o}], nw.cut[link{o, id}] = true, true
		}
	}
}

func (nw *network) cutBoth(a, b uint64) { nw.cut[link{a, b}], nw.cut[link{b, a}] = true, true }

func (nw *network) recover() { nw.cut = map[link]bool{}; nw.transform = nil }

// compact snapshots node id at its applied index, the way an application
// would: the snapshot data is the applied state.
func (nw *network) compact(id uint64) {
	nw.t.Helper()
	nd := nw.nodes[id]
	idx := nd.r.Status().Applied
	es := make([]Entry, 0, len(nd.state))
	for _, e := range nd.state {
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b Entry) int { return int(a.Index) - int(b.Index) })
	data, _ := json.Marshal(es)
	if err := nd.r.Compact(idx, data); err != nil {
		nw.t.Fatalf("Compact(%d) on %d: %v", idx, id, err)
	}
}

// restart rebuilds a node from its disk, as after a crash.
func (nw *network) restart(id uint64) {
	nw.t.Helper()
	nd := nw.nodes[id]
	cfg := nd.cfg
	cfg.HardState, cfg.Snapshot, cfg.Entries = nd.hs, nd.snap, slices.Clone(nd.ents)
	r, err := New(cfg)
	if err != nil {
		nw.t.Fatalf("restart %d: %v", id, err)
	}
	nd.r, nd.down = r, false
}

// leader returns the ID of the one node that is leader of the highest term
// among up nodes, or None.
func (nw *network) leader() uint64 {
	var lead, term uint64
	for _, id := range nw.ids {
		st := nw.node(id).Status()
		if !nw.nodes[id].down && st.SoftState.Role == Leader && st.HardState.Term >= term {
			lead, term = id, st.HardState.Term
		}
	}
	return lead
}

// safetyViolation checks State Machine Safety (paper Figure 3): no two
// applications of the same index, on any nodes, saw different entries.
func (nw *network) safetyViolation() string {
	seen := map[uint64]Entry{}
	where := map[uint64]uint64{}
	for _, id := range nw.ids {
		for _, e := range nw.nodes[id].applied {
			prev, ok := seen[e.Index]
			if !ok {
				seen[e.Index], where[e.Index] = e, id
				continue
			}
			if prev.Term != e.Term || string(prev.Data) != string(e.Data) {
				return fmt.Sprintf("index %d applied as term %d %q on node %d but as term %d %q on node %d",
					e.Index, prev.Term, prev.Data, where[e.Index], e.Term, e.Data, id)
			}
		}
	}
	return ""
}

func (nw *network) mustBeSafe() {
	nw.t.Helper()
	if v := nw.safetyViolation(); v != "" {
		nw.t.Fatalf("state machine safety violated: %s", v)
	}
}

func logTerms(r *Raft) []uint64 {
	var ts []uint64
	for i := r.log.snapIndex + 1; i <= r.log.lastIndex(); i++ {
		t, _ := r.log.term(i)
		ts = append(ts, t)
	}
	return ts
}
