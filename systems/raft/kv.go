package raft

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// command is what one log entry asks the state machine to do.
type command struct {
	Op       string          `json:"op"` // opWrite or opCAS
	Key      string          `json:"k"`
	Value    json.RawMessage `json:"v"`
	Expected json.RawMessage `json:"e,omitempty"` // cas only
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
// canonical form (see canonical) so cas compares bytes. Only the node loop
// touches it.
type kvStore struct{ m map[string]json.RawMessage }

func newKV() *kvStore { return &kvStore{m: map[string]json.RawMessage{}} }

func (s *kvStore) apply(c *command) result {
	switch c.Op {
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

func (s *kvStore) snapshot() ([]byte, error) {
	b, err := json.Marshal(s.m)
	if err != nil {
		return nil, fmt.Errorf("encode state machine: %w", err)
	}
	return b, nil
}

func (s *kvStore) restore(data []byte) error {
	m := map[string]json.RawMessage{}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("decode snapshot: %w", err)
		}
	}
	s.m = m
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
