package faultline

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// foreignArg makes this test binary run as the node program of
// primaryStore: a program of its own, started by its command line, with
// no faultline flags, admin endpoint or clock.
const foreignArg = "__faultline_test_foreign_node__"

// primaryStore is a foreign system for the harness's tests: node 1 holds
// every key in a file it fsyncs before answering; the others forward each
// operation to node 1's one advertised peer address (Advertised
// addressing, as etcd and NATS have). exe and command stand in for a
// broken adapter when set.
type primaryStore struct {
	exe     func() (string, error)
	command func(cfg systems.NodeConfig) (systems.Command, error)
}

func (primaryStore) Name() string { return "primary" }
func (primaryStore) Summary() string {
	return "a primary-backup register store run as a foreign program (tests)"
}
func (primaryStore) Bugs() []systems.Bug { return nil }
func (primaryStore) MinNodes() int       { return 1 }
func (primaryStore) Workloads() map[string][]history.Func {
	return map[string][]history.Func{"register": {history.OpRead, history.OpWrite}}
}
func (primaryStore) Addressing() systems.Addressing { return systems.Advertised }

func (p primaryStore) Executable() (string, error) {
	if p.exe != nil {
		return p.exe()
	}
	return os.Executable()
}

func (p primaryStore) Command(cfg systems.NodeConfig) (systems.Command, error) {
	if p.command != nil {
		return p.command(cfg)
	}
	primary := cfg.Advertise
	if cfg.ID != 1 {
		primary = cfg.Peers[1]
	}
	return systems.Command{
		Args: []string{foreignArg, "-id", strconv.Itoa(cfg.ID), "-client", cfg.ClientListen,
			"-peer", cfg.PeerListen, "-primary", primary, "-data", cfg.DataDir},
		Env:   []string{"PRIMARY_STORE_NODE=" + cfg.Name},
		Files: map[string][]byte{"conf/node.txt": []byte(cfg.Name + "\n")},
	}, nil
}

func (primaryStore) NewClient(c systems.ClientConfig) (systems.Client, error) {
	if c.Workload != "register" {
		return nil, fmt.Errorf("no client for %s", c.Workload)
	}
	return kvClient{hc: systems.NewHTTPClient(16)}, nil
}

// kvRequest and kvReply are the store's one route, POST /kv.
type kvRequest struct {
	F     history.Func    `json:"f"`
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value,omitempty"`
}

type kvReply struct {
	Value json.RawMessage `json:"value,omitempty"`
	Error string          `json:"error,omitempty"`
	// NotSent: a follower could not reach the primary at all.
	NotSent bool `json:"not_sent,omitempty"`
}

type kvClient struct{ hc *http.Client }

func (c kvClient) Invoke(ctx context.Context, node systems.Endpoint, op systems.Op) systems.Completion {
	req := kvRequest{F: op.F, Key: op.Key}
	if op.F == history.OpWrite {
		req.Value, _ = json.Marshal(op.Value)
	}
	body, _ := json.Marshal(req)
	var out kvReply
	r, sent, err := systems.CallJSON(ctx, c.hc, http.MethodPost, node, "/kv", body, 1<<20, &out)
	switch {
	case err != nil:
		return systems.CallFailed(op, node, sent, err)
	case out.NotSent || (r.Code != http.StatusOK && op.F == history.OpRead):
		return systems.Failed("%s: %s", node.Name, out.Error)
	case r.Code != http.StatusOK:
		return systems.Unsure(op, node.Name+": "+out.Error)
	}
	v, err := systems.DecodeValue(out.Value)
	if err != nil {
		return systems.Unsure(op, err.Error())
	}
	return systems.Completion{Type: history.OK, Value: v}
}

// runForeignNode is the node program: it serves until killed.
func runForeignNode(args []string) error {
	fs := flag.NewFlagSet("primary", flag.ContinueOnError)
	id := fs.Int("id", 0, "")
	client := fs.String("client", "", "")
	peer := fs.String("peer", "", "")
	primary := fs.String("primary", "", "")
	data := fs.String("data", "", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if b, err := os.ReadFile(filepath.Join(*data, "conf/node.txt")); err != nil || os.Getenv("PRIMARY_STORE_NODE")+"\n" != string(b) {
		return fmt.Errorf("files or environment not handed over: %q, %v", b, err)
	}
	var h http.Handler
	if *id == 1 {
		st, err := openStore(filepath.Join(*data, "kv.log"))
		if err != nil {
			return err
		}
		h = st
		go func() { _ = http.ListenAndServe(*peer, st) }()
	} else {
		h = forwarder{to: "http://" + *primary + "/kv", hc: systems.NewHTTPClient(16)}
	}
	fmt.Fprintln(os.Stderr, "primary store node", *id, "serving on", *client)
	return http.ListenAndServe(*client, h)
}

// kvStore is the primary's state: a log of writes, fsynced, replayed on start.
type kvStore struct {
	mu  sync.Mutex
	kv  map[string]json.RawMessage
	log *os.File
}

func openStore(path string) (*kvStore, error) {
	s := &kvStore{kv: map[string]json.RawMessage{}}
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var r kvRequest
			if json.Unmarshal(sc.Bytes(), &r) == nil { // a torn last line was never acknowledged
				s.kv[r.Key] = r.Value
			}
		}
		f.Close()
	}
	var err error
	s.log, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	return s, err
}

func (s *kvStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req kvRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		reply(w, http.StatusBadRequest, kvReply{Error: err.Error(), NotSent: true})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.F == history.OpRead {
		reply(w, http.StatusOK, kvReply{Value: s.kv[req.Key]})
		return
	}
	line, _ := json.Marshal(req)
	if _, err := s.log.Write(append(line, '\n')); err != nil {
		reply(w, http.StatusInternalServerError, kvReply{Error: err.Error()})
		return
	}
	if err := s.log.Sync(); err != nil {
		reply(w, http.StatusInternalServerError, kvReply{Error: err.Error()})
		return
	}
	s.kv[req.Key] = req.Value
	reply(w, http.StatusOK, kvReply{})
}

// forwarder passes each request to the primary.
type forwarder struct {
	to string
	hc *http.Client
}

func (f forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, f.to, r.Body)
	resp, err := f.hc.Do(req)
	if err != nil {
		var op *net.OpError
		reply(w, http.StatusBadGateway, kvReply{Error: err.Error(), NotSent: errors.As(err, &op) && op.Op == "dial"})
		return
	}
	defer resp.Body.Close()
	var out kvReply
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		reply(w, http.StatusBadGateway, kvReply{Error: err.Error()})
		return
	}
	reply(w, resp.StatusCode, out)
}

func reply(w http.ResponseWriter, code int, r kvReply) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(r)
}
