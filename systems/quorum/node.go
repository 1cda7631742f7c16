package quorum

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/admin"
	"github.com/faultline/faultline/systems/nodekit/disk"
	"github.com/faultline/faultline/systems/nodekit/httpserve"
	"github.com/faultline/faultline/systems/nodekit/storage"
)

// nodeOptions are a node's timing knobs.
type nodeOptions struct {
	// PeerTimeout bounds one peer request, connection included. A partition
	// black-holes bytes instead of refusing them, so without it a phase
	// could wait forever; on expiry the connection is closed. It must cover
	// a remote fsync under load. An operation takes at most two of these.
	PeerTimeout time.Duration
	// ShutdownTimeout bounds the wait for in-flight requests on exit.
	ShutdownTimeout time.Duration
}

func defaultNodeOptions() nodeOptions {
	return nodeOptions{PeerTimeout: 750 * time.Millisecond, ShutdownTimeout: 2 * time.Second}
}

// maxBodyBytes caps request bodies: a value is far smaller than a record.
const maxBodyBytes = storage.MaxRecordBytes

type node struct {
	cfg      systems.NodeConfig
	opts     nodeOptions
	log      *slog.Logger
	store    *storage.Store
	issuer   *Issuer
	round    RoundConfig
	peers    *http.Client
	ctx      context.Context // the node's life; peer requests end with it
	bg       sync.WaitGroup  // peer requests and local stores in flight
	ready    atomic.Bool
	failures atomic.Uint64 // failed rounds, for the exit log
}

func runNode(ctx context.Context, cfg systems.NodeConfig, opts nodeOptions) error {
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	lg = lg.With("node", cfg.Name)
	if cfg.ID < 1 || cfg.ID > writerNodeMask {
		return fmt.Errorf("quorum: node id %d out of range 1..%d", cfg.ID, writerNodeMask)
	}
	if _, self := cfg.Peers[cfg.ID]; self {
		return fmt.Errorf("quorum: node %d lists itself among its peers", cfg.ID)
	}
	if cfg.DataDir == "" {
		return errors.New("quorum: no data dir")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("quorum: data dir: %w", err)
	}
	inc, err := storage.NextIncarnation(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("quorum: %w", err)
	}
	mode, err := disk.ParseMode(cfg.Storage)
	if err != nil {
		return fmt.Errorf("quorum: %w", err)
	}
	store, err := storage.Open(filepath.Join(cfg.DataDir, "quorum.log"), storage.Options{Logger: lg, Mode: mode})
	if err != nil {
		return fmt.Errorf("quorum: %w", err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			lg.Error("closing storage", "err", err)
		}
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	replicas := []int{cfg.ID}
	for id := range cfg.Peers {
		replicas = append(replicas, id)
	}
	slices.Sort(replicas)
	n := &node{
		cfg:    cfg,
		opts:   opts,
		log:    lg,
		store:  store,
		issuer: NewIssuer(WriterID(cfg.ID, inc)),
		round:  RoundConfig{Replicas: replicas, NoWriteBack: cfg.HasBug(BugNoWriteBack)},
		ctx:    ctx,
		peers: &http.Client{Transport: &http.Transport{
			Proxy:               nil, // peers are reached through the mesh only, never an env proxy
			DialContext:         (&net.Dialer{Timeout: opts.PeerTimeout, KeepAlive: 15 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 64, // one per concurrent op per peer, roughly
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		}},
	}
	defer n.peers.CloseIdleConnections()

	// Storage is recovered; listen on all three ports, then report ready.
	srv, err := httpserve.Start(ctx, lg, []httpserve.Server{
		{Name: "peer", Addr: cfg.PeerListen, Handler: n.peerHandler()},
		{Name: "client", Addr: cfg.ClientListen, Handler: n.clientHandler()},
		{Name: "admin", Addr: cfg.AdminListen, Handler: admin.Handler(n.status, cfg.Clock)},
	})
	if err != nil {
		return fmt.Errorf("quorum: %w", err)
	}
	n.ready.Store(true)
	lg.Info("quorum node ready", "incarnation", inc, "replicas", replicas, "keys", store.Len(),
		"peer", srv.Addrs()[0], "client", srv.Addrs()[1], "admin", srv.Addrs()[2],
		"bugs", cfg.Bugs)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-srv.Failed():
		runErr = fmt.Errorf("quorum: %w", err)
	}
	n.ready.Store(false)
	srv.Shutdown(opts.ShutdownTimeout)
	cancel() // ends peer requests still in flight
	n.bg.Wait()
	lg.Info("quorum node stopped", "failed_rounds", n.failures.Load())
	return runErr
}

func (n *node) status() systems.Status {
	return systems.Status{Node: n.cfg.Name, Ready: n.ready.Load()}
}

// execute drives r: it fans every request out in parallel and feeds each
// answer back until the round ends. Every request answers exactly once,
// within PeerTimeout, so execute returns within two PeerTimeouts.
func (n *node) execute(r *Round) Result {
	// Room for one answer per replica per phase: senders never block, even
	// after the round is over.
	answers := make(chan Answer, 2*len(n.round.Replicas))
	key := r.Key()
	for _, id := range n.round.Replicas {
		n.goCall(func() {
			v, err := n.query(id, key)
			answers <- Answer{From: id, V: v, Err: err}
		})
	}
	for {
		if res, done := r.Done(); done {
			return res
		}
		if req := r.Feed(<-answers); req != nil {
			for _, id := range req.To {
				n.goCall(func() {
					err := n.storeAt(id, key, req.Versioned)
					answers <- Answer{From: id, Store: true, Err: err}
				})
			}
		}
	}
}

func (n *node) goCall(f func()) {
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		f()
	}()
}

// query asks replica id for its version of key; the local replica is read
// directly.
func (n *node) query(id int, key string) (Versioned, error) {
	if id == n.cfg.ID {
		return n.localQuery(key), nil
	}
	var v Versioned
	err := n.call(id, pathQuery, queryRequest{Key: key}, &v)
	return v, err
}

// storeAt asks replica id to store v under key, returning once it is durable
// there.
func (n *node) storeAt(id int, key string, v Versioned) error {
	if id == n.cfg.ID {
		_, err := n.localStore(key, v)
		return err
	}
	var resp storeResponse
	return n.call(id, pathStore, storeRequest{Key: key, Versioned: v}, &resp)
}

func (n *node) localQuery(key string) Versioned {
	rec, ok := n.store.Get(key)
	if !ok {
		return Versioned{}
	}
	return Versioned{Tag: Tag(rec.Version), Value: rec.Value}
}

// localStore applies the replica rule (Supersedes) durably: storage keeps
// the greatest version of each key, and returns once it holds v.Tag or newer.
func (n *node) localStore(key string, v Versioned) (bool, error) {
	applied, err := n.store.Put(storage.Record{Key: key, Version: storage.Version(v.Tag), Value: v.Value})
	if err != nil {
		return false, fmt.Errorf("local store of %q: %w", key, err)
	}
	return applied, nil
}

// call sends one peer RPC with PeerTimeout.
func (n *node) call(id int, path string, req, resp any) error {
	addr, ok := n.cfg.Peers[id]
	if !ok {
		return fmt.Errorf("no address for n%d", id)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.opts.PeerTimeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("n%d %s: %w", id, path, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hresp, err := n.peers.Do(hreq)
	if err != nil {
		return fmt.Errorf("n%d %s: %w", id, path, err)
	}
	defer hresp.Body.Close()
	if hresp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(hresp.Body, 512))
		return fmt.Errorf("n%d %s: %s: %s", id, path, hresp.Status, bytes.TrimSpace(msg))
	}
	if err := json.NewDecoder(io.LimitReader(hresp.Body, maxBodyBytes)).Decode(resp); err != nil {
		return fmt.Errorf("n%d %s: decode reply: %w", id, path, err)
	}
	return nil
}

func (n *node) peerHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathQuery, func(w http.ResponseWriter, r *http.Request) {
		var req queryRequest
		if !decodeBody(w, r, &req) {
			return
		}
		writeJSON(w, http.StatusOK, n.localQuery(req.Key))
	})
	mux.HandleFunc("POST "+pathStore, func(w http.ResponseWriter, r *http.Request) {
		var req storeRequest
		if !decodeBody(w, r, &req) {
			return
		}
		if req.Tag == (Tag{}) || !json.Valid(req.Value) {
			http.Error(w, "store needs a non-zero tag and a JSON value", http.StatusBadRequest)
			return
		}
		applied, err := n.localStore(req.Key, req.Versioned)
		if err != nil {
			n.log.Error("replica store failed", "key", req.Key, "tag", req.Tag, "err", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, storeResponse{Applied: applied})
	})
	return mux
}

func (n *node) clientHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathRead, func(w http.ResponseWriter, r *http.Request) {
		var req clientRequest
		if !decodeBody(w, r, &req) {
			return
		}
		res := n.execute(NewRead(n.round, req.Key))
		code, resp := readResponse(res)
		if res.Err != nil {
			n.failures.Add(1)
			n.log.Info("read failed", "key", req.Key, "err", res.Err)
		} else {
			n.log.Debug("read", "key", req.Key, "tag", res.Tag, "wrote_back", res.WroteBack)
		}
		n.reply(w, code, resp)
	})
	mux.HandleFunc("POST "+pathWrite, func(w http.ResponseWriter, r *http.Request) {
		var req clientRequest
		if !decodeBody(w, r, &req) {
			return
		}
		if len(req.Value) == 0 || !json.Valid(req.Value) {
			n.reply(w, http.StatusBadRequest, clientResponse{Outcome: outcomeFail, Error: "write needs a JSON value"})
			return
		}
		res := n.execute(NewWrite(n.round, n.issuer, req.Key, req.Value))
		code, resp := writeResponse(res)
		if res.Err != nil {
			n.failures.Add(1)
			n.log.Info("write failed", "key", req.Key, "outcome", resp.Outcome, "err", res.Err)
		} else {
			n.log.Debug("write", "key", req.Key, "tag", res.Tag)
		}
		n.reply(w, code, resp)
	})
	return mux
}

// readResponse is the client API's answer to a finished read round.
func readResponse(res Result) (int, clientResponse) {
	if res.Err != nil {
		return http.StatusServiceUnavailable, clientResponse{Outcome: outcomeFail, Error: res.Err.Error()}
	}
	value := res.Value
	if value == nil {
		value = json.RawMessage("null")
	}
	return http.StatusOK, clientResponse{Outcome: outcomeOK, Value: value, Tag: &res.Tag}
}

// writeResponse is the client API's answer to a finished write round: a
// failed one is unknown once its store phase began.
func writeResponse(res Result) (int, clientResponse) {
	if res.Err != nil {
		outcome, msg := outcomeFail, res.Err.Error()+": nothing was stored"
		if res.MaybeApplied {
			outcome, msg = outcomeUnknown, res.Err.Error()+": some replicas may hold the value"
		}
		return http.StatusServiceUnavailable, clientResponse{Outcome: outcome, Error: msg}
	}
	return http.StatusOK, clientResponse{Outcome: outcomeOK, Tag: &res.Tag}
}

func (n *node) reply(w http.ResponseWriter, code int, resp clientResponse) {
	resp.Node = n.cfg.Name
	writeJSON(w, code, resp)
}

// decodeBody decodes a JSON request body into v, answering 400 itself when
// it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, clientResponse{Outcome: outcomeFail, Error: "bad request: " + err.Error()})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
