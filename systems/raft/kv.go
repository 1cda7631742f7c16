package raft

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// command is what one log entry asks the state machine to do.
type command struct {
	Op       string          `json:"op"` // opWrite, opCAS or a lock command (lock.go)
	Key      string          `json:"k"`
	Value    json.RawMessage `json:"v"`
	Expected json.RawMessage `json:"e,omitempty"` // cas only
	// Lock commands: the owner, its token, the lease length, and (acquire)
	// the stamp the leader judged expired.
	Owner   string `json:"o,omitempty"`
	Token   uint64 `json:"t,omitempty"`
	TTLms   int64  `json:"ttl,omitempty"`
	Expired uint64 `json:"x,omitempty"`
}

const (
	opWrite = "w"
	opCAS   = "cas"
)

// outcome is how the node answers one client operation.
type outcome string

const (
	outcomeOK = outcome("ok")
	// outcomeFail: the operation certainly had no effect.
	outcomeFail = outcome("fail")
	// outcomeInfo: the operation may or may not have taken effect.
	outcomeInfo = outcome("info")
	// outcomeRedirect: not the leader, nothing proposed; Leader names the
	// leader when known.
	outcomeRedirect = outcome("redirect")
)

// result is the node's answer, also the client API's response body.
type result struct {
	Outcome outcome         `json:"outcome"`
	Value   json.RawMessage `json:"value,omitempty"`
	Error   string          `json:"error,omitempty"`
	Leader  string          `json:"leader,omitempty"`
	Node    string          `json:"node,omitempty"`
}

const errCASMismatch = "cas mismatch"

// kvStore is the replicated state machine: key -> JSON value, values in
// canonical form (see canonical) so cas compares bytes, and the lock
// service's locks and fenced resources. Only the node loop touches it.
type kvStore struct {
	m     map[string]json.RawMessage
	locks *lockState
}

func newKV() *kvStore { return &kvStore{m: map[string]json.RawMessage{}, locks: newLockState()} }

// apply runs c, the log's entry at index.
func (s *kvStore) apply(c *command, index uint64) result {
	switch c.Op {
	case opAcquire, opRenew, opRelease, opFencedWrite:
		return s.locks.apply(c, index)
	case opWrite:
		s.m[c.Key] = c.Value
		return result{Outcome: outcomeOK}
	case opCAS:
		cur, ok := s.m[c.Key]
		if !ok {
			cur = json.RawMessage("null") // an absent key reads as null
		}
		if !bytes.Equal(cur, c.Expected) {
			return result{Outcome: outcomeFail, Error: errCASMismatch}
		}
		s.m[c.Key] = c.Value
		return result{Outcome: outcomeOK}
	}
	// An entry we cannot read is applied as a no-op on every node alike.
	return result{Outcome: outcomeFail, Error: fmt.Sprintf("unknown command %q", c.Op)}
}

func (s *kvStore) get(key string) json.RawMessage { return s.m[key] }

// snapshotData is a snapshot's contents.
type snapshotData struct {
	KV    map[string]json.RawMessage `json:"kv"`
	Locks *lockState                 `json:"locks"`
}

func (s *kvStore) snapshot() ([]byte, error) {
	b, err := json.Marshal(snapshotData{KV: s.m, Locks: s.locks})
	if err != nil {
		return nil, fmt.Errorf("encode state machine: %w", err)
	}
	return b, nil
}

func (s *kvStore) restore(data []byte) error {
	locks := newLockState()
	locks.noFencing, locks.releaseAny = s.locks.noFencing, s.locks.releaseAny
	d := snapshotData{KV: map[string]json.RawMessage{}, Locks: locks}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &d); err != nil {
			return fmt.Errorf("decode snapshot: %w", err)
		}
	}
	s.m, s.locks = d.KV, d.Locks
	return nil
}

// canonical re-encodes a JSON value so equal values have equal bytes
// (object keys sorted, no spaces, numbers kept exactly as written).
func canonical(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return json.RawMessage("null"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("bad JSON value: %w", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("re-encode value: %w", err)
	}
	return b, nil
}
