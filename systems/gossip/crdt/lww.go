package crdt

import "cmp"

// Timestamp orders the writes of an LWW register: by Wall, then Logical,
// then Node, so two different writes never tie.
type Timestamp struct {
	Wall    int64  `json:"w"` // nanoseconds since the Unix epoch
	Logical uint32 `json:"l,omitempty"`
	Node    string `json:"n,omitempty"`
}

// Compare returns -1, 0 or +1 as t is older than, equal to or newer than o.
func (t Timestamp) Compare(o Timestamp) int {
	if c := cmp.Compare(t.Wall, o.Wall); c != 0 {
		return c
	}
	if c := cmp.Compare(t.Logical, o.Logical); c != 0 {
		return c
	}
	return cmp.Compare(t.Node, o.Node)
}

// HLC is a hybrid logical clock (Kulkarni et al., 2014): timestamps close
// to physical time that never go backwards on a node and always exceed
// every timestamp the node has seen, so a write that causally follows
// another is stamped later even when the writer's physical clock is behind.
// Physical time is an argument: HLC reads no clock. Not safe for
// concurrent use; the node serializes calls.
type HLC struct {
	Node string
	last Timestamp
}

// Now returns a timestamp for a local event at physical time phys.
func (h *HLC) Now(phys int64) Timestamp {
	if phys > h.last.Wall {
		h.last = Timestamp{Wall: phys, Node: h.Node}
	} else {
		h.last = Timestamp{Wall: h.last.Wall, Logical: h.last.Logical + 1, Node: h.Node}
	}
	return h.last
}

// Observe folds in a timestamp received from elsewhere (or recovered from
// disk), so later local timestamps exceed it.
func (h *HLC) Observe(ts Timestamp) {
	if ts.Wall > h.last.Wall || (ts.Wall == h.last.Wall && ts.Logical > h.last.Logical) {
		h.last = Timestamp{Wall: ts.Wall, Logical: ts.Logical, Node: h.Node}
	}
}

// Last returns the latest timestamp issued or observed.
func (h *HLC) Last() Timestamp { return h.last }

// LWWRegister holds the value of the write with the greatest timestamp.
// Value is canonical JSON text; empty means never written.
type LWWRegister struct {
	Value string    `json:"v,omitempty"`
	TS    Timestamp `json:"t"`
}

// Set returns the delta that writes v at ts.
func (r LWWRegister) Set(v string, ts Timestamp) LWWRegister { return LWWRegister{Value: v, TS: ts} }

// Merge returns the write with the greater timestamp; on an exact tie (which
// distinct writes never produce) the greater value, so merge stays
// commutative on any input.
func (r LWWRegister) Merge(o LWWRegister) LWWRegister {
	switch c := r.TS.Compare(o.TS); {
	case c > 0:
		return r
	case c < 0:
		return o
	case r.Value >= o.Value:
		return r
	default:
		return o
	}
}
