package gossip

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/gossip/crdt"
	"github.com/faultline/faultline/systems/gossip/digest"
	"github.com/faultline/faultline/systems/gossip/swim"
	"github.com/faultline/faultline/systems/nodekit/admin"
	"github.com/faultline/faultline/systems/nodekit/disk"
	"github.com/faultline/faultline/systems/nodekit/httpserve"
	"github.com/faultline/faultline/systems/nodekit/storage"
)

// Options are a node's timing and sizing knobs.
type Options struct {
	// Tick is the unit of protocol time: SWIM's ticks (see
	// swim.DefaultConfig) and the gossip and anti-entropy periods below.
	// Timers are monotonic, like a machine's: a clock fault moves
	// timestamps, not the protocol's periods.
	Tick time.Duration
	// GossipEvery is the gossip period in ticks: each round pushes the
	// pending updates to Fanout random live peers.
	GossipEvery int
	Fanout      int
	// Retransmit is how many rounds a node pushes an update it made or
	// newly learned (1 under gossip-once). With fanout 3 and 4 peers, three
	// rounds reach every reachable peer almost surely; anti-entropy
	// repairs the rest.
	Retransmit int
	// AntiEntropyEvery is the anti-entropy period in ticks: one push-pull
	// exchange with a random live peer.
	AntiEntropyEvery int
	// PeerTimeout bounds one gossip or SWIM message, connection included
	// (a partition black-holes bytes); AntiEntropyTimeout one exchange.
	PeerTimeout        time.Duration
	AntiEntropyTimeout time.Duration
	// MaxDeltas caps the updates in one gossip message; the rest wait for
	// the next round.
	MaxDeltas       int
	ShutdownTimeout time.Duration
}

// DefaultOptions: a 100ms tick, gossip every 200ms, anti-entropy every
// 500ms (a healed node exchanges digests with every peer within seconds).
func DefaultOptions() Options {
	return Options{
		Tick: 100 * time.Millisecond, GossipEvery: 2, Fanout: 3, Retransmit: 3,
		AntiEntropyEvery: 5, PeerTimeout: 500 * time.Millisecond, AntiEntropyTimeout: 2 * time.Second,
		MaxDeltas: 1024, ShutdownTimeout: 2 * time.Second,
	}
}

// Peer paths. Every peer message goes to the peer's mesh proxy.
const (
	pathSWIM     = "/swim"
	pathGossip   = "/gossip"
	pathAEDigest = "/ae/digest"
	pathAEPush   = "/ae/push"
)

// maxBodyBytes caps peer and client bodies.
const maxBodyBytes = 64 << 20

// outboxSize bounds queued messages per peer; a full outbox drops, as a
// datagram network would: SWIM and anti-entropy tolerate loss.
const outboxSize = 256

// sendersPerPeer lets a slow link hold a few messages in flight without
// stalling the rest.
const sendersPerPeer = 3

type gossipMsg struct {
	From    string                 `json:"from"`
	Inc     uint64                 `json:"inc"`
	Updates []swim.Update          `json:"updates,omitempty"`
	Deltas  []loggedDelta          `json:"deltas,omitempty"`
	Tree    *digest.Tree           `json:"tree,omitempty"`    // anti-entropy digest
	Buckets []int                  `json:"buckets,omitempty"` // anti-entropy reply: differing buckets
	Objects map[string]crdt.Object `json:"objects,omitempty"`
}

type outMsg struct {
	path string
	body []byte
}

type node struct {
	cfg  systems.NodeConfig
	opts Options
	log  *slog.Logger
	ctx  context.Context

	dlog     *deltaLog
	hc       *http.Client
	peerAddr map[string]string
	outbox   map[string]chan outMsg
	bg       sync.WaitGroup
	ready    atomic.Bool
	aeBusy   atomic.Bool

	mu sync.Mutex // guards the replica
	*replica
}

func runNode(ctx context.Context, cfg systems.NodeConfig, opts Options) error {
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	lg = lg.With("node", cfg.Name)
	if _, self := cfg.Peers[cfg.ID]; self {
		return fmt.Errorf("gossip: node %d lists itself among its peers", cfg.ID)
	}
	inc, dlog, recovered, err := openDurable(cfg)
	if err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	defer func() {
		if err := dlog.close(); err != nil {
			lg.Error("closing delta log", "err", err)
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n, err := newNode(ctx, cfg, opts, lg, inc, dlog)
	if err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	defer n.hc.CloseIdleConnections()
	n.replay(recovered)
	return n.serve(ctx, cancel, len(recovered))
}

// openDurable prepares the data dir: this life's incarnation and the
// deltas the node logged in earlier lives.
func openDurable(cfg systems.NodeConfig) (uint64, *deltaLog, []loggedDelta, error) {
	if cfg.DataDir == "" {
		return 0, nil, nil, errors.New("no data dir")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return 0, nil, nil, fmt.Errorf("data dir: %w", err)
	}
	inc, err := storage.NextIncarnation(cfg.DataDir)
	if err != nil {
		return 0, nil, nil, err
	}
	mode, err := disk.ParseMode(cfg.Storage)
	if err != nil {
		return 0, nil, nil, err
	}
	dlog, recovered, err := openDeltaLog(filepath.Join(cfg.DataDir, "deltas.log"), mode)
	if err != nil {
		return 0, nil, nil, err
	}
	return inc, dlog, recovered, nil
}

// newNode builds the node with an outbox per peer and its SWIM machine;
// nothing runs yet.
func newNode(ctx context.Context, cfg systems.NodeConfig, opts Options, lg *slog.Logger, inc uint64, dlog *deltaLog) (*node, error) {
	n := &node{
		cfg: cfg, opts: opts, log: lg, ctx: ctx, dlog: dlog,
		peerAddr: map[string]string{}, outbox: map[string]chan outMsg{},
		hc: &http.Client{Transport: &http.Transport{
			Proxy:               nil, // peers are reached through the mesh only
			DialContext:         (&net.Dialer{Timeout: opts.PeerTimeout, KeepAlive: 15 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 2 * sendersPerPeer,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		}},
	}
	var peers []string
	for id, addr := range cfg.Peers {
		name := systems.NodeName(id)
		peers = append(peers, name)
		n.peerAddr[name] = addr
		n.outbox[name] = make(chan outMsg, outboxSize)
	}
	var err error
	n.replica, err = newReplica(cfg.Name, peers, cfg.HasBug, opts, inc,
		rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), inc<<8|uint64(cfg.ID))), rand.New(rand.NewPCG(inc, uint64(cfg.ID))))
	if err != nil {
		return nil, err
	}
	return n, nil
}

// serve binds the node's ports, starts its senders and protocol loop, and
// runs until ctx ends or a server fails; then it stops them all.
func (n *node) serve(ctx context.Context, cancel context.CancelFunc, recovered int) error {
	cfg, lg := n.cfg, n.log
	srv, err := httpserve.Start(ctx, lg, []httpserve.Server{
		{Name: "peer", Addr: cfg.PeerListen, Handler: n.peerHandler()},
		{Name: "client", Addr: cfg.ClientListen, Handler: n.clientHandler()},
		{Name: "admin", Addr: cfg.AdminListen, Handler: admin.Handler(n.status, cfg.Clock)},
	})
	if err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	for name, ch := range n.outbox {
		for range sendersPerPeer {
			n.bg.Go(func() { n.sender(name, ch) })
		}
	}
	n.bg.Go(n.loop)
	n.ready.Store(true)
	lg.Info("gossip node ready", "incarnation", n.inc, "peers", slices.Sorted(maps.Keys(n.peerAddr)), "keys", len(n.objs),
		"recovered_deltas", recovered, "bugs", cfg.Bugs)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-srv.Failed():
		runErr = fmt.Errorf("gossip: %w", err)
	}
	n.ready.Store(false)
	srv.Shutdown(n.opts.ShutdownTimeout)
	cancel()
	n.bg.Wait()
	lg.Info("gossip node stopped")
	return runErr
}

func (n *node) status() systems.Status {
	n.mu.Lock()
	ms := n.members.Members()
	n.mu.Unlock()
	return systems.Status{Node: n.cfg.Name, Ready: n.ready.Load(), Members: memberView(ms)}
}

// memberView renders a SWIM view for the admin status.
func memberView(ms map[string]swim.State) map[string]string {
	view := make(map[string]string, len(ms))
	for name, s := range ms {
		view[name] = s.String()
	}
	return view
}

// loop drives the protocol timers: SWIM every tick, a gossip round every
// GossipEvery ticks, an anti-entropy exchange every AntiEntropyEvery.
func (n *node) loop() {
	t := time.NewTicker(n.opts.Tick)
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		n.mu.Lock()
		msgs, rounds, ae := n.tick(tick)
		n.mu.Unlock()
		for _, m := range msgs {
			n.send(m.To, pathSWIM, m)
		}
		for _, r := range rounds {
			n.send(r.to, pathGossip, r.msg)
		}
		if ae && n.aeBusy.CompareAndSwap(false, true) {
			n.bg.Go(func() {
				defer n.aeBusy.Store(false)
				if err := n.antiEntropy(); err != nil {
					n.log.Debug("anti-entropy", "err", err)
				}
			})
		}
	}
}

// antiEntropy runs one push-pull exchange with a random live peer: send
// our digest; the peer answers with its state of every key in the buckets
// where the digests differ; merge that, then push ours for those buckets.
func (n *node) antiEntropy() error {
	n.mu.Lock()
	peer, req, ok := n.aeStart()
	n.mu.Unlock()
	if !ok {
		return nil
	}
	var reply gossipMsg
	if err := n.call(peer, pathAEDigest, req, &reply, n.opts.AntiEntropyTimeout); err != nil {
		return err
	}
	n.mu.Lock()
	push, ok := n.onAEReply(peer, reply)
	n.mu.Unlock()
	if !ok {
		return nil
	}
	return n.call(peer, pathAEPush, push, nil, n.opts.AntiEntropyTimeout)
}

func (n *node) peerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathSWIM, func(w http.ResponseWriter, r *http.Request) {
		var m swim.Message
		if !decode(w, r, &m) {
			return
		}
		n.mu.Lock()
		out := n.onSWIM(m)
		n.mu.Unlock()
		for _, o := range out {
			n.send(o.To, pathSWIM, o)
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+pathGossip, func(w http.ResponseWriter, r *http.Request) {
		var m gossipMsg
		if !decode(w, r, &m) {
			return
		}
		n.mu.Lock()
		n.onGossip(m)
		n.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST "+pathAEDigest, func(w http.ResponseWriter, r *http.Request) {
		var m gossipMsg
		if !decode(w, r, &m) {
			return
		}
		if m.Tree == nil {
			http.Error(w, "anti-entropy digest without a tree", http.StatusBadRequest)
			return
		}
		n.mu.Lock()
		reply := n.onAEDigest(m)
		n.mu.Unlock()
		writeJSON(w, http.StatusOK, reply)
	})
	mux.HandleFunc("POST "+pathAEPush, func(w http.ResponseWriter, r *http.Request) {
		var m gossipMsg
		if !decode(w, r, &m) {
			return
		}
		n.mu.Lock()
		n.onAEPush(m)
		n.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// send queues a message for peer to; a full outbox drops it.
func (n *node) send(to, path string, msg any) {
	ch, ok := n.outbox[to]
	if !ok {
		return
	}
	body, err := json.Marshal(msg)
	if err != nil {
		n.log.Error("encode peer message", "path", path, "err", err)
		return
	}
	select {
	case ch <- outMsg{path: path, body: body}:
	default:
	}
}

func (n *node) sender(to string, ch chan outMsg) {
	for {
		select {
		case <-n.ctx.Done():
			return
		case m := <-ch:
			if err := n.post(to, m.path, m.body, nil, n.opts.PeerTimeout); err != nil {
				n.log.Debug("peer message lost", "to", to, "path", m.path, "err", err)
			}
		}
	}
}

func (n *node) call(to, path string, req, resp any, timeout time.Duration) error {
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return n.post(to, path, body, resp, timeout)
}

func (n *node) post(to, path string, body []byte, resp any, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(n.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+n.peerAddr[to]+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s: %w", to, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	hresp, err := n.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", to, path, err)
	}
	defer hresp.Body.Close()
	if hresp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(hresp.Body, 512))
		return fmt.Errorf("%s %s: %s: %s", to, path, hresp.Status, bytes.TrimSpace(msg))
	}
	if resp == nil {
		_, _ = io.Copy(io.Discard, hresp.Body)
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(hresp.Body, maxBodyBytes)).Decode(resp); err != nil {
		return fmt.Errorf("%s %s: decode reply: %w", to, path, err)
	}
	return nil
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBodyBytes)).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, clientResponse{Error: "bad request body: " + err.Error()})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
