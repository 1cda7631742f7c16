package raft

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/faultline/faultline/systems/nodekit/disk"
	"github.com/faultline/faultline/systems/raft/core"
)

func ents(from uint64, terms ...uint64) []core.Entry {
	var es []core.Entry
	for i, t := range terms {
		es = append(es, core.Entry{Index: from + uint64(i), Term: t, Data: []byte{byte(from) + byte(i)}})
	}
	return es
}

func termsOf(es []core.Entry) []uint64 {
	var ts []uint64
	for _, e := range es {
		ts = append(ts, e.Term)
	}
	return ts
}

func reopen(t *testing.T, dir string) (*storage, recovered) {
	t.Helper()
	st, rec, err := openStorage(dir, slog.New(slog.DiscardHandler), disk.Durable)
	if err != nil {
		t.Fatalf("openStorage: %v", err)
	}
	t.Cleanup(func() { st.close() })
	return st, rec
}

// Replaying the WAL applies truncations: an entry at index i replaces the
// entries from i on.
func TestStorageReplayTruncates(t *testing.T) {
	dir := t.TempDir()
	st, _ := reopen(t, dir)
	if err := st.append(&core.HardState{Term: 1, Vote: 1}, ents(1, 1, 1, 1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := st.append(&core.HardState{Term: 2}, ents(3, 2)); err != nil {
		t.Fatal(err)
	}
	st.close()
	_, rec := reopen(t, dir)
	if rec.hs != (core.HardState{Term: 2}) {
		t.Errorf("hard state %+v, want term 2 no vote", rec.hs)
	}
	if got := termsOf(rec.entries); !slices.Equal(got, []uint64{1, 1, 2}) {
		t.Errorf("entries terms %v, want [1 1 2]", got)
	}
}

// A torn last record (a crash mid-write) is cut off; what was synced
// before it survives, and appends continue after it.
func TestStorageTornTail(t *testing.T) {
	dir := t.TempDir()
	st, _ := reopen(t, dir)
	if err := st.append(&core.HardState{Term: 1}, ents(1, 1, 1)); err != nil {
		t.Fatal(err)
	}
	if err := st.append(nil, ents(3, 1)); err != nil {
		t.Fatal(err)
	}
	st.close()
	path := filepath.Join(dir, walName)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()-3); err != nil {
		t.Fatal(err)
	}
	st, rec := reopen(t, dir)
	if got := termsOf(rec.entries); !slices.Equal(got, []uint64{1, 1}) {
		t.Fatalf("after a torn tail: entries %v, want [1 1]", got)
	}
	if err := st.append(nil, ents(3, 3)); err != nil {
		t.Fatal(err)
	}
	st.close()
	_, rec = reopen(t, dir)
	if got := termsOf(rec.entries); !slices.Equal(got, []uint64{1, 1, 3}) {
		t.Fatalf("append after repair: entries %v, want [1 1 3]", got)
	}
	// A flipped byte in the middle also ends the log there.
	b, _ := os.ReadFile(path)
	b[len(b)-2] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, rec = reopen(t, dir)
	if got := termsOf(rec.entries); !slices.Equal(got, []uint64{1, 1}) {
		t.Fatalf("after corruption: entries %v, want [1 1]", got)
	}
}

// Compaction keeps only the entries after the snapshot; a leader's
// snapshot replaces the whole log.
func TestStorageSnapshotAndCompaction(t *testing.T) {
	dir := t.TempDir()
	st, _ := reopen(t, dir)
	if err := st.append(&core.HardState{Term: 2, Vote: 3}, ents(1, 1, 1, 2, 2, 2)); err != nil {
		t.Fatal(err)
	}
	snap := &core.Snapshot{Index: 3, Term: 2, Data: []byte(`{"k":1}`)}
	if err := st.saveSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	if err := st.rewriteWAL(core.HardState{Term: 2, Vote: 3}, snap, true); err != nil {
		t.Fatal(err)
	}
	if err := st.append(nil, ents(6, 2)); err != nil {
		t.Fatal(err)
	}
	st.close()
	st, rec := reopen(t, dir)
	if rec.snap == nil || rec.snap.Index != 3 || string(rec.snap.Data) != `{"k":1}` {
		t.Fatalf("snapshot %+v", rec.snap)
	}
	if got := termsOf(rec.entries); !slices.Equal(got, []uint64{2, 2, 2}) || rec.entries[0].Index != 4 {
		t.Fatalf("entries after compaction %v from %d, want [2 2 2] from 4", got, rec.entries[0].Index)
	}
	if rec.hs != (core.HardState{Term: 2, Vote: 3}) {
		t.Fatalf("hard state %+v", rec.hs)
	}
	leaderSnap := &core.Snapshot{Index: 10, Term: 4, Data: []byte(`{}`)}
	if err := st.saveSnapshot(leaderSnap); err != nil {
		t.Fatal(err)
	}
	if err := st.rewriteWAL(core.HardState{Term: 4}, leaderSnap, false); err != nil {
		t.Fatal(err)
	}
	st.close()
	_, rec = reopen(t, dir)
	if rec.snap.Index != 10 || len(rec.entries) != 0 || rec.hs.Term != 4 {
		t.Fatalf("after installing a leader's snapshot: snap %d, %d entries, term %d", rec.snap.Index, len(rec.entries), rec.hs.Term)
	}
}

func TestMessageCodecRoundTrip(t *testing.T) {
	m := core.Message{
		Type: core.MsgApp, From: 1, To: 2, Term: 7, LogTerm: 6, Index: 100, Commit: 99, Reject: true, Hint: 5, Context: 9,
		Entries:  []core.Entry{{Term: 7, Index: 101, Data: []byte("x")}, {Term: 7, Index: 102, Type: core.EntryNoop}},
		Snapshot: &core.Snapshot{Index: 50, Term: 3, Data: []byte("snap")},
	}
	b := appendFrame(nil, &m)
	got, err := decodeMessage(b[4:])
	if err != nil {
		t.Fatal(err)
	}
	if got.Type != m.Type || got.From != 1 || got.To != 2 || got.Term != 7 || got.LogTerm != 6 || got.Index != 100 ||
		got.Commit != 99 || !got.Reject || got.Hint != 5 || got.Context != 9 || len(got.Entries) != 2 ||
		string(got.Entries[0].Data) != "x" || got.Entries[1].Type != core.EntryNoop || got.Snapshot == nil ||
		string(got.Snapshot.Data) != "snap" || got.Snapshot.Index != 50 {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
	}
	if _, err := decodeMessage(b[4 : len(b)-3]); err == nil {
		t.Fatalf("a truncated message decoded without error")
	}
}
