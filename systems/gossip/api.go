package gossip

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/faultline/faultline/systems/gossip/crdt"
)

// The client API (HTTP/JSON):
//
//	POST /counter/{key}/add  {"delta": N}     add N (either sign)
//	GET  /counter/{key}                       {"value": N}
//	POST /set/{key}/add      {"element": V}   add V (any JSON value)
//	POST /set/{key}/remove   {"element": V}   remove V as far as this node has seen it
//	GET  /set/{key}                           {"value": [V, ...]}
//	PUT  /register/{key}     {"value": V}     last-writer-wins write
//	GET  /register/{key}                      {"value": V or null}
//
// An update is acknowledged (200) only once its delta is fsynced to the
// node's delta log. 400 means the request was refused and did nothing;
// 503 means the update was applied in memory but is not known to be
// durable: its outcome is unknown.
type clientRequest struct {
	Delta   *int64          `json:"delta,omitempty"`
	Element json.RawMessage `json:"element,omitempty"`
	Value   json.RawMessage `json:"value,omitempty"`
}

type clientResponse struct {
	Value json.RawMessage `json:"value,omitempty"`
	Error string          `json:"error,omitempty"`
}

func (n *node) clientHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /counter/{key}/add", n.counterAdd)
	mux.HandleFunc("GET /counter/{key}", n.counterRead)
	mux.HandleFunc("POST /set/{key}/{op}", n.setUpdate)
	mux.HandleFunc("GET /set/{key}", n.setRead)
	mux.HandleFunc("PUT /register/{key}", n.registerWrite)
	mux.HandleFunc("GET /register/{key}", n.registerRead)
	return mux
}

func (n *node) counterAdd(w http.ResponseWriter, r *http.Request) {
	var req clientRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Delta == nil {
		writeJSON(w, http.StatusBadRequest, clientResponse{Error: `counter add needs {"delta": N}`})
		return
	}
	n.update(w, r.PathValue("key"), n.replica.counterAdd(*req.Delta))
}

func (n *node) counterRead(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, clientResponse{Value: n.readValue("counter", r.PathValue("key"))})
}

// readValue is key's value as the client API answers it.
func (n *node) readValue(kind, key string) json.RawMessage {
	n.mu.Lock()
	defer n.mu.Unlock()
	return json.RawMessage(n.read(kind, key))
}

func (n *node) setUpdate(w http.ResponseWriter, r *http.Request) {
	var req clientRequest
	if !decode(w, r, &req) {
		return
	}
	elem, err := canonical(req.Element)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, clientResponse{Error: `set add/remove needs {"element": V}: ` + err.Error()})
		return
	}
	switch op := r.PathValue("op"); op {
	case "add":
		n.update(w, r.PathValue("key"), n.setAdd(elem))
	case "remove":
		n.update(w, r.PathValue("key"), n.setRemove(elem))
	default:
		writeJSON(w, http.StatusNotFound, clientResponse{Error: fmt.Sprintf("no set operation %q (add, remove)", op)})
	}
}

func (n *node) setRead(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, clientResponse{Value: n.readValue("set", r.PathValue("key"))})
}

func (n *node) registerWrite(w http.ResponseWriter, r *http.Request) {
	var req clientRequest
	if !decode(w, r, &req) {
		return
	}
	v, err := canonical(req.Value)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, clientResponse{Error: `register write needs {"value": V}: ` + err.Error()})
		return
	}
	n.update(w, r.PathValue("key"), n.replica.registerWrite(v, n.cfg.Clock.Now().UnixNano()))
}

func (n *node) registerRead(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, clientResponse{Value: n.readValue("register", r.PathValue("key"))})
}

// update applies a local update: mk computes the delta from the key's
// current state (under mu, so deltas of one key are computed one at a
// time), the delta is merged in and queued for gossip at once, and the
// client is answered once the delta is durable. Gossiping before the fsync
// is safe: a crash in between leaves the update's outcome unknown to the
// client, which is what 503 and a lost connection both say, and counter
// entries and set tags are named by incarnation, so a restarted node never
// reissues a name an undurable update used.
func (n *node) update(w http.ResponseWriter, key string, mk func(cur crdt.Object) crdt.Object) {
	n.mu.Lock()
	d := n.replica.update(key, mk)
	n.mu.Unlock()
	if err := n.dlog.append(loggedDelta{Key: key, Obj: d}); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, clientResponse{Error: "update applied but not durable, outcome unknown: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, clientResponse{})
}

// canonical returns v as compact JSON text, so equal values compare equal
// as strings.
func canonical(v json.RawMessage) (string, error) {
	if len(bytes.TrimSpace(v)) == 0 {
		return "", fmt.Errorf("missing")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		return "", err
	}
	if buf.String() == "null" {
		return "", fmt.Errorf("null is not a value")
	}
	return buf.String(), nil
}
