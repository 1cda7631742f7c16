package gossip

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/faultline/faultline/systems/gossip/crdt"
	"github.com/faultline/faultline/systems/gossip/digest"
	"github.com/faultline/faultline/systems/gossip/swim"
)

// replica is a gossip node's protocol state with no I/O: the CRDT objects,
// SWIM membership, the updates being pushed and the anti-entropy rules.
// Messages go in and messages to send come out; node.go carries them over
// HTTP, the simulator over its network. The caller serialises access
// (node.go holds its mutex).
type replica struct {
	name string
	opts Options
	inc  uint64 // this life's incarnation: names counter entries and set tags
	// known are the peers' names: messages from anyone else are ignored.
	known map[string]bool

	overwrite, once, aeOverwrite, wallClock bool

	objs    map[string]crdt.Object
	hashes  map[string]digest.Hash // cache of objs' digests
	members *swim.Machine
	hlc     crdt.HLC
	pending map[string]*pending // updates being pushed, by key
	rng     *rand.Rand
	tagSeq  uint64
}

type pending struct {
	obj  crdt.Object
	sent int
}

// addressed is a message and the peer it goes to.
type addressed struct {
	to  string
	msg gossipMsg
}

// newReplica builds a replica; rng drives its peer choices, swimRng its
// membership's.
func newReplica(name string, peers []string, bugs func(string) bool, opts Options, inc uint64, rng, swimRng *rand.Rand) (*replica, error) {
	r := &replica{
		name: name, opts: opts, inc: inc, known: map[string]bool{},
		overwrite:   bugs(BugMergeOverwrite),
		once:        bugs(BugGossipOnce),
		aeOverwrite: bugs(BugAntiEntropyOverwrite),
		wallClock:   bugs(BugLWWWallClock),
		objs:        map[string]crdt.Object{}, hashes: map[string]digest.Hash{},
		hlc:     crdt.HLC{Node: name},
		pending: map[string]*pending{},
		rng:     rng,
	}
	peers = slices.Sorted(slices.Values(peers))
	for _, p := range peers {
		r.known[p] = true
	}
	var err error
	r.members, err = swim.New(swim.DefaultConfig(name, peers), 0, swimRng)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// replay merges the deltas of earlier lives into the replica.
func (r *replica) replay(recovered []loggedDelta) {
	for _, d := range recovered {
		r.objs[d.Key] = r.objs[d.Key].Merge(d.Obj)
		if reg := d.Obj.Register; reg != nil {
			r.hlc.Observe(reg.TS)
		}
	}
}

// tick advances the protocol by one tick: SWIM's messages, the gossip
// round every GossipEvery ticks (to peers in sorted order), and whether an
// anti-entropy exchange is due (never under gossip-once, which has none).
func (r *replica) tick(tick int) (swimMsgs []swim.Message, rounds []addressed, antiEntropy bool) {
	swimMsgs = r.members.Tick()
	if tick%r.opts.GossipEvery == 0 {
		rounds = r.gossipRound()
	}
	return swimMsgs, rounds, !r.once && tick%r.opts.AntiEntropyEvery == 0
}

// gossipRound picks Fanout random live peers and builds, for each, a
// message with the pending updates. Each pending update counts one round;
// after Retransmit rounds (one under gossip-once) it is forgotten.
func (r *replica) gossipRound() []addressed {
	if len(r.pending) == 0 {
		return nil
	}
	live := r.members.Live()
	r.rng.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
	targets := live[:min(len(live), r.opts.Fanout)]
	limit := r.opts.Retransmit
	if r.once {
		limit = 1
	}
	var deltas []loggedDelta
	for _, k := range slices.Sorted(maps.Keys(r.pending)) {
		if len(deltas) == r.opts.MaxDeltas {
			break
		}
		p := r.pending[k]
		deltas = append(deltas, loggedDelta{Key: k, Obj: p.obj})
		if p.sent++; p.sent >= limit || len(targets) == 0 && r.once {
			delete(r.pending, k)
		}
	}
	slices.Sort(targets)
	out := make([]addressed, 0, len(targets))
	for _, t := range targets {
		out = append(out, addressed{to: t, msg: gossipMsg{From: r.name, Inc: r.members.Incarnation(), Updates: r.members.Piggyback(t), Deltas: deltas}})
	}
	return out
}

// enqueue adds an update to the ones being pushed, folding it into any
// pending update of the same key.
func (r *replica) enqueue(key string, d crdt.Object) {
	if p, ok := r.pending[key]; ok {
		p.obj, p.sent = p.obj.Merge(d), 0
		return
	}
	r.pending[key] = &pending{obj: d}
}

// set replaces key's state.
func (r *replica) set(key string, o crdt.Object) {
	r.objs[key] = o
	delete(r.hashes, key)
	if reg := o.Register; reg != nil && !r.wallClock {
		r.hlc.Observe(reg.TS)
	}
}

// mergeRemote folds a copy of key received from a peer into the replica
// and reports whether that changed it. Under merge-overwrite the copy
// replaces the replica's state instead.
func (r *replica) mergeRemote(key string, in crdt.Object) bool {
	cur := r.objs[key]
	next := cur.Merge(in)
	if r.overwrite {
		next = in
	}
	if next.Digest() == r.hash(key) {
		return false
	}
	r.set(key, next)
	return true
}

// hash returns key's state digest, cached.
func (r *replica) hash(key string) digest.Hash {
	h, ok := r.hashes[key]
	if !ok {
		h = r.objs[key].Digest()
		r.hashes[key] = h
	}
	return h
}

// tree builds the replica's Merkle digest.
func (r *replica) tree() digest.Tree {
	states := make(map[string]digest.Hash, len(r.objs))
	for k := range r.objs {
		states[k] = r.hash(k)
	}
	return digest.Build(states)
}

// inBuckets returns the replica's keys in the given buckets. The objects
// are immutable values (every merge makes new ones), so they may be encoded
// after the caller's lock is released.
func (r *replica) inBuckets(buckets []int) map[string]crdt.Object {
	want := map[int]bool{}
	for _, b := range buckets {
		want[b] = true
	}
	out := map[string]crdt.Object{}
	for k, o := range r.objs {
		if want[digest.Bucket(k)] {
			out[k] = o
		}
	}
	return out
}

// observe takes a peer message's membership content.
func (r *replica) observe(m gossipMsg) {
	if r.known[m.From] {
		r.members.Observe(m.From, m.Inc, m.Updates)
	}
}

// onSWIM steps the membership with a SWIM message.
func (r *replica) onSWIM(m swim.Message) []swim.Message { return r.members.Step(m) }

// onGossip merges a gossip message's deltas; what is new here is pushed on
// (rumor mongering).
func (r *replica) onGossip(m gossipMsg) {
	r.observe(m)
	for _, d := range m.Deltas {
		if r.mergeRemote(d.Key, d.Obj) {
			r.enqueue(d.Key, d.Obj)
		}
	}
}

// aeStart begins a push-pull exchange with a random live peer: the digest
// request to send it. False when no peer is live.
func (r *replica) aeStart() (string, gossipMsg, bool) {
	live := r.members.Live()
	if len(live) == 0 {
		return "", gossipMsg{}, false
	}
	peer := live[r.rng.IntN(len(live))]
	tree := r.tree()
	return peer, gossipMsg{From: r.name, Inc: r.members.Incarnation(), Updates: r.members.Piggyback(peer), Tree: &tree}, true
}

// onAEDigest answers a peer's digest with the buckets that differ and our
// state of their keys.
func (r *replica) onAEDigest(m gossipMsg) gossipMsg {
	r.observe(m)
	mine := r.tree()
	reply := gossipMsg{From: r.name, Inc: r.members.Incarnation(), Updates: r.members.Piggyback(m.From)}
	reply.Buckets = digest.Diff(*m.Tree, mine)
	reply.Objects = r.inBuckets(reply.Buckets)
	return reply
}

// onAEReply takes the peer's state of the differing buckets and returns
// ours of them to push back; false when nothing differs.
func (r *replica) onAEReply(peer string, reply gossipMsg) (gossipMsg, bool) {
	if len(reply.Buckets) == 0 {
		return gossipMsg{}, false
	}
	r.observe(reply)
	for _, k := range slices.Sorted(maps.Keys(reply.Objects)) {
		o := reply.Objects[k]
		if r.aeOverwrite {
			// The seed's sync_nodes: the initiator's copy wins every key
			// it has; it takes only keys it lacks.
			if _, have := r.objs[k]; !have {
				r.set(k, o)
			}
			continue
		}
		r.mergeRemote(k, o)
	}
	return gossipMsg{From: r.name, Inc: r.members.Incarnation(), Updates: r.members.Piggyback(peer), Objects: r.inBuckets(reply.Buckets)}, true
}

// onAEPush merges the initiator's state of the differing buckets.
func (r *replica) onAEPush(m gossipMsg) {
	r.observe(m)
	for _, k := range slices.Sorted(maps.Keys(m.Objects)) {
		if r.aeOverwrite {
			r.set(k, m.Objects[k]) // copied over, versions never compared
			continue
		}
		r.mergeRemote(k, m.Objects[k])
	}
}

// update applies a local update: mk computes the delta from the key's
// current state, which is merged in and queued for gossip. The caller
// makes the returned delta durable before acknowledging it.
func (r *replica) update(key string, mk func(cur crdt.Object) crdt.Object) crdt.Object {
	cur := r.objs[key]
	d := mk(cur)
	r.set(key, cur.Merge(d))
	r.enqueue(key, d)
	return d
}

// counterAdd is the delta of adding n to a counter.
func (r *replica) counterAdd(delta int64) func(crdt.Object) crdt.Object {
	id := fmt.Sprintf("%s.%d", r.name, r.inc)
	return func(cur crdt.Object) crdt.Object {
		var c crdt.PNCounter
		if cur.Counter != nil {
			c = *cur.Counter
		}
		d := c.Add(id, delta)
		return crdt.Object{Counter: &d}
	}
}

// setAdd is the delta of adding elem to a set, under a fresh tag.
func (r *replica) setAdd(elem string) func(crdt.Object) crdt.Object {
	return func(crdt.Object) crdt.Object {
		r.tagSeq++
		d := crdt.ORSet{}.Add(elem, fmt.Sprintf("%s.%d.%d", r.name, r.inc, r.tagSeq))
		return crdt.Object{Set: &d}
	}
}

// setRemove is the delta of removing elem as far as this replica has seen
// it.
func (r *replica) setRemove(elem string) func(crdt.Object) crdt.Object {
	return func(cur crdt.Object) crdt.Object {
		var s crdt.ORSet
		if cur.Set != nil {
			s = *cur.Set
		}
		d := s.Remove(elem)
		return crdt.Object{Set: &d}
	}
}

// registerWrite is the delta of writing v at wall time now (ns).
func (r *replica) registerWrite(v string, now int64) func(crdt.Object) crdt.Object {
	return func(crdt.Object) crdt.Object {
		ts := r.hlc.Now(now)
		if r.wallClock {
			// The seed's LWWRegister.write: the wall clock alone.
			ts = crdt.Timestamp{Wall: now, Node: r.name}
		}
		d := crdt.LWWRegister{}.Set(v, ts)
		return crdt.Object{Register: &d}
	}
}

// read returns key's value as the client API encodes it for a workload
// (counter, set, register).
func (r *replica) read(kind, key string) string {
	o := r.objs[key]
	switch kind {
	case "counter":
		var v int64
		if o.Counter != nil {
			v = o.Counter.Value()
		}
		return fmt.Sprint(v)
	case "set":
		var elems []string
		if o.Set != nil {
			elems = o.Set.Elements()
		}
		return "[" + strings.Join(elems, ",") + "]"
	}
	if o.Register != nil && o.Register.Value != "" {
		return o.Register.Value
	}
	return "null"
}
