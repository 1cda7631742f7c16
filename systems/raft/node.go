package raft

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/admin"
	"github.com/faultline/faultline/systems/nodekit/disk"
	"github.com/faultline/faultline/systems/nodekit/httpserve"
	"github.com/faultline/faultline/systems/raft/core"
)

// nodeOptions are the node's timings and limits.
type nodeOptions struct {
	// tick is one core tick. Election and heartbeat timeouts are in ticks.
	tick          time.Duration
	electionTick  int
	heartbeatTick int
	// snapshotEvery compacts the log after this many applied entries.
	snapshotEvery uint64
	// opTimeout bounds how long the node waits for a proposal to apply or
	// a read to be confirmed before answering info (or fail, for reads).
	opTimeout time.Duration
}

func defaultNodeOptions() nodeOptions {
	return nodeOptions{
		tick: 10 * time.Millisecond,
		// 150-300ms election timeout: far above loopback RTT and a group
		// fsync (<1ms), short enough that failover fits in a chaos run.
		electionTick: 15,
		// 30ms heartbeats: five per minimum election timeout, so a couple
		// of delayed ones don't trigger an election.
		heartbeatTick: 3,
		snapshotEvery: 10000,
		opTimeout:     2 * time.Second,
	}
}

// proposal is one client write, cas or lock command waiting for its entry
// to apply.
type proposal struct {
	data []byte
	// cmd, when data is nil, is encoded by the loop when it proposes it:
	// an acquire carries the leader's judgement of the lease (lock.go).
	cmd   *command
	done  chan result // buffered: the loop never blocks on it
	index uint64
	term  uint64
}

// readReq is one client read.
type readReq struct {
	key  string
	done chan result
}

type readBatch struct {
	term uint64 // the leader term the reads were asked in
	reqs []*readReq
}

type readWait struct {
	index uint64
	reqs  []*readReq
}

// node is one Raft node process: the core plus ticker, storage, transport
// and state machine, all driven by one goroutine (loop). Client handlers
// talk to it through propc and readc.
type node struct {
	cfg    systems.NodeConfig
	opts   nodeOptions
	logger *slog.Logger
	names  map[uint64]string

	r      *core.Raft
	st     logStore
	tr     *transport
	sm     *kvStore
	leases *leaseClock
	// out sends a message to a peer: the transport, or the simulator's
	// network.
	out func(core.Message)

	staleLocalRead bool
	ackBeforeFsync bool

	propc chan *proposal
	readc chan *readReq

	// Owned by the loop.
	persistedHS core.HardState
	applied     uint64
	pending     map[uint64]*proposal // by log index
	readBatches map[uint64]readBatch // by read ctx, awaiting confirmation
	readWaits   []readWait
	nextReadCtx uint64

	status atomic.Pointer[systems.Status]
}

func runNode(ctx context.Context, cfg systems.NodeConfig, opts nodeOptions) error {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("node", cfg.Name)
	if cfg.Name == "" {
		cfg.Name = systems.NodeName(cfg.ID)
	}
	ids, names, err := members(cfg)
	if err != nil {
		return fmt.Errorf("raft node %s: %w", cfg.Name, err)
	}
	n, err := restore(cfg, opts, logger, ids, names)
	if err != nil {
		return fmt.Errorf("raft node %s: %w", cfg.Name, err)
	}
	defer n.st.close()
	return n.run(ctx)
}

// members lists the cluster's node IDs, sorted, and their names, from
// this node's ID and its peers.
func members(cfg systems.NodeConfig) ([]uint64, map[uint64]string, error) {
	ids := []uint64{uint64(cfg.ID)}
	names := map[uint64]string{uint64(cfg.ID): cfg.Name}
	for id := range cfg.Peers {
		if id == cfg.ID || id < 1 {
			return nil, nil, fmt.Errorf("bad peer id %d", id)
		}
		ids = append(ids, uint64(id))
		names[uint64(id)] = systems.NodeName(id)
	}
	slices.Sort(ids)
	return ids, names, nil
}

// logStore is where a node keeps its log and hard state: the WAL on disk
// (storage), or the simulator's disk model (simStorage).
type logStore interface {
	append(hs *core.HardState, ents []core.Entry) error
	saveSnapshot(snap *core.Snapshot) error
	rewriteWAL(hs core.HardState, snap *core.Snapshot, keep bool) error
	// setSync(false) skips the fsync of appends (ack-before-fsync).
	setSync(sync bool)
	close() error
}

// restore opens the node's storage and rebuilds its state machine and
// Raft core from what was durable.
func restore(cfg systems.NodeConfig, opts nodeOptions, logger *slog.Logger, ids []uint64, names map[uint64]string) (*node, error) {
	mode, err := disk.ParseMode(cfg.Storage)
	if err != nil {
		return nil, err
	}
	st, rec, err := openStorage(cfg.DataDir, logger, mode)
	if err != nil {
		return nil, fmt.Errorf("open storage in %s: %w", cfg.DataDir, err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(cfg.ID)))
	n, err := newNode(cfg, opts, logger, ids, names, st, rec, rng)
	if err != nil {
		st.close()
		return nil, err
	}
	return n, nil
}

// newNode rebuilds the state machine and the Raft core from what st
// recovered. It starts nothing: the caller sets n.out and drives it.
func newNode(cfg systems.NodeConfig, opts nodeOptions, logger *slog.Logger, ids []uint64, names map[uint64]string,
	st logStore, rec recovered, rng *rand.Rand) (*node, error) {
	sm := newKV()
	sm.locks.noFencing, sm.locks.releaseAny = cfg.HasBug(BugNoFencing), cfg.HasBug(BugReleaseAny)
	if rec.snap != nil {
		if err := sm.restore(rec.snap.Data); err != nil {
			return nil, err
		}
	}
	rc := core.DefaultConfig(uint64(cfg.ID), ids, rng)
	rc.ElectionTick, rc.HeartbeatTick = opts.electionTick, opts.heartbeatTick
	rc.Bugs = core.Bugs{
		VoteWithoutLogCheck: cfg.HasBug(BugVoteWithoutLogCheck),
		NoPrevLogCheck:      cfg.HasBug(BugNoPrevLogCheck),
		CommitPreviousTerm:  cfg.HasBug(BugCommitPreviousTerm),
	}
	rc.HardState, rc.Snapshot, rc.Entries = rec.hs, rec.snap, rec.entries
	r, err := core.New(rc)
	if err != nil {
		return nil, fmt.Errorf("restore core: %w", err)
	}
	n := &node{
		cfg: cfg, opts: opts, logger: logger, names: names,
		r: r, st: st, sm: sm, leases: newLeaseClock(cfg.Clock, cfg.HasBug(BugLeaseWallClock)),
		staleLocalRead: cfg.HasBug(BugStaleLocalRead),
		ackBeforeFsync: cfg.HasBug(BugAckBeforeFsync),
		propc:          make(chan *proposal, 1024),
		readc:          make(chan *readReq, 1024),
		persistedHS:    rec.hs,
		pending:        map[uint64]*proposal{},
		readBatches:    map[uint64]readBatch{},
	}
	st.setSync(!n.ackBeforeFsync)
	if rec.snap != nil {
		n.applied = rec.snap.Index
	}
	n.publishStatus(false)
	logger.Info("raft node starting", "term", rec.hs.Term, "entries", len(rec.entries), "snapshot", n.applied, "bugs", cfg.Bugs)
	return n, nil
}

// run binds the peer, client and admin ports, runs the loop until ctx
// ends or it fails, then stops the servers and the transport.
func (n *node) run(ctx context.Context) error {
	cfg := n.cfg
	var lc net.ListenConfig
	peerLn, err := lc.Listen(ctx, "tcp", cfg.PeerListen)
	if err != nil {
		return fmt.Errorf("raft node %s: listen for peers: %w", cfg.Name, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv, err := httpserve.Start(ctx, n.logger, []httpserve.Server{
		{Name: "client", Addr: cfg.ClientListen, Handler: n.clientHandler()},
		{Name: "admin", Addr: cfg.AdminListen, Handler: admin.Handler(func() systems.Status { return *n.status.Load() }, cfg.Clock)},
	})
	if err != nil {
		peerLn.Close()
		return fmt.Errorf("raft node %s: %w", cfg.Name, err)
	}
	n.tr = newTransport(uint64(cfg.ID), cfg.Peers, n.logger)
	n.out = n.tr.send
	n.tr.start(ctx, peerLn)

	loopErr := n.loop(ctx)
	cancel()
	srv.Shutdown(time.Second)
	n.tr.wg.Wait()
	if loopErr != nil {
		n.logger.Error("raft node failed", "err", loopErr)
	}
	return loopErr
}

// maxDrain bounds how many queued inputs one loop turn takes before
// handling a Ready: the group-commit batch size.
const maxDrain = 1024

func (n *node) loop(ctx context.Context) error {
	ticker := time.NewTicker(n.opts.tick)
	defer ticker.Stop()
	n.publishStatus(true)
	var props []*proposal
	var reads []*readReq
	for {
		select {
		case <-ctx.Done():
			n.abandon()
			return nil
		case <-ticker.C:
			n.r.Tick()
		case m := <-n.tr.recv:
			n.step(m)
		case p := <-n.propc:
			props = append(props, p)
		case q := <-n.readc:
			reads = append(reads, q)
		}
		// Take whatever else is queued, so one fsync and one MsgApp
		// cover many operations.
	drain:
		for range maxDrain {
			select {
			case m := <-n.tr.recv:
				n.step(m)
			case p := <-n.propc:
				props = append(props, p)
			case q := <-n.readc:
				reads = append(reads, q)
			default:
				break drain
			}
		}
		if len(props) > 0 {
			n.propose(props)
			props = props[:0]
		}
		if len(reads) > 0 {
			n.read(reads)
			reads = reads[:0]
		}
		for n.r.HasReady() {
			if err := n.handleReady(); err != nil {
				n.abandon()
				return err
			}
		}
		n.publishStatus(true)
	}
}

func (n *node) step(m core.Message) {
	if err := n.r.Step(m); err != nil {
		n.logger.Warn("dropping peer message", "type", m.Type, "from", m.From, "err", err)
	}
}

func (n *node) leaderName() string {
	if l := n.r.Status().SoftState.Lead; l != core.None {
		return n.names[l]
	}
	return ""
}

func (n *node) redirect() result {
	return result{Outcome: outcomeRedirect, Leader: n.leaderName(), Error: "not leader"}
}

func (n *node) propose(props []*proposal) {
	data := make([][]byte, len(props))
	for i, p := range props {
		if p.data == nil {
			if p.cmd.Op == opAcquire {
				n.prepareAcquire(p.cmd)
			}
			b, err := json.Marshal(p.cmd)
			if err != nil {
				n.logger.Error("encode command", "err", err) // a command of plain fields always encodes
			}
			p.data = b
		}
		data[i] = p.data
	}
	first, term, err := n.r.Propose(data...)
	if err != nil {
		for _, p := range props {
			p.done <- n.redirect()
		}
		return
	}
	for i, p := range props {
		p.index, p.term = first+uint64(i), term
		if old := n.pending[p.index]; old != nil {
			old.done <- result{Outcome: outcomeInfo, Error: "superseded: this node proposed again at the same index"}
		}
		n.pending[p.index] = p
	}
}

func (n *node) read(reads []*readReq) {
	if n.staleLocalRead {
		// The bug: answer from the local state machine, leader or not.
		for _, q := range reads {
			q.done <- result{Outcome: outcomeOK, Value: n.sm.get(q.key)}
		}
		return
	}
	n.nextReadCtx++
	if err := n.r.ReadIndex(n.nextReadCtx); err != nil {
		for _, q := range reads {
			q.done <- n.redirect()
		}
		return
	}
	n.readBatches[n.nextReadCtx] = readBatch{term: n.r.Status().HardState.Term, reqs: slices.Clone(reads)}
}

// handleReady does one Ready in the order the core demands: persist
// (fsync) BEFORE sending, apply after persisting, then Advance.
func (n *node) handleReady() error {
	rd := n.r.Ready()
	if n.ackBeforeFsync {
		// The bug: acknowledge first, write (without fsync) after.
		n.send(rd.Messages)
		if err := n.persist(&rd); err != nil {
			return err
		}
	} else {
		if err := n.persist(&rd); err != nil {
			return err
		}
		n.send(rd.Messages)
	}
	if rd.Snapshot != nil {
		if err := n.sm.restore(rd.Snapshot.Data); err != nil {
			return err
		}
		n.applied = rd.Snapshot.Index
		for idx, p := range n.pending {
			if idx <= rd.Snapshot.Index {
				p.done <- result{Outcome: outcomeInfo, Error: "outcome unknown: replaced by a leader's snapshot"}
				delete(n.pending, idx)
			}
		}
	}
	n.apply(rd.CommittedEntries)
	for _, rs := range rd.ReadStates {
		if b, ok := n.readBatches[rs.RequestCtx]; ok {
			delete(n.readBatches, rs.RequestCtx)
			n.readWaits = append(n.readWaits, readWait{index: rs.Index, reqs: b.reqs})
		}
	}
	n.serveReads()
	// Unconfirmed reads die with the leadership (the core drops them); a
	// read has no effect, so sending the client elsewhere is exact.
	for ctx, b := range n.readBatches {
		if rd.SoftState.Role != core.Leader || rd.HardState.Term != b.term {
			for _, q := range b.reqs {
				q.done <- n.redirect()
			}
			delete(n.readBatches, ctx)
		}
	}
	n.r.Advance(rd)
	return n.maybeSnapshot()
}

func (n *node) persist(rd *core.Ready) error {
	if rd.Snapshot != nil {
		if err := n.st.saveSnapshot(rd.Snapshot); err != nil {
			return fmt.Errorf("save leader's snapshot: %w", err)
		}
		if err := n.st.rewriteWAL(rd.HardState, rd.Snapshot, false); err != nil {
			return fmt.Errorf("reset wal after snapshot: %w", err)
		}
		n.persistedHS = rd.HardState
	}
	var hs *core.HardState
	if rd.HardState != n.persistedHS {
		hs = &rd.HardState
	}
	if err := n.st.append(hs, rd.Entries); err != nil {
		return err
	}
	n.persistedHS = rd.HardState
	return nil
}

func (n *node) send(msgs []core.Message) {
	for _, m := range msgs {
		n.out(m)
	}
}

func (n *node) apply(ents []core.Entry) {
	for i := range ents {
		e := &ents[i]
		res := result{Outcome: outcomeOK}
		if e.Type == core.EntryNormal {
			var c command
			if err := json.Unmarshal(e.Data, &c); err != nil {
				n.logger.Error("unreadable log entry; applying as no-op", "index", e.Index, "err", err)
				res = result{Outcome: outcomeFail, Error: "unreadable command"}
			} else {
				res = n.sm.apply(&c, e.Index)
				n.leases.applied(&c, res)
			}
		}
		n.applied = e.Index
		p := n.pending[e.Index]
		if p == nil {
			continue
		}
		delete(n.pending, e.Index)
		if p.term != e.Term || e.Type != core.EntryNormal {
			// Another leader's entry took the slot: ours was lost.
			// (Reported as unknown rather than failed, to never guess.)
			p.done <- result{Outcome: outcomeInfo, Error: "outcome unknown: leadership changed after proposing"}
			continue
		}
		p.done <- res
	}
}

func (n *node) serveReads() {
	kept := n.readWaits[:0]
	for _, w := range n.readWaits {
		if w.index > n.applied {
			kept = append(kept, w)
			continue
		}
		for _, q := range w.reqs {
			q.done <- result{Outcome: outcomeOK, Value: n.sm.get(q.key)}
		}
	}
	n.readWaits = kept
}

func (n *node) maybeSnapshot() error {
	st := n.r.Status()
	if n.applied < st.SnapIndex+n.opts.snapshotEvery || n.applied != st.Applied {
		return nil
	}
	data, err := n.sm.snapshot()
	if err != nil {
		return err
	}
	if err := n.r.Compact(n.applied, data); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	snap := n.r.Snapshot()
	if err := n.st.saveSnapshot(snap); err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	if err := n.st.rewriteWAL(n.persistedHS, snap, true); err != nil {
		return fmt.Errorf("compact wal: %w", err)
	}
	n.logger.Debug("snapshot taken", "index", snap.Index)
	return nil
}

// abandon answers every waiting client as the node stops.
func (n *node) abandon() {
	for {
		select {
		case p := <-n.propc:
			p.done <- result{Outcome: outcomeFail, Error: "node stopping: not proposed"}
			continue
		case q := <-n.readc:
			q.done <- result{Outcome: outcomeFail, Error: "node stopping"}
			continue
		default:
		}
		break
	}
	for idx, p := range n.pending {
		p.done <- result{Outcome: outcomeInfo, Error: "outcome unknown: node stopping"}
		delete(n.pending, idx)
	}
	for ctx, b := range n.readBatches {
		for _, q := range b.reqs {
			q.done <- result{Outcome: outcomeFail, Error: "node stopping"}
		}
		delete(n.readBatches, ctx)
	}
	for _, w := range n.readWaits {
		for _, q := range w.reqs {
			q.done <- result{Outcome: outcomeFail, Error: "node stopping"}
		}
	}
	n.readWaits = nil
}

func (n *node) publishStatus(ready bool) {
	st := n.r.Status()
	role := st.SoftState.Role
	if role == core.PreCandidate {
		role = core.Candidate // the admin API knows leader, follower, candidate
	}
	n.status.Store(&systems.Status{
		Node:   n.cfg.Name,
		Ready:  ready,
		Role:   role.String(),
		Term:   st.HardState.Term,
		Leader: n.leaderName(),
		Commit: st.Commit,
	})
}

// --- client API ---

const pathKV = "/kv"

// clientRequest is the body of POST /kv. For cas, Value is [expected, new].
type clientRequest struct {
	F     string          `json:"f"`
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value,omitempty"`
}

func (n *node) clientHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathKV, func(w http.ResponseWriter, req *http.Request) {
		var cr clientRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, req.Body, 1<<20)).Decode(&cr); err != nil {
			writeResult(w, result{Outcome: outcomeFail, Error: "bad request: " + err.Error()})
			return
		}
		res := n.serve(req.Context(), &cr)
		res.Node = n.cfg.Name
		writeResult(w, res)
	})
	return mux
}

func writeResult(w http.ResponseWriter, res result) {
	code := http.StatusOK
	switch res.Outcome {
	case outcomeFail:
		code = http.StatusConflict
	case outcomeRedirect:
		code = http.StatusMisdirectedRequest
	case outcomeInfo:
		code = http.StatusGatewayTimeout
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(res)
}

func (n *node) serve(ctx context.Context, cr *clientRequest) result {
	ctx, cancel := context.WithTimeout(ctx, n.opts.opTimeout)
	defer cancel()
	if cr.F == "read" {
		q := &readReq{key: cr.Key, done: make(chan result, 1)}
		select {
		case n.readc <- q:
		case <-ctx.Done():
			return result{Outcome: outcomeFail, Error: "node busy"}
		}
		select {
		case res := <-q.done:
			return res
		case <-ctx.Done():
			return result{Outcome: outcomeFail, Error: "read not confirmed in time"}
		}
	}
	c, err := toCommand(cr)
	if err != nil {
		return result{Outcome: outcomeFail, Error: err.Error()}
	}
	p := &proposal{cmd: c, done: make(chan result, 1)}
	select {
	case n.propc <- p:
	case <-ctx.Done():
		return result{Outcome: outcomeFail, Error: "node busy: not proposed"}
	}
	select {
	case res := <-p.done:
		return res
	case <-ctx.Done():
		return result{Outcome: outcomeInfo, Error: "outcome unknown: not applied in time"}
	}
}

func toCommand(cr *clientRequest) (*command, error) {
	switch cr.F {
	case "write":
		v, err := canonical(cr.Value)
		if err != nil {
			return nil, err
		}
		return &command{Op: opWrite, Key: cr.Key, Value: v}, nil
	case "cas":
		var pair []json.RawMessage
		if err := json.Unmarshal(cr.Value, &pair); err != nil || len(pair) != 2 {
			return nil, errors.New("cas wants value [expected, new]")
		}
		e, err := canonical(pair[0])
		if err != nil {
			return nil, err
		}
		v, err := canonical(pair[1])
		if err != nil {
			return nil, err
		}
		return &command{Op: opCAS, Key: cr.Key, Value: v, Expected: e}, nil
	case opAcquire, opRenew, opRelease, opFencedWrite:
		return lockCommand(cr.F, cr.Key, cr.Value)
	}
	return nil, fmt.Errorf("unsupported operation %q (read, write, cas, acquire, renew, release, fenced-write)", cr.F)
}
