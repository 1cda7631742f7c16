// Package swim is SWIM membership (Das, Gupta, Motivala 2002) as a pure
// state machine: periodic probes, indirect probes through k peers,
// suspicion with a timeout before a member is declared dead, incarnation
// numbers so a live member can refute a suspicion, and membership updates
// piggybacked on every message (and on the store's own gossip, through
// Piggyback and Observe).
//
// A Machine has no goroutines, sockets or clocks: the caller feeds it ticks
// (Tick) and received messages (Step) and sends the messages they return.
// Time is counted in ticks; randomness comes from the *rand.Rand the caller
// passes. Not safe for concurrent use.
package swim

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// State is what a member is believed to be.
type State int

const (
	Alive State = iota
	Suspect
	Dead
)

func (s State) String() string {
	switch s {
	case Alive:
		return "alive"
	case Suspect:
		return "suspect"
	case Dead:
		return "dead"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Update is one membership fact: node is in state at incarnation Inc.
// Only the node itself raises its incarnation, to refute suspicion.
type Update struct {
	Node  string `json:"node"`
	State State  `json:"state"`
	Inc   uint64 `json:"inc"`
}

// Kind is a message's purpose.
type Kind string

const (
	Ping    Kind = "ping"
	Ack     Kind = "ack"
	PingReq Kind = "ping-req"
	// Gossip is not sent by the Machine: it marks the store's own messages,
	// which carry membership updates too (see Piggyback, Observe).
	Gossip Kind = "gossip"
)

// Message is one SWIM message. From and Inc are the sender and its own
// incarnation: every message is direct evidence that its sender is alive
// at that incarnation.
type Message struct {
	To      string   `json:"to"`
	From    string   `json:"from"`
	Inc     uint64   `json:"inc"`
	Kind    Kind     `json:"kind"`
	Seq     uint64   `json:"seq,omitempty"`
	Target  string   `json:"target,omitempty"` // ping-req: the member to probe
	Updates []Update `json:"updates,omitempty"`
}

// Config tunes a Machine. Durations are in ticks.
type Config struct {
	Self  string
	Peers []string // every other member; the membership is fixed
	// ProbeInterval is the protocol period: one probe starts per period,
	// and a probe not acknowledged within it fails.
	ProbeInterval int
	// AckTimeout is how long a direct probe waits before asking
	// IndirectProbes other members to probe the target (less than
	// ProbeInterval, so the indirect probe has time to come back).
	AckTimeout     int
	IndirectProbes int
	// SuspicionTimeout is how long a member stays suspect, time in which
	// it can refute, before it is declared dead.
	SuspicionTimeout int
	// Retransmit is how many messages carry each membership update.
	Retransmit int
	// MaxPiggyback caps the updates attached to one message.
	MaxPiggyback int
}

// DefaultConfig is tuned for a tick of 100ms on a loopback cluster under
// load: a probe every 500ms, indirect probes after 200ms, two seconds of
// suspicion (long enough for a starved but live process to answer), and
// updates retransmitted 3*ceil(log2(n+1)) times, which reaches every member
// with high probability (SWIM's infection-style dissemination).
func DefaultConfig(self string, peers []string) Config {
	return Config{
		Self: self, Peers: peers,
		ProbeInterval: 5, AckTimeout: 2, IndirectProbes: 2,
		SuspicionTimeout: 20,
		Retransmit:       3 * int(math.Ceil(math.Log2(float64(len(peers)+2)))),
		MaxPiggyback:     16,
	}
}

// Validate checks the fields against each other.
func (c Config) Validate() error {
	switch {
	case c.Self == "":
		return fmt.Errorf("swim: no Self")
	case slices.Contains(c.Peers, c.Self):
		return fmt.Errorf("swim: %s lists itself among its peers", c.Self)
	case c.ProbeInterval < 2 || c.AckTimeout < 1 || c.AckTimeout >= c.ProbeInterval:
		return fmt.Errorf("swim: want 1 <= AckTimeout (%d) < ProbeInterval (%d)", c.AckTimeout, c.ProbeInterval)
	case c.SuspicionTimeout < 1 || c.Retransmit < 1 || c.MaxPiggyback < 1:
		return fmt.Errorf("swim: SuspicionTimeout, Retransmit and MaxPiggyback must be positive")
	}
	return nil
}

type member struct {
	state     State
	inc       uint64
	suspectAt int // tick the current suspicion began
}

type probe struct {
	target   string
	seq      uint64
	sentAt   int
	indirect bool
}

type relay struct {
	origin string
	seq    uint64 // the origin's sequence number
	at     int
}

type broadcast struct {
	u    Update
	sent int
}

// Machine is one member's view of the group.
type Machine struct {
	cfg       Config
	rng       *rand.Rand
	now       int
	inc       uint64
	members   map[string]*member
	order     []string // probe order, reshuffled each round
	next      int
	nextProbe int
	seq       uint64
	probe     *probe
	relays    map[uint64]relay
	queue     []*broadcast
}

// New returns a machine that believes every peer alive at incarnation 0
// and itself alive at inc (a restarted member passes what it knows of its
// last incarnation, or 0: refutation raises it as needed).
func New(cfg Config, inc uint64, rng *rand.Rand) (*Machine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Machine{cfg: cfg, rng: rng, inc: inc, members: map[string]*member{}, relays: map[uint64]relay{}}
	for _, p := range cfg.Peers {
		m.members[p] = &member{}
	}
	// Announce ourselves: a restarted member that others hold dead gets
	// told so in their replies and refutes.
	m.enqueue(Update{Node: cfg.Self, State: Alive, Inc: inc})
	return m, nil
}

// Incarnation is this member's own incarnation.
func (m *Machine) Incarnation() uint64 { return m.inc }

// Members returns every member's state as this machine sees it, itself
// included (always alive).
func (m *Machine) Members() map[string]State {
	out := map[string]State{m.cfg.Self: Alive}
	for n, mb := range m.members {
		out[n] = mb.state
	}
	return out
}

// Live returns the peers not believed dead, sorted.
func (m *Machine) Live() []string {
	var out []string
	for n, mb := range m.members {
		if mb.state != Dead {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Tick advances time by one tick and returns the messages to send.
func (m *Machine) Tick() []Message {
	m.now++
	var out []Message
	// In name order: each declaration queues an update to piggyback, so
	// map order would make the messages differ from run to run (and the
	// simulator's runs unrepeatable).
	for _, n := range slices.Sorted(maps.Keys(m.members)) {
		if mb := m.members[n]; mb.state == Suspect && m.now-mb.suspectAt >= m.cfg.SuspicionTimeout {
			m.apply(Update{Node: n, State: Dead, Inc: mb.inc})
		}
	}
	for seq, r := range m.relays {
		if m.now-r.at > m.cfg.ProbeInterval {
			delete(m.relays, seq)
		}
	}
	if p := m.probe; p != nil {
		age := m.now - p.sentAt
		if age >= m.cfg.AckTimeout && !p.indirect {
			p.indirect = true
			out = append(out, m.indirect(p)...)
		}
		if age >= m.cfg.ProbeInterval {
			// No ack, direct or relayed, within the period.
			if mb := m.members[p.target]; mb.state == Alive {
				m.apply(Update{Node: p.target, State: Suspect, Inc: mb.inc})
			}
			m.probe = nil
		}
	}
	if m.probe == nil && m.now >= m.nextProbe {
		if t, ok := m.nextTarget(); ok {
			m.seq++
			m.probe = &probe{target: t, seq: m.seq, sentAt: m.now}
			m.nextProbe = m.now + m.cfg.ProbeInterval
			out = append(out, m.message(t, Ping, m.seq, ""))
		}
	}
	return out
}

// nextTarget walks the peers round-robin in a random order reshuffled each
// round (SWIM's bound on time to first detection). Dead members are probed
// too: that is how a restarted or re-connected member learns it was
// declared dead and refutes.
func (m *Machine) nextTarget() (string, bool) {
	if len(m.members) == 0 {
		return "", false
	}
	if m.next >= len(m.order) {
		m.order = m.order[:0]
		for n := range m.members {
			m.order = append(m.order, n)
		}
		sort.Strings(m.order)
		m.rng.Shuffle(len(m.order), func(i, j int) { m.order[i], m.order[j] = m.order[j], m.order[i] })
		m.next = 0
	}
	t := m.order[m.next]
	m.next++
	return t, true
}

func (m *Machine) indirect(p *probe) []Message {
	var helpers []string
	for _, n := range m.Live() {
		if n != p.target {
			helpers = append(helpers, n)
		}
	}
	m.rng.Shuffle(len(helpers), func(i, j int) { helpers[i], helpers[j] = helpers[j], helpers[i] })
	var out []Message
	for _, h := range helpers[:min(len(helpers), m.cfg.IndirectProbes)] {
		out = append(out, m.message(h, PingReq, p.seq, p.target))
	}
	return out
}

// Step handles a received message and returns the messages to send.
func (m *Machine) Step(msg Message) []Message {
	if msg.To != m.cfg.Self || msg.From == m.cfg.Self {
		return nil
	}
	if _, known := m.members[msg.From]; !known {
		return nil
	}
	m.Observe(msg.From, msg.Inc, msg.Updates)
	switch msg.Kind {
	case Ping:
		return []Message{m.message(msg.From, Ack, msg.Seq, "")}
	case PingReq:
		if _, known := m.members[msg.Target]; !known || msg.Target == m.cfg.Self {
			return nil
		}
		m.seq++
		m.relays[m.seq] = relay{origin: msg.From, seq: msg.Seq, at: m.now}
		return []Message{m.message(msg.Target, Ping, m.seq, "")}
	case Ack:
		if p := m.probe; p != nil && msg.Seq == p.seq && (msg.From == p.target || msg.Target == p.target) {
			m.probe = nil
			return nil
		}
		if r, ok := m.relays[msg.Seq]; ok {
			delete(m.relays, msg.Seq)
			return []Message{m.message(r.origin, Ack, r.seq, msg.From)}
		}
	}
	return nil
}

// Observe takes in what any message from a peer says: that the peer is
// alive at inc, and its piggybacked updates. The store calls it for its own
// gossip messages, so data traffic doubles as heartbeats.
func (m *Machine) Observe(from string, inc uint64, updates []Update) {
	if _, known := m.members[from]; known {
		m.apply(Update{Node: from, State: Alive, Inc: inc})
	}
	for _, u := range updates {
		m.apply(u)
	}
}

// Piggyback returns membership updates to attach to a message for to: what
// this machine believes of to itself if that is not alive (so it can
// refute), then the least-sent queued updates. Each counts as one
// transmission.
func (m *Machine) Piggyback(to string) []Update {
	var out []Update
	if mb, ok := m.members[to]; ok && mb.state != Alive {
		out = append(out, Update{Node: to, State: mb.state, Inc: mb.inc})
	}
	sort.SliceStable(m.queue, func(i, j int) bool { return m.queue[i].sent < m.queue[j].sent })
	kept := m.queue[:0]
	for _, b := range m.queue {
		if len(out) < m.cfg.MaxPiggyback {
			out = append(out, b.u)
			b.sent++
		}
		if b.sent < m.cfg.Retransmit {
			kept = append(kept, b)
		}
	}
	m.queue = kept
	return out
}

func (m *Machine) message(to string, k Kind, seq uint64, target string) Message {
	return Message{To: to, From: m.cfg.Self, Inc: m.inc, Kind: k, Seq: seq, Target: target, Updates: m.Piggyback(to)}
}

// apply folds one update into the view by SWIM's precedence rules and
// queues it for dissemination when it changed something.
func (m *Machine) apply(u Update) {
	if u.Node == m.cfg.Self {
		if u.State != Alive && u.Inc >= m.inc {
			// Refute: only we raise our incarnation.
			m.inc = u.Inc + 1
			m.enqueue(Update{Node: m.cfg.Self, State: Alive, Inc: m.inc})
		}
		return
	}
	mb, ok := m.members[u.Node]
	if !ok {
		return
	}
	var accept bool
	switch u.State {
	case Alive:
		accept = u.Inc > mb.inc
	case Suspect:
		accept = (mb.state == Alive && u.Inc >= mb.inc) || (mb.state != Dead && u.Inc > mb.inc) ||
			(mb.state == Dead && u.Inc > mb.inc)
	case Dead:
		accept = (mb.state != Dead && u.Inc >= mb.inc) || u.Inc > mb.inc
	}
	if !accept {
		return
	}
	if u.State == Suspect && (mb.state != Suspect || u.Inc != mb.inc) {
		mb.suspectAt = m.now
	}
	mb.state, mb.inc = u.State, u.Inc
	m.enqueue(u)
}

func (m *Machine) enqueue(u Update) {
	// A newer fact about a node replaces the queued one.
	for i, b := range m.queue {
		if b.u.Node == u.Node {
			m.queue[i] = &broadcast{u: u}
			return
		}
	}
	m.queue = append(m.queue, &broadcast{u: u})
}
