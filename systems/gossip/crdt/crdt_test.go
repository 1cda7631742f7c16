package crdt

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"testing/quick"
)

// Small alphabets make generated states overlap, which is where merge
// could go wrong.
var (
	nodes = []string{"n1", "n2", "n3"}
	elems = []string{"1", "2", "3", "4"}
)

func pick(r *rand.Rand, xs []string) string { return xs[r.Intn(len(xs))] }

func genGCounter(r *rand.Rand) GCounter {
	g := GCounter{}
	for range r.Intn(4) {
		if g.Counts == nil {
			g.Counts = map[string]uint64{}
		}
		g.Counts[pick(r, nodes)] = uint64(r.Intn(10))
	}
	return g
}

func genORSet(r *rand.Rand) ORSet {
	s := ORSet{}
	for range r.Intn(6) {
		tag := fmt.Sprintf("%s.%d", pick(r, nodes), r.Intn(4))
		s = s.Merge(s.Add(pick(r, elems), tag))
		if r.Intn(3) == 0 {
			s = s.Merge(s.Remove(pick(r, elems)))
		}
	}
	return s
}

func genLWW(r *rand.Rand) LWWRegister {
	return LWWRegister{Value: pick(r, elems), TS: Timestamp{Wall: int64(r.Intn(3)), Logical: uint32(r.Intn(2)), Node: pick(r, nodes)}}
}

func genObject(r *rand.Rand) Object {
	var o Object
	if r.Intn(2) == 0 {
		c := PNCounter{P: genGCounter(r), N: genGCounter(r)}
		o.Counter = &c
	}
	if r.Intn(2) == 0 {
		s := genORSet(r)
		o.Set = &s
	}
	if r.Intn(2) == 0 {
		g := GSet{}
		for range r.Intn(4) {
			g = g.Merge(g.Add(pick(r, elems)))
		}
		o.GSet = &g
	}
	if r.Intn(2) == 0 {
		l := genLWW(r)
		o.Register = &l
	}
	return o
}

// lattice checks the three laws of a join on values made by gen.
func lattice[T any](t *testing.T, gen func(*rand.Rand) T, merge func(T, T) T, equal func(T, T) bool) {
	t.Helper()
	cfg := &quick.Config{MaxCount: 2000, Values: func(args []reflect.Value, r *rand.Rand) {
		for i := range args {
			args[i] = reflect.ValueOf(gen(r))
		}
	}}
	laws := map[string]any{
		"commutative": func(a, b T) bool { return equal(merge(a, b), merge(b, a)) },
		"associative": func(a, b, c T) bool { return equal(merge(merge(a, b), c), merge(a, merge(b, c))) },
		"idempotent":  func(a T) bool { return equal(merge(a, a), a) },
		// Merge is pure: inputs come out unchanged.
		"pure": func(a, b T) bool {
			a0, b0 := merge(a, a), merge(b, b)
			_ = merge(a, b)
			return equal(a, a0) && equal(b, b0)
		},
	}
	for name, f := range laws {
		if err := quick.Check(f, cfg); err != nil {
			t.Errorf("merge is not %s: %v", name, err)
		}
	}
}

func TestGCounterMergeIsAJoin(t *testing.T) {
	lattice(t, genGCounter, GCounter.Merge, GCounter.Equal)
}

func TestPNCounterMergeIsAJoin(t *testing.T) {
	lattice(t, func(r *rand.Rand) PNCounter { return PNCounter{P: genGCounter(r), N: genGCounter(r)} },
		PNCounter.Merge, PNCounter.Equal)
}

func TestGSetMergeIsAJoin(t *testing.T) {
	gen := func(r *rand.Rand) GSet {
		g := GSet{}
		for range r.Intn(5) {
			g = g.Merge(g.Add(pick(r, elems)))
		}
		return g
	}
	lattice(t, gen, GSet.Merge, GSet.Equal)
}

func TestORSetMergeIsAJoin(t *testing.T) {
	lattice(t, genORSet, ORSet.Merge, ORSet.Equal)
}

func TestLWWRegisterMergeIsAJoin(t *testing.T) {
	lattice(t, genLWW, LWWRegister.Merge, func(a, b LWWRegister) bool { return a == b })
}

func TestObjectMergeIsAJoin(t *testing.T) {
	lattice(t, genObject, Object.Merge, Object.Equal)
}

func TestPNCounterCountsEveryReplicasDeltas(t *testing.T) {
	var a, b PNCounter
	d1 := a.Add("n1", 5)
	a = a.Merge(d1)
	a = a.Merge(a.Add("n1", -2))
	b = b.Merge(b.Add("n2", 7))
	b = b.Merge(b.Add("n2", -10))
	m := a.Merge(b)
	if got := m.Value(); got != 0 {
		t.Fatalf("5-2+7-10 = %d, want 0", got)
	}
	// Re-delivering an old delta changes nothing.
	if got := m.Merge(d1).Value(); got != 0 {
		t.Fatalf("after a duplicate delta the value is %d, want 0", got)
	}
}

func TestORSetAddWinsOverConcurrentRemove(t *testing.T) {
	var a ORSet
	a = a.Merge(a.Add("x", "n1.1"))
	b := a                          // replica b has observed the first add
	a = a.Merge(a.Add("x", "n1.2")) // concurrent re-add on a
	b = b.Merge(b.Remove("x"))      // remove on b sees only n1.1
	for _, m := range []ORSet{a.Merge(b), b.Merge(a)} {
		if !m.Contains("x") {
			t.Fatalf("concurrent add lost to remove: %+v", m)
		}
	}
	c := a.Merge(b)
	c = c.Merge(c.Remove("x"))
	if c.Contains("x") || len(c.Elements()) != 0 {
		t.Fatalf("remove after observing every add left %v", c.Elements())
	}
}

func TestHLCStaysAheadOfWhatItSaw(t *testing.T) {
	h := HLC{Node: "n1"}
	t1 := h.Now(100)
	t2 := h.Now(90) // physical clock stepped back
	if t2.Compare(t1) <= 0 {
		t.Fatalf("HLC went backwards: %v then %v", t1, t2)
	}
	remote := Timestamp{Wall: 500, Logical: 3, Node: "n2"}
	h.Observe(remote)
	t3 := h.Now(120) // our clock is behind the remote one
	if t3.Compare(remote) <= 0 {
		t.Fatalf("timestamp %v after observing %v is not later", t3, remote)
	}
	var r LWWRegister
	r = r.Merge(r.Set("old", remote))
	r = r.Merge(r.Set("new", t3))
	if r.Value != "new" {
		t.Fatalf("a write causally after another lost: value %q", r.Value)
	}
}
