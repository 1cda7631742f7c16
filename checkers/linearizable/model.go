package linearizable

import (
	"fmt"
	"sync/atomic"

	"github.com/anishathalye/porcupine"
)

// step is the sequential specification of one register. The state is the
// interned id of its value (absent at first). It is pure.
func step(state int, in *opInput, out *opOutput) (bool, int) {
	switch in.kind {
	case kindRead:
		// Only ok reads reach the model: fail and info reads are dropped.
		return out.value == state, state
	case kindWrite:
		// An ok write and an info write step alike; an info write's only
		// difference is its infinite return, which lets it land anywhere
		// after its invoke, or last, where it affects nothing.
		return true, in.value
	case kindCas:
		switch out.ret {
		case retOK:
			return state == in.expected, in.value
		case retInfo:
			// Nobody saw the result, so any state is allowed; what the
			// cas did follows from the state where it is linearized.
			if state == in.expected {
				return true, in.value
			}
			return true, state
		}
	}
	return false, state
}

// newModel is the per-key register model for porcupine (the caller
// partitions by key). values resolves interned ids for descriptions. While
// stop is set every step fails, so a running porcupine search unwinds in
// about (ops × concurrency) cheap steps; the caller must then discard the
// answer as Unknown. This is how a check honours its context: porcupine's
// own timeout cannot be cancelled from outside. stop may be nil.
func newModel(values []string, stop *atomic.Bool) porcupine.Model {
	describe := func(id int) string {
		if id == absent {
			return "absent"
		}
		return values[id]
	}
	return porcupine.Model{
		Init: func() any { return absent },
		Step: func(state, in, out any) (bool, any) {
			if stop != nil && stop.Load() {
				return false, state
			}
			return step(state.(int), in.(*opInput), out.(*opOutput))
		},
		Equal: func(a, b any) bool { return a.(int) == b.(int) },
		Hash:  func(s any) uint64 { return uint64(s.(int)) * 0x9e3779b97f4a7c15 },
		DescribeOperation: func(in, out any) string {
			i, o := in.(*opInput), out.(*opOutput)
			switch i.kind {
			case kindRead:
				return "read → " + describe(o.value)
			case kindWrite:
				if o.ret == retInfo {
					return "write " + describe(i.value) + " (info)"
				}
				return "write " + describe(i.value)
			default:
				s := "cas " + describe(i.expected) + "→" + describe(i.value)
				if o.ret == retInfo {
					return s + " (info)"
				}
				return s
			}
		},
		DescribeState: func(s any) string { return describe(s.(int)) },
		DescribeOperationMetadata: func(m any) string {
			r, ok := m.(*regOp)
			if !ok {
				return ""
			}
			if r.completeIndex < 0 {
				return fmt.Sprintf("process %d, event %d, never completed", r.process, r.invokeIndex)
			}
			return fmt.Sprintf("process %d, events %d–%d", r.process, r.invokeIndex, r.completeIndex)
		},
	}
}

// operations turns one key's ops into porcupine operations. Inputs, outputs
// and metadata point into kh.ops, so nothing is boxed. Client ids are
// processes renumbered densely from 0, as the visualization wants.
func operations(kh *keyHistory) []porcupine.Operation {
	ops := make([]porcupine.Operation, len(kh.ops))
	clients := map[int]int{}
	for i := range kh.ops {
		r := &kh.ops[i]
		c, ok := clients[r.process]
		if !ok {
			c = len(clients)
			clients[r.process] = c
		}
		ops[i] = porcupine.Operation{
			ClientId: c,
			Input:    &r.in,
			Call:     r.call,
			Output:   &r.out,
			Return:   r.ret,
			Metadata: r,
		}
	}
	return ops
}
