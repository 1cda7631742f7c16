package quorum

import "encoding/json"

// Peer RPC, HTTP/JSON over the mesh:
//
//	POST /peer/query  queryRequest -> Versioned (zero tag, null value if absent)
//	POST /peer/store  storeRequest -> storeResponse, only once durable
//
// Client API, HTTP/JSON, on the client port:
//
//	POST /read   {"key": K}             -> clientResponse with value
//	POST /write  {"key": K, "value": V} -> clientResponse
//
// A client response has HTTP status 200 when outcome is "ok"; 503 when it
// is "fail" (certainly no effect) or "unknown" (a write that may have been
// applied); 400 for a malformed request (outcome "fail").
const (
	pathQuery = "/peer/query"
	pathStore = "/peer/store"
	pathRead  = "/read"
	pathWrite = "/write"
)

type queryRequest struct {
	Key string `json:"key"`
}

type storeRequest struct {
	Key string `json:"key"`
	Versioned
}

type storeResponse struct {
	// Applied says the store replaced the replica's value; false means it
	// already held this tag or a newer one. Either way it acknowledges.
	Applied bool `json:"applied"`
}

type clientRequest struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value,omitempty"`
}

// Outcomes of a client request.
const (
	outcomeOK      = "ok"
	outcomeFail    = "fail"
	outcomeUnknown = "unknown"
)

type clientResponse struct {
	Outcome string          `json:"outcome"`
	Value   json.RawMessage `json:"value,omitempty"` // reads: the value, null if absent
	Tag     *Tag            `json:"tag,omitempty"`
	Node    string          `json:"node,omitempty"`
	Error   string          `json:"error,omitempty"`
}
