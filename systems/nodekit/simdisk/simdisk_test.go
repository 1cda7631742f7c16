package simdisk

import (
	"slices"
	"testing"
)

func TestKillKeepsWritesPowerLossKeepsSynced(t *testing.T) {
	d := New()
	d.Append("wal", 1, 2)
	d.Sync("wal")
	d.Append("wal", 3)
	if got := d.Records("wal"); !slices.Equal(got, []any{1, 2, 3}) {
		t.Fatalf("a reader sees %v, want [1 2 3] (written, synced or not)", got)
	}
	// A kill changes nothing on disk: the page cache survives.
	if d.Unsynced() != 1 {
		t.Fatalf("unsynced = %d, want 1", d.Unsynced())
	}
	d.PowerLoss()
	if got := d.Records("wal"); !slices.Equal(got, []any{1, 2}) {
		t.Fatalf("after a power loss %v, want the synced [1 2]", got)
	}
}

func TestReplaceIsDurable(t *testing.T) {
	d := New()
	d.Append("wal", 1)
	d.Replace("wal", 7, 8)
	d.PowerLoss()
	if got := d.Records("wal"); !slices.Equal(got, []any{7, 8}) {
		t.Fatalf("replaced file after a power loss: %v, want [7 8]", got)
	}
}

func TestNextIncarnationCounts(t *testing.T) {
	d := New()
	for want := uint64(1); want <= 3; want++ {
		if got := d.NextIncarnation(); got != want {
			t.Fatalf("incarnation %d, want %d", got, want)
		}
		d.PowerLoss()
	}
}
