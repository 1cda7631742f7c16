package linearizable

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	"github.com/faultline/faultline/history"
)

// ErrMalformed marks a history that cannot be judged at all: completions that
// do not pair with invokes, or a cas whose value is not [expected, new]. The
// CLI maps it to "bad input" (exit 2).
var ErrMalformed = errors.New("malformed history")

// ErrUnsupported marks a well-formed history holding operations this checker
// has no model for (an f other than read, write, cas). Check reports it as
// Unknown: the history may be fine, this checker just cannot say.
var ErrUnsupported = errors.New("unsupported operations")

// infinity is the Return of an operation that never definitely completed
// (info, or no completion): it stays concurrent with everything after its
// invoke, so it may take effect at any later point or, by being linearized
// last, not at all.
const infinity = math.MaxInt64

// absent is the interned id of "no value": the initial state of every key,
// what a read of a missing key returns (nil), and what a write of nil leaves.
const absent = 0

type opKind uint8

const (
	kindRead opKind = iota
	kindWrite
	kindCas
)

// retKind is how an operation ended, as far as the model cares.
type retKind uint8

const (
	retOK   retKind = iota
	retInfo         // indeterminate: may or may not have taken effect
)

// opInput is a porcupine Operation's Input. Values are interned ids (see
// Prepared.values) so the model compares ints and boxes no strings.
type opInput struct {
	kind     opKind
	value    int // write: value written; cas: new value
	expected int // cas only
}

// opOutput is a porcupine Operation's Output.
type opOutput struct {
	ret   retKind
	value int // read only: the value read
}

// regOp is one client operation on one key, ready for porcupine.
type regOp struct {
	in  opInput
	out opOutput
	// call and ret are positions in the events slice, not Event.Time: the
	// recorder appends events in real-time order, so positions order them
	// exactly, never tie, and also work for foreign histories without
	// times or with duplicate indexes.
	call, ret int64
	process   int
	// invokeIndex and completeIndex are Event.Index values, for humans;
	// completeIndex is -1 when the history ends before the op does.
	invokeIndex, completeIndex int
}

type keyHistory struct {
	key                 string
	ops                 []regOp
	infoWrites, infoCas int
}

// Prepared is a history turned into per-key register operations: paired,
// validated, values canonicalised. Build one with Prepare; judge it with
// Checker.CheckPrepared.
type Prepared struct {
	keys []keyHistory
	// values maps interned ids back to canonical JSON (history.ValueKey);
	// values[absent] is unused.
	values  []string
	ops     int // operations kept for checking
	dropped int // fail reads and writes, info reads: they constrain nothing
}

// Keys is the number of keys holding at least one operation to check.
func (p *Prepared) Keys() int { return len(p.keys) }

// Ops is the number of operations kept for checking.
func (p *Prepared) Ops() int { return p.ops }

// Prepare pairs a history's events into register operations grouped by key.
// Nemesis events are ignored. Which operations are kept, and how:
//
//   - read ok: the value read (nil means absent) must equal the state.
//   - read fail, read info: dropped. A failed read did not happen; a read
//     with no answer observed nothing.
//   - write ok: sets the state.
//   - write fail: dropped, it did not happen.
//   - write info (or no completion): kept with an infinite return, so it may
//     take effect at any point after its invoke, or never.
//   - cas ok: the state must equal expected, and becomes new.
//   - cas fail: dropped, it did not take effect. A fail may mean "expected
//     did not match" or "never sent" (a refused connection, no leader);
//     reading every fail as a mismatch observation would turn the second
//     kind into false anomalies. Jepsen's Knossos drops failed ops too.
//   - cas info (or no completion): infinite return; at its linearization
//     point it behaves as a real cas would (state == expected → new, else
//     unchanged), and it never constrains the state, since nobody saw its
//     result.
//
// Values are compared by history.ValueKey, so 3 and json.Number("3") are
// equal; nil is absent.
//
// Errors wrap ErrMalformed (unpairable events, a cas value that is not a
// two-element array) or ErrUnsupported (an f other than read, write, cas).
func Prepare(events []history.Event) (*Prepared, error) {
	ops, err := history.Pair(events)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	invokePos, completePos := positions(events, len(ops))

	p := &Prepared{values: []string{absent: ""}}
	interned := map[string]int{}
	intern := func(v any) int {
		if v == nil {
			return absent
		}
		k := history.ValueKey(v)
		id, ok := interned[k]
		if !ok {
			id = len(p.values)
			interned[k] = id
			p.values = append(p.values, k)
		}
		return id
	}
	byKey := map[string]int{}
	unsupported := map[string]int{}

	for i, op := range ops {
		outcome := op.Outcome()
		r := regOp{
			call:          int64(invokePos[i]),
			ret:           int64(completePos[i]),
			process:       op.Process,
			invokeIndex:   op.Invoke.Index,
			completeIndex: -1,
		}
		if op.Complete != nil {
			r.completeIndex = op.Complete.Index
		}
		if outcome == history.Info {
			r.ret = infinity
			r.out.ret = retInfo
		}
		var infoWrite, infoCas bool
		switch op.F {
		case history.OpRead:
			if outcome != history.OK {
				p.dropped++
				continue
			}
			r.in.kind = kindRead
			r.out.value = intern(op.Complete.Value)
		case history.OpWrite:
			if outcome == history.Fail {
				p.dropped++
				continue
			}
			r.in.kind = kindWrite
			r.in.value = intern(op.Invoke.Value)
			infoWrite = outcome == history.Info
		case history.OpCAS:
			expected, next, ok := casArgs(op.Invoke.Value)
			if !ok {
				return nil, fmt.Errorf("%w: event %d: cas value %s is not [expected, new]",
					ErrMalformed, op.Invoke.Index, history.ValueKey(op.Invoke.Value))
			}
			if outcome == history.Fail {
				p.dropped++
				continue
			}
			r.in.kind = kindCas
			r.in.expected = intern(expected)
			r.in.value = intern(next)
			infoCas = outcome == history.Info
		default:
			unsupported[string(op.F)]++
			continue
		}
		k, ok := byKey[op.Key]
		if !ok {
			k = len(p.keys)
			byKey[op.Key] = k
			p.keys = append(p.keys, keyHistory{key: op.Key})
		}
		kh := &p.keys[k]
		kh.ops = append(kh.ops, r)
		if infoWrite {
			kh.infoWrites++
		}
		if infoCas {
			kh.infoCas++
		}
		p.ops++
	}
	if len(unsupported) > 0 {
		return nil, unsupportedError(unsupported)
	}
	sort.Slice(p.keys, func(i, j int) bool { return p.keys[i].key < p.keys[j].key })
	return p, nil
}

// positions finds, for each op history.Pair returned, the slice positions of
// its invoke and completion (-1 when none). It replays Pair's rule (each
// client invoke takes the next completion of its process; ops in invoke
// order), which Pair has already validated.
func positions(events []history.Event, n int) (invoke, complete []int) {
	invoke = make([]int, n)
	complete = make([]int, n)
	open := map[int]int{}
	next := 0
	for i, e := range events {
		if !e.IsClient() {
			continue
		}
		if e.Type == history.Invoke {
			invoke[next] = i
			complete[next] = -1
			open[e.Process] = next
			next++
			continue
		}
		complete[open[e.Process]] = i
		delete(open, e.Process)
	}
	return invoke, complete
}

// casArgs splits a cas value: []any from decoded JSON, or any two-element
// Go slice or array ([]int{3, 4}) from a hand-built history.
func casArgs(v any) (expected, next any, ok bool) {
	if a, isAny := v.([]any); isAny {
		if len(a) != 2 {
			return nil, nil, false
		}
		return a[0], a[1], true
	}
	rv := reflect.ValueOf(v)
	if (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) || rv.Len() != 2 {
		return nil, nil, false
	}
	return rv.Index(0).Interface(), rv.Index(1).Interface(), true
}

func unsupportedError(counts map[string]int) error {
	names := make([]string, 0, len(counts))
	for f := range counts {
		names = append(names, f)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, f := range names {
		parts[i] = fmt.Sprintf("%q (%d ops)", f, counts[f])
	}
	return fmt.Errorf("%w: %s; the linearizable register checker knows only read, write and cas",
		ErrUnsupported, strings.Join(parts, ", "))
}
