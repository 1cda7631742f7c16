package storage

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// memFile is an in-memory File that counts syncs.
type memFile struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	syncs int
}

func (m *memFile) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.buf.Write(p)
}

func (m *memFile) Sync() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.syncs++
	return nil
}

var _ File = (*memFile)(nil)

func TestGroupCommitBatchesWhileFsyncRuns(t *testing.T) {
	gf := &gateFile{File: &memFile{}, gate: make(chan struct{}), waiting: make(chan struct{}, 1)}
	// A small batch cap: 10 queued 10-byte appends must split in two batches.
	g := NewGroupCommit(gf, 50)
	var wg sync.WaitGroup
	appendAsync := func(data string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.Append([]byte(data)); err != nil {
				t.Errorf("Append: %v", err)
			}
		}()
	}
	appendAsync("first.....")
	<-gf.waiting
	for i := range 10 {
		appendAsync(fmt.Sprintf("append%04d", i))
	}
	waitQueued(t, g, 10)
	close(gf.gate)
	wg.Wait()
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	st := g.Stats()
	if st.Batches != 3 || st.Appends != 11 || st.Bytes != 110 {
		t.Errorf("stats = %+v, want 3 batches (1 + 5 + 5 appends), 11 appends, 110 bytes", st)
	}
	mf := gf.File.(*memFile)
	if mf.syncs != 3 {
		t.Errorf("syncs = %d, want 3", mf.syncs)
	}
	// Every append is contiguous: the file is the 11 pieces in some order.
	if mf.buf.Len() != 110 {
		t.Fatalf("file has %d bytes, want 110", mf.buf.Len())
	}
	seen := map[string]bool{}
	for i := 0; i < 110; i += 10 {
		seen[mf.buf.String()[i:i+10]] = true
	}
	if len(seen) != 11 || !seen["first....."] || !seen["append0009"] {
		t.Errorf("file pieces = %v, want the 11 appends intact", seen)
	}
}

func TestGroupCommitCloseDrainsAndRefuses(t *testing.T) {
	mf := &memFile{}
	g := NewGroupCommit(mf, 0)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := g.Append([]byte{byte(i)})
			if err != nil && !errors.Is(err, ErrClosed) {
				t.Errorf("Append: %v", err)
			}
		}()
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	// Whatever was accepted before Close was written and synced.
	if got := g.Stats().Appends; uint64(mf.buf.Len()) != got {
		t.Errorf("file has %d bytes, but %d appends were acknowledged", mf.buf.Len(), got)
	}
	if err := g.Append([]byte("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
	if err := g.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
