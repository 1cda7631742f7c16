package quorum

import (
	"errors"
	"slices"
	"sync"
	"testing"
)

// memReplica is a replica in memory, applying the same rule as the node.
type memReplica struct{ data map[string]Versioned }

func (m *memReplica) query(key string) Versioned { return m.data[key] }

func (m *memReplica) store(key string, v Versioned) {
	if Supersedes(v.Tag, m.data[key].Tag) {
		m.data[key] = v
	}
}

type cluster map[int]*memReplica

func newCluster(n int) cluster {
	c := cluster{}
	for id := 1; id <= n; id++ {
		c[id] = &memReplica{data: map[string]Versioned{}}
	}
	return c
}

func (c cluster) ids() []int {
	var ids []int
	for id := range c {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// run drives r to its end: replicas in reach answer (in that order), all
// others fail, in both phases.
func (c cluster) run(t *testing.T, r *Round, reach ...int) Result {
	t.Helper()
	errDown := errors.New("unreachable")
	var store *StoreRequest
	for _, id := range reach {
		if s := r.QueryReply(id, c[id].query(r.Key())); s != nil {
			store = s
		}
	}
	for _, id := range c.ids() {
		if !slices.Contains(reach, id) {
			r.QueryFailed(id, errDown)
		}
	}
	if store != nil {
		for _, id := range reach {
			if slices.Contains(store.To, id) {
				c[id].store(r.Key(), store.Versioned)
				r.StoreAck(id)
			}
		}
		for _, id := range store.To {
			if !slices.Contains(reach, id) {
				r.StoreFailed(id, errDown)
			}
		}
	}
	res, done := r.Done()
	if !done {
		t.Fatalf("round of %q not done after every replica answered or failed (phase %s)", r.Key(), r.Phase())
	}
	return res
}

func cfgFor(c cluster) RoundConfig { return RoundConfig{Replicas: c.ids()} }

func v(counter, writer uint64, value string) Versioned {
	return Versioned{Tag: Tag{counter, writer}, Value: []byte(value)}
}

func TestQuorum(t *testing.T) {
	for n, want := range map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 7: 4} {
		if got := Quorum(n); got != want {
			t.Errorf("Quorum(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestTagOrder(t *testing.T) {
	tests := []struct {
		a, b       Tag
		less, supr bool // a.Less(b), Supersedes(b, a)
	}{
		{Tag{}, Tag{1, 1}, true, true},
		{Tag{1, 1}, Tag{1, 2}, true, true},
		{Tag{1, 2}, Tag{1, 1}, false, false},
		{Tag{1, 9}, Tag{2, 1}, true, true},
		{Tag{2, 1}, Tag{2, 1}, false, false},
		{Tag{3, 0}, Tag{2, 9}, false, false},
	}
	for _, tt := range tests {
		if got := tt.a.Less(tt.b); got != tt.less {
			t.Errorf("%v.Less(%v) = %v, want %v", tt.a, tt.b, got, tt.less)
		}
		if got := Supersedes(tt.b, tt.a); got != tt.supr {
			t.Errorf("Supersedes(%v, %v) = %v, want %v", tt.b, tt.a, got, tt.supr)
		}
	}
}

func TestIssuerTagsAreUniqueAndNewer(t *testing.T) {
	w1 := WriterID(2, 1)
	if w1 == WriterID(2, 2) || w1 == WriterID(3, 1) {
		t.Fatal("writer ids of different nodes or incarnations collide")
	}
	is := NewIssuer(w1)
	seen := Tag{Counter: 7, Writer: WriterID(1, 1)}
	// Concurrent writes of one key that saw the same newest tag.
	tags := make(chan Tag, 100)
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() { defer wg.Done(); tags <- is.Next("k", seen) }()
	}
	wg.Wait()
	close(tags)
	uniq := map[Tag]bool{}
	for tag := range tags {
		if !seen.Less(tag) || tag.Writer != w1 {
			t.Errorf("issued %v: want newer than %v, writer %d", tag, seen, w1)
		}
		uniq[tag] = true
	}
	if len(uniq) != 100 {
		t.Errorf("100 concurrent writes got %d distinct tags", len(uniq))
	}
	if got := is.Next("other", Tag{}); got.Counter != 1 {
		t.Errorf("first tag of a fresh key = %v, want counter 1", got)
	}
}

func TestWriteRound(t *testing.T) {
	tests := []struct {
		name         string
		n            int
		before       map[int]Versioned // state of key "k" before
		reach        []int
		wantErr      bool
		maybeApplied bool
		wantCounter  uint64
	}{
		{name: "all reachable", n: 3, reach: []int{1, 2, 3}, wantCounter: 1},
		{name: "majority reachable", n: 3, reach: []int{3, 1}, wantCounter: 1},
		{name: "tag above the majority's newest", n: 3,
			before: map[int]Versioned{1: v(4, 9, "a"), 2: v(6, 1, "b")},
			reach:  []int{1, 2}, wantCounter: 7},
		{name: "newest tag outside the majority is not seen", n: 3,
			before: map[int]Versioned{3: v(9, 1, "c")},
			reach:  []int{1, 2}, wantCounter: 1},
		{name: "minority reachable", n: 3, reach: []int{1}, wantErr: true},
		{name: "two of five", n: 5, reach: []int{4, 5}, wantErr: true},
		{name: "three of five", n: 5, reach: []int{1, 4, 5}, wantCounter: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(tt.n)
			for id, val := range tt.before {
				c[id].data["k"] = val
			}
			is := NewIssuer(WriterID(1, 1))
			res := c.run(t, NewWrite(cfgFor(c), is, "k", []byte("42")), tt.reach...)
			if (res.Err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", res.Err, tt.wantErr)
			}
			if tt.wantErr {
				if !errors.Is(res.Err, ErrNoQuorum) || res.MaybeApplied {
					t.Errorf("query-phase failure: err %v, MaybeApplied %v; want ErrNoQuorum, certainly not applied", res.Err, res.MaybeApplied)
				}
				for id, r := range c {
					if got := r.query("k"); got.Tag != tt.before[id].Tag {
						t.Errorf("a write that failed its query phase changed n%d to %v", id, got.Tag)
					}
				}
				return
			}
			if res.Tag.Counter != tt.wantCounter || string(res.Value) != "42" {
				t.Errorf("result = %v %s, want counter %d value 42", res.Tag, res.Value, tt.wantCounter)
			}
			for _, id := range tt.reach {
				if got := c[id].query("k"); got.Tag != res.Tag {
					t.Errorf("n%d holds %v after the write, want %v", id, got.Tag, res.Tag)
				}
			}
		})
	}
}

func TestWriteStorePhaseFailureIsIndeterminate(t *testing.T) {
	c := newCluster(3)
	r := NewWrite(cfgFor(c), NewIssuer(WriterID(1, 1)), "k", []byte("1"))
	r.QueryReply(1, Versioned{})
	store := r.QueryReply(2, Versioned{})
	if store == nil || !slices.Equal(store.To, []int{1, 2, 3}) {
		t.Fatalf("store request = %+v, want one to all 3 replicas", store)
	}
	r.QueryReply(3, Versioned{}) // late: ignored
	r.StoreAck(3)
	r.StoreFailed(1, errors.New("timeout"))
	if _, done := r.Done(); done {
		t.Fatal("done with 1 ack and 1 outstanding")
	}
	r.StoreFailed(2, errors.New("timeout"))
	res, done := r.Done()
	if !done || res.Err == nil || !res.MaybeApplied {
		t.Fatalf("result = %+v (done %v), want failure with MaybeApplied", res, done)
	}
	r.StoreAck(1) // after the end: ignored
	if res2, _ := r.Done(); res2.Err == nil {
		t.Error("an ack after the round failed revived it")
	}
}

func TestDuplicateAndUnknownRepliesDoNotCount(t *testing.T) {
	c := newCluster(3)
	r := NewRead(cfgFor(c), "k")
	r.QueryReply(1, v(1, 1, "a"))
	r.QueryReply(1, v(1, 1, "a"))
	r.QueryReply(9, v(1, 1, "a"))
	if r.Phase() != PhaseQuery {
		t.Fatalf("phase %s after one distinct reply, want query", r.Phase())
	}
	r.QueryFailed(1, errors.New("late failure of a replica that answered"))
	r.QueryFailed(2, errors.New("down"))
	if r.Phase() != PhaseQuery {
		t.Fatalf("phase %s with one failure of three, want query", r.Phase())
	}
	r.QueryReply(2, v(5, 5, "z")) // answered after its failure: ignored
	r.QueryReply(3, v(1, 1, "a"))
	res, done := r.Done()
	if !done || res.Err != nil || string(res.Value) != "a" || res.WroteBack {
		t.Errorf("result = %+v (done %v), want a from n1 and n3 without write-back", res, done)
	}
}

func TestReadRound(t *testing.T) {
	tests := []struct {
		name        string
		before      map[int]Versioned
		reach       []int
		noWriteBack bool
		want        string // value read, "" for an error
		wroteBack   bool
		storeTo     []int // replicas holding the result afterwards, beyond those before
	}{
		{name: "absent key", reach: []int{1, 2, 3}, want: "null"},
		{name: "all agree", reach: []int{1, 2},
			before: map[int]Versioned{1: v(2, 1, "x"), 2: v(2, 1, "x")}, want: "x"},
		{name: "newest on one of the majority", reach: []int{1, 2},
			before: map[int]Versioned{1: v(1, 1, "old"), 2: v(2, 1, "new")},
			want:   "new", wroteBack: true, storeTo: []int{1}},
		{name: "newest on a replica outside the majority stays there", reach: []int{1, 2},
			before: map[int]Versioned{2: v(1, 1, "mid"), 3: v(2, 1, "new")},
			want:   "mid", wroteBack: true, storeTo: []int{1}},
		{name: "bug: newest returned without write-back", reach: []int{1, 2}, noWriteBack: true,
			before: map[int]Versioned{1: v(1, 1, "old"), 2: v(2, 1, "new")},
			want:   "new"},
		{name: "write-back cannot reach a majority", reach: []int{2},
			before: map[int]Versioned{2: v(2, 1, "new")}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(3)
			for id, val := range tt.before {
				c[id].data["k"] = val
			}
			cfg := cfgFor(c)
			cfg.NoWriteBack = tt.noWriteBack
			res := c.run(t, NewRead(cfg, "k"), tt.reach...)
			if tt.want == "" {
				if !errors.Is(res.Err, ErrNoQuorum) || res.MaybeApplied {
					t.Errorf("err = %v, MaybeApplied %v; want ErrNoQuorum and no effect", res.Err, res.MaybeApplied)
				}
				return
			}
			if res.Err != nil {
				t.Fatalf("err = %v", res.Err)
			}
			got := string(res.Value)
			if res.Value == nil {
				got = "null"
			}
			if got != tt.want || res.WroteBack != tt.wroteBack {
				t.Errorf("read %s (wrote back %v), want %s (wrote back %v)", got, res.WroteBack, tt.want, tt.wroteBack)
			}
			for _, id := range tt.storeTo {
				if h := c[id].query("k"); h.Tag != res.Tag {
					t.Errorf("n%d holds %v after the read, want the read's %v written back", id, h.Tag, res.Tag)
				}
			}
		})
	}
}

func TestReadWriteBackSkipsReplicasThatHaveIt(t *testing.T) {
	c := newCluster(5)
	r := NewRead(cfgFor(c), "k")
	r.QueryReply(1, v(3, 1, "new"))
	r.QueryReply(2, v(3, 1, "new"))
	store := r.QueryReply(3, v(1, 1, "old"))
	if store == nil || !slices.Equal(store.To, []int{3, 4, 5}) || store.Tag != (Tag{3, 1}) {
		t.Fatalf("store request = %+v, want tag 3/1 to n3, n4, n5 only", store)
	}
	r.StoreAck(1) // not asked: ignored
	if _, done := r.Done(); done {
		t.Fatal("done on an ack from a replica that was not asked")
	}
	r.StoreAck(4)
	res, done := r.Done()
	if !done || string(res.Value) != "new" || !res.WroteBack {
		t.Errorf("result = %+v (done %v), want new after n1, n2 (had it) + n4 (acked)", res, done)
	}
}

// TestNoWriteBackBreaksLinearizability is the named bug's scenario: a write
// reached one replica of three before its coordinator died. Read A asks a
// majority holding that replica and returns the new value; read B, strictly
// later, asks the other majority. Linearizability requires B to return the
// new value too, which only the write-back guarantees.
func TestNoWriteBackBreaksLinearizability(t *testing.T) {
	for _, bug := range []bool{false, true} {
		c := newCluster(3)
		cfg := cfgFor(c)
		cfg.NoWriteBack = bug
		c.run(t, NewWrite(cfg, NewIssuer(WriterID(1, 1)), "k", []byte("old")), 1, 2, 3)
		// The write's store reaches n3 only; n1 and n2 time out.
		w := NewWrite(cfg, NewIssuer(WriterID(3, 1)), "k", []byte("new"))
		w.QueryReply(3, c[3].query("k"))
		store := w.QueryReply(2, c[2].query("k"))
		if store == nil {
			t.Fatal("write did not reach its store phase")
		}
		c[3].store("k", store.Versioned)
		w.StoreAck(3)
		w.StoreFailed(1, errors.New("timeout"))
		w.StoreFailed(2, errors.New("timeout"))
		if partial, _ := w.Done(); partial.Err == nil || !partial.MaybeApplied {
			t.Fatalf("partial write: %+v, want indeterminate failure", partial)
		}

		a := c.run(t, NewRead(cfg, "k"), 2, 3)
		b := c.run(t, NewRead(cfg, "k"), 1, 2)
		if string(a.Value) != "new" {
			t.Fatalf("bug=%v: read A = %s, want new", bug, a.Value)
		}
		if bug {
			if string(b.Value) != "old" || a.WroteBack {
				t.Errorf("bug on: read B = %s (A wrote back %v), want old: the anomaly the bug causes", b.Value, a.WroteBack)
			}
		} else if string(b.Value) != "new" || !a.WroteBack {
			t.Errorf("correct: read B = %s (A wrote back %v), want new", b.Value, a.WroteBack)
		}
	}
}
