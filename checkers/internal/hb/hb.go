// Package hb builds histories for checker tests: each call appends events
// at a given time (milliseconds), numbering them in order.
package hb

import (
	"time"

	"github.com/faultline/faultline/history"
)

// B is a history under construction.
type B struct{ Events []history.Event }

func (b *B) add(e history.Event) {
	e.Index = len(b.Events)
	b.Events = append(b.Events, e)
}

func at(ms int) int64 { return int64(time.Duration(ms) * time.Millisecond) }

// Op appends an operation of process p on node from invoke ms to done ms
// that ended typ; a read's result goes in out.
func (b *B) Op(p int, node string, f history.Func, key string, value any, inv, done int, typ history.Type, out any) {
	b.add(history.Event{Time: at(inv), Process: p, Type: history.Invoke, F: f, Key: key, Value: value, Node: node})
	v := value
	if f == history.OpRead {
		v = out
	}
	b.add(history.Event{Time: at(done), Process: p, Type: typ, F: f, Key: key, Value: v, Node: node})
}

// Nemesis appends a nemesis completion (and its invoke 1ms before).
func (b *B) Nemesis(f history.Func, ms int, nodes string, value any) {
	b.add(history.Event{Time: at(ms - 1), Process: history.NemesisProcess, Type: history.Invoke, F: f})
	b.add(history.Event{Time: at(ms), Process: history.NemesisProcess, Type: history.Info, F: f, Node: nodes, Value: value})
}

// View appends an observer membership event: viewer's view at ms.
func (b *B) View(viewer string, ms int, view map[string]string) {
	b.add(history.Event{Time: at(ms), Process: history.ObserverProcess, Type: history.Info, F: history.Membership, Node: viewer, Value: view})
}

// OpOut is Op for an operation whose completion carries a value of its
// own (an acquire's token): out is the completion's value.
func (b *B) OpOut(p int, node string, f history.Func, key string, value any, inv, done int, typ history.Type, out any) {
	b.add(history.Event{Time: at(inv), Process: p, Type: history.Invoke, F: f, Key: key, Value: value, Node: node})
	b.add(history.Event{Time: at(done), Process: p, Type: typ, F: f, Key: key, Value: out, Node: node})
}
