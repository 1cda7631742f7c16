// Package histgen generates valid register histories for tests and
// benchmarks: clients driving a real (hence linearizable) store.
package histgen

import (
	"fmt"
	"math/rand/v2"

	"github.com/faultline/faultline/history"
)

// Registers records a history of clients driving a real (hence linearizable)
// register store: each op is invoked, takes effect at a later random step and
// completes at a later one still, so ops on a key overlap. A few ops time out
// as info, before or after taking effect; like Jepsen, the client then comes
// back as a new process. Key choice follows a window of hot keys sliding over
// the key space (most traffic) plus uniform picks, so every key gets
// concurrent traffic at some point, as with Jepsen's independent keys.
func Registers(seed uint64, ops, keys, clients int) []history.Event {
	rng := rand.New(rand.NewPCG(seed, 1))
	const hot = 8
	type pending struct {
		process int
		f       history.Func
		key     string
		in      any
		applied bool
		out     any
		outcome history.Type
	}
	store := map[string]int{}
	var events []history.Event
	record := func(p int, t history.Type, f history.Func, key string, v any) {
		events = append(events, history.Event{
			Index: len(events), Time: int64(len(events)) * 1000, Process: p, Type: t, F: f, Key: key, Value: v,
		})
	}
	slots := make([]*pending, clients)
	processes := make([]int, clients)
	for c := range processes {
		processes[c] = c
	}
	issued, completed := 0, 0
	for completed < ops {
		c := rng.IntN(clients)
		op := slots[c]
		switch {
		case op == nil:
			if issued == ops {
				continue
			}
			key := rng.IntN(keys)
			if rng.IntN(10) < 8 {
				key = (issued/(ops/keys*hot/2)*hot + rng.IntN(hot)) % keys
			}
			op = &pending{process: processes[c], key: fmt.Sprintf("k%d", key)}
			switch r := rng.IntN(10); {
			case r < 5:
				op.f = "read"
			case r < 8:
				op.f, op.in = "write", rng.IntN(5)
			default:
				op.f, op.in = "cas", []any{rng.IntN(5), rng.IntN(5)}
			}
			record(op.process, history.Invoke, op.f, op.key, op.in)
			slots[c] = op
			issued++
		case !op.applied && rng.IntN(200) == 0:
			// Times out before taking effect.
			op.applied, op.outcome = true, history.Info
		case !op.applied:
			op.applied, op.outcome, op.out = true, history.OK, op.in
			v, present := store[op.key]
			switch op.f {
			case "read":
				op.out = nil
				if present {
					op.out = v
				}
			case "write":
				store[op.key] = op.in.(int)
			case "cas":
				ev := op.in.([]any)
				if present && v == ev[0].(int) {
					store[op.key] = ev[1].(int)
				} else {
					op.outcome = history.Fail
				}
			}
			if rng.IntN(200) == 0 {
				// Took effect, but the answer was lost.
				op.outcome, op.out = history.Info, nil
			}
		default:
			record(op.process, op.outcome, op.f, op.key, op.out)
			if op.outcome == history.Info {
				processes[c] += clients
			}
			slots[c] = nil
			completed++
		}
	}
	return events
}
