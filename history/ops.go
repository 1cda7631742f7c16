package history

import "fmt"

// Op is a client operation: an invoke and its completion paired up.
type Op struct {
	Process int
	F       Func
	Key     string
	// Invoke and Complete point into the events Pair was given (no copy:
	// a million operations would copy a quarter of a gigabyte).
	Invoke *Event
	// Complete is the ok, fail or info event that ended the operation, or
	// nil when the history ends before it does (the same as info).
	Complete *Event
}

// Outcome is the completion type, treating a missing completion as Info.
func (o Op) Outcome() Type {
	if o.Complete == nil {
		return Info
	}
	return o.Complete.Type
}

// Pair matches each client invoke with the next completion of the same
// process, in history order. Nemesis and observer events are skipped. It fails on a
// completion with no open invoke, or a second invoke on a process whose
// operation is still open: histories where a process does two things at once
// cannot be judged. The ops point into events, which must not change while
// they are in use.
func Pair(events []Event) ([]Op, error) {
	ops := make([]Op, 0, len(events)/2+1)
	open := map[int]int{} // process -> index into ops
	for j := range events {
		e := &events[j]
		if !e.IsClient() {
			continue
		}
		if e.Type == Invoke {
			if i, busy := open[e.Process]; busy {
				return nil, fmt.Errorf("event %d: process %d invokes again while its operation from event %d is still open",
					e.Index, e.Process, ops[i].Invoke.Index)
			}
			open[e.Process] = len(ops)
			ops = append(ops, Op{Process: e.Process, F: e.F, Key: e.Key, Invoke: e})
			continue
		}
		i, ok := open[e.Process]
		if !ok {
			return nil, fmt.Errorf("event %d: %s completion on process %d, which has no open invoke", e.Index, e.Type, e.Process)
		}
		ops[i].Complete = e
		delete(open, e.Process)
	}
	return ops, nil
}
