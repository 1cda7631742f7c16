package quorum

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// The simulator runs the coordinator's rounds (round.go) and the replica
// rule (Supersedes) over the simulated network and disk. A replica's store
// is durable (synced) before it is acknowledged, as storage.Store's Put is.

var _ systems.Simulated = system{}

// simDataFile is the replica's log on the simulated disk: one key and
// Versioned per record; the greatest tag of each key wins on replay.
const simDataFile = "quorum.log"

const simTick = 10 * time.Millisecond

// Peer messages of the simulation: a query or store request, and their
// answers, for the round with the coordinator's sequence number Round.
type (
	simQuery struct {
		Round uint64
		Key   string
	}
	simQueryReply struct {
		Round uint64
		V     Versioned
	}
	simStore struct {
		Round uint64
		Key   string
		V     Versioned
	}
	simStoreAck struct{ Round uint64 }
	simRecord   struct {
		Key string
		V   Versioned
	}
)

type simNode struct {
	cfg     systems.SimConfig
	env     systems.SimEnv
	timeout time.Duration
	issuer  *Issuer
	round   RoundConfig
	data    map[string]Versioned
	next    uint64
	rounds  []*simRound // in start order: ticks visit them deterministically
}

// simRound is a round in flight with the deadline of each request not yet
// answered.
type simRound struct {
	seq     uint64
	op      systems.Op
	r       *Round
	reply   func(systems.SimReply)
	waiting map[int]time.Duration // replica -> deadline of its request
	store   bool                  // the requests waited on are stores
}

func (system) NewSimNode(cfg systems.SimConfig, env systems.SimEnv) (systems.SimNode, error) {
	if cfg.ID < 1 || cfg.ID > writerNodeMask {
		return nil, fmt.Errorf("quorum: node id %d out of range 1..%d", cfg.ID, writerNodeMask)
	}
	replicas := append([]int{cfg.ID}, cfg.Peers...)
	slices.Sort(replicas)
	n := &simNode{
		cfg: cfg, env: env, timeout: defaultNodeOptions().PeerTimeout,
		issuer: NewIssuer(WriterID(cfg.ID, cfg.Disk.NextIncarnation())),
		round:  RoundConfig{Replicas: replicas, NoWriteBack: cfg.HasBug(BugNoWriteBack)},
		data:   map[string]Versioned{},
	}
	for _, r := range cfg.Disk.Records(simDataFile) {
		rec := r.(simRecord)
		n.apply(rec.Key, rec.V)
	}
	return n, nil
}

// apply is the replica rule: keep the greatest tag.
func (n *simNode) apply(key string, v Versioned) bool {
	if cur, ok := n.data[key]; ok && !Supersedes(v.Tag, cur.Tag) {
		return false
	}
	n.data[key] = v
	return true
}

// store applies v durably, as a replica does before it acknowledges.
func (n *simNode) store(key string, v Versioned) {
	if n.apply(key, v) {
		n.cfg.Disk.Append(simDataFile, simRecord{Key: key, V: v})
		n.cfg.Disk.Sync(simDataFile)
	}
}

func (n *simNode) TickInterval() time.Duration { return simTick }
func (n *simNode) Leader() bool                { return false }

func (n *simNode) Invoke(op systems.Op, reply func(systems.SimReply)) {
	var r *Round
	switch op.F {
	case history.OpRead:
		r = NewRead(n.round, op.Key)
	case history.OpWrite:
		raw, err := json.Marshal(op.Value)
		if err != nil {
			reply(systems.SimReply{Completion: systems.Failed("encode value: %v", err)})
			return
		}
		r = NewWrite(n.round, n.issuer, op.Key, raw)
	default:
		reply(systems.SimReply{Completion: systems.Failed("quorum: unsupported operation %q (supports read, write)", op.F)})
		return
	}
	n.next++
	sr := &simRound{seq: n.next, op: op, r: r, reply: reply, waiting: map[int]time.Duration{}}
	n.rounds = append(n.rounds, sr)
	deadline := n.env.Now() + n.timeout
	for _, id := range n.round.Replicas {
		if id != n.cfg.ID {
			sr.waiting[id] = deadline
			n.env.Send(id, simQuery{Round: sr.seq, Key: op.Key})
		}
	}
	// The local replica answers at once, as node.go's local query does.
	n.feed(sr, Answer{From: n.cfg.ID, V: n.data[op.Key]})
}

// feed gives a round one answer, sends its store requests when its query
// phase ends, and answers the client when it is done.
func (n *simNode) feed(sr *simRound, a Answer) {
	if req := sr.r.Feed(a); req != nil {
		sr.store = true
		clear(sr.waiting)
		deadline := n.env.Now() + n.timeout
		local := false
		for _, id := range req.To {
			if id == n.cfg.ID {
				local = true
				continue
			}
			sr.waiting[id] = deadline
			n.env.Send(id, simStore{Round: sr.seq, Key: sr.r.Key(), V: req.Versioned})
		}
		if local {
			n.store(sr.r.Key(), req.Versioned)
			sr.r.Feed(Answer{From: n.cfg.ID, Store: true})
		}
	}
	res, done := sr.r.Done()
	if !done {
		return
	}
	n.finish(sr)
	var cr clientResponse
	if sr.r.kind == Read {
		_, cr = readResponse(res)
	} else {
		_, cr = writeResponse(res)
	}
	sr.reply(systems.SimReply{Completion: completionOf(sr.op, &cr, n.cfg.Name)})
}

func (n *simNode) finish(sr *simRound) {
	for i, x := range n.rounds {
		if x == sr {
			n.rounds = append(n.rounds[:i], n.rounds[i+1:]...)
			return
		}
	}
}

func (n *simNode) find(seq uint64) *simRound {
	for _, sr := range n.rounds {
		if sr.seq == seq {
			return sr
		}
	}
	return nil
}

var errSimTimeout = errors.New("peer request timed out")

// Tick fails the requests past their deadline, oldest round first.
func (n *simNode) Tick() {
	now := n.env.Now()
	for _, sr := range append([]*simRound(nil), n.rounds...) {
		for _, id := range n.round.Replicas {
			if d, ok := sr.waiting[id]; ok && now >= d {
				delete(sr.waiting, id)
				n.feed(sr, Answer{From: id, Store: sr.store, Err: errSimTimeout})
				if _, done := sr.r.Done(); done {
					break
				}
			}
		}
	}
}

func (n *simNode) Deliver(from int, msg any) {
	switch m := msg.(type) {
	case simQuery:
		n.env.Send(from, simQueryReply{Round: m.Round, V: n.data[m.Key]})
	case simStore:
		n.store(m.Key, m.V)
		n.env.Send(from, simStoreAck{Round: m.Round})
	case simQueryReply:
		if sr := n.find(m.Round); sr != nil && !sr.store {
			if _, ok := sr.waiting[from]; ok {
				delete(sr.waiting, from)
				n.feed(sr, Answer{From: from, V: m.V})
			}
		}
	case simStoreAck:
		if sr := n.find(m.Round); sr != nil && sr.store {
			if _, ok := sr.waiting[from]; ok {
				delete(sr.waiting, from)
				n.feed(sr, Answer{From: from, Store: true})
			}
		}
	}
}

func (*simNode) Members() map[string]string { return nil }
