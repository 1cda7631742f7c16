// Package primarybackup is the example of testing a system of your own
// with faultline: a small primary-backup register store, defined here, in
// a module of its own, and nowhere in faultline.
//
// Node n1 is the primary: it applies every write in order, appends it to
// a log it fsyncs before answering, and pushes it to the backups without
// waiting for them. The other nodes forward every operation to the
// primary. With the named bug "stale-backup-read" a backup answers reads
// from its own copy instead — fast, and stale whenever a push has not
// arrived, which a partition makes certain.
package primarybackup

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// BugStaleBackupRead makes backups serve reads from their own copy.
const BugStaleBackupRead = "stale-backup-read"

// Store is the system as faultline sees it: a systems.System whose nodes
// run in-process (systems.InProcess). It has no clock faultline could set,
// so clock faults are skipped with the reason.
type Store struct{}

// New returns the store's system value, for faultline.New and
// faultline.RunNodeIfChild.
func New() Store { return Store{} }

func (Store) Name() string    { return "primarybackup" }
func (Store) Summary() string { return "an example primary-backup register store" }
func (Store) MinNodes() int   { return 2 }
func (Store) Bugs() []systems.Bug {
	return []systems.Bug{{Name: BugStaleBackupRead, Description: "backups answer reads from their own copy, which lags the primary"}}
}
func (Store) Workloads() map[string][]history.Func {
	return map[string][]history.Func{"register": {history.OpRead, history.OpWrite}}
}

// op is the store's one message, on the client API and between nodes.
type op struct {
	F     history.Func    `json:"f"`
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value,omitempty"`
}

// RunNode runs one node: n1 the primary, the others backups. The data
// dir, addresses and peers (each peer's address through faultline's mesh)
// come from cfg.
func (Store) RunNode(ctx context.Context, cfg systems.NodeConfig) error {
	n := &node{cfg: cfg, data: map[string]json.RawMessage{}, hc: systems.NewHTTPClient(8)}
	if cfg.ID == 1 {
		if err := n.openLog(filepath.Join(cfg.DataDir, "log.jsonl")); err != nil {
			return err
		}
	}
	peers := http.NewServeMux()
	peers.HandleFunc("POST /push", n.push)     // on a backup: a write the primary pushed
	peers.HandleFunc("POST /forward", n.serve) // on the primary: an op a backup forwarded
	pl, err := net.Listen("tcp", cfg.PeerListen)
	if err != nil {
		return err
	}
	cl, err := net.Listen("tcp", cfg.ClientListen)
	if err != nil {
		pl.Close()
		return err
	}
	peer, client := &http.Server{Handler: peers}, &http.Server{Handler: http.HandlerFunc(n.serve)}
	go func() { <-ctx.Done(); peer.Close(); client.Close() }()
	go peer.Serve(pl)
	cfg.Logger.Info("primary-backup node up", "primary", cfg.ID == 1)
	if err := client.Serve(cl); ctx.Err() == nil {
		return err
	}
	return nil
}

type node struct {
	cfg  systems.NodeConfig
	hc   *http.Client
	mu   sync.Mutex
	data map[string]json.RawMessage
	log  *os.File
}

// openLog replays the primary's log and opens it for appending.
func (n *node) openLog(path string) error {
	if f, err := os.Open(path); err == nil {
		for sc := bufio.NewScanner(f); sc.Scan(); {
			var o op
			if json.Unmarshal(sc.Bytes(), &o) == nil { // a torn tail was never acknowledged
				n.data[o.Key] = o.Value
			}
		}
		f.Close()
	}
	var err error
	n.log, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	return err
}

// serve answers a client: the primary applies, a backup forwards (or,
// with the bug, reads its own copy).
func (n *node) serve(w http.ResponseWriter, r *http.Request) {
	var o op
	if err := json.NewDecoder(r.Body).Decode(&o); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch {
	case n.cfg.ID == 1:
		n.apply(w, o)
	case o.F == history.OpRead && n.cfg.HasBug(BugStaleBackupRead):
		n.mu.Lock()
		defer n.mu.Unlock()
		reply(w, n.data[o.Key])
	default:
		n.forward(w, r.Context(), o)
	}
}

// apply runs o on the primary: a write is on disk before it is answered,
// then pushed to every backup in the background.
func (n *node) apply(w http.ResponseWriter, o op) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if o.F == history.OpRead {
		reply(w, n.data[o.Key])
		return
	}
	line, _ := json.Marshal(o)
	if _, err := n.log.Write(append(line, '\n')); err != nil || n.log.Sync() != nil {
		http.Error(w, "log write failed", http.StatusInternalServerError)
		return
	}
	n.data[o.Key] = o.Value
	reply(w, nil)
	for _, addr := range n.cfg.Peers {
		go func() {
			if resp, err := n.hc.Post("http://"+addr+"/push", "application/json", bytes.NewReader(line)); err == nil {
				resp.Body.Close()
			}
		}()
	}
}

// reply answers with a JSON value; an absent one is null.
func reply(w http.ResponseWriter, v json.RawMessage) {
	if len(v) == 0 {
		v = json.RawMessage("null")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(v)
}

// push takes a write the primary pushed.
func (n *node) push(w http.ResponseWriter, r *http.Request) {
	var o op
	if json.NewDecoder(r.Body).Decode(&o) == nil {
		n.mu.Lock()
		n.data[o.Key] = o.Value
		n.mu.Unlock()
	}
}

// forward passes o to the primary, through faultline's proxy for this
// link, and relays the answer.
func (n *node) forward(w http.ResponseWriter, ctx context.Context, o op) {
	body, _ := json.Marshal(o)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+n.cfg.Peers[1]+"/forward", bytes.NewReader(body))
	resp, err := n.hc.Do(req)
	if err != nil {
		http.Error(w, "primary unreachable: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// NewClient returns the register workload's client: one POST per
// operation to the node's client address.
func (Store) NewClient(c systems.ClientConfig) (systems.Client, error) {
	if c.Workload != "register" {
		return nil, fmt.Errorf("primarybackup serves only the register workload, not %q", c.Workload)
	}
	return client{hc: systems.NewHTTPClient(32)}, nil
}

type client struct{ hc *http.Client }

func (c client) Invoke(ctx context.Context, node systems.Endpoint, o systems.Op) systems.Completion {
	body, _ := json.Marshal(o.Value)
	req, _ := json.Marshal(op{F: o.F, Key: o.Key, Value: body})
	if o.F == history.OpRead {
		req, _ = json.Marshal(op{F: o.F, Key: o.Key})
	}
	var v json.RawMessage
	r, sent, err := systems.CallJSON(ctx, c.hc, http.MethodPost, node, "/", req, 1<<20, &v)
	if err != nil {
		return systems.CallFailed(o, node, sent, err)
	}
	if r.Code != http.StatusOK {
		return systems.Unsure(o, fmt.Sprintf("%s: %s", node.Name, r.Status))
	}
	value, err := systems.DecodeValue(v)
	if err != nil {
		return systems.Unsure(o, err.Error())
	}
	return systems.Completion{Type: history.OK, Value: value}
}
