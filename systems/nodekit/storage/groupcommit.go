package storage

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// ErrClosed is returned by operations on a closed GroupCommit or Store.
var ErrClosed = errors.New("storage: closed")

// File is what a GroupCommit appends to. *os.File satisfies it; tests wrap
// one to observe or delay Sync.
type File interface {
	io.Writer
	Sync() error
}

// DefaultMaxBatchBytes bounds one group commit: large enough to carry
// hundreds of small records per fsync, small enough to bound the copy.
const DefaultMaxBatchBytes = 4 << 20

// GroupCommit makes appends to a file durable in batches: concurrent Append
// calls are collected by a single writer goroutine, written with one Write
// and made durable with one Sync. Under load, many callers share the cost of
// one fsync; alone, a caller pays exactly one write and one fsync.
//
// Contract:
//   - Append returns nil only after its bytes were written AND the file was
//     fsynced. Appends are written in the order the writer receives them;
//     one Append's bytes are contiguous in the file.
//   - After a failed Write or Sync the file's contents are unknown (a
//     failed fsync may have dropped dirty pages), so the error is sticky:
//     that Append and every later one return it. Reopen and replay to
//     recover.
//   - GroupCommit never closes the File; its owner does, after Close.
//
// Methods are safe for concurrent use.
type GroupCommit struct {
	f        File
	maxBatch int
	reqs     chan *appendReq
	done     chan struct{} // closed when the writer goroutine has exited

	mu     sync.RWMutex // guards closed against sends on reqs
	closed bool

	err error // sticky; owned by the writer goroutine

	batches atomic.Uint64
	appends atomic.Uint64
	bytes   atomic.Uint64
}

type appendReq struct {
	data []byte
	done chan error // buffered(1): the writer never blocks on a reply
}

// GroupCommitStats counts what a GroupCommit has done.
type GroupCommitStats struct {
	Batches uint64 // write+fsync rounds, i.e. fsyncs
	Appends uint64 // Append calls made durable (or failed) by those rounds
	Bytes   uint64 // bytes written
}

// NewGroupCommit starts the writer goroutine for f. maxBatchBytes <= 0 means
// DefaultMaxBatchBytes; a single Append larger than it is written alone.
func NewGroupCommit(f File, maxBatchBytes int) *GroupCommit {
	if maxBatchBytes <= 0 {
		maxBatchBytes = DefaultMaxBatchBytes
	}
	g := &GroupCommit{
		f:        f,
		maxBatch: maxBatchBytes,
		// The buffer lets callers queue while an fsync runs; its size only
		// caps how many wait in the channel rather than on the send.
		reqs: make(chan *appendReq, 1024),
		done: make(chan struct{}),
	}
	go g.run()
	return g
}

// Append writes data to the file and returns once it is durable. data must
// not be modified until Append returns.
func (g *GroupCommit) Append(data []byte) error {
	req := &appendReq{data: data, done: make(chan error, 1)}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return ErrClosed
	}
	// Sending under the read lock: Close cannot close reqs mid-send, and the
	// writer goroutine takes no lock, so the send always completes.
	g.reqs <- req
	g.mu.RUnlock()
	return <-req.done
}

// Close stops accepting appends, waits until every queued one is durable or
// failed, and stops the writer goroutine. It returns the sticky error, if
// any. Calling it again is a no-op returning the same.
func (g *GroupCommit) Close() error {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.reqs)
	}
	g.mu.Unlock()
	<-g.done
	return g.err
}

// Stats returns the counters so far.
func (g *GroupCommit) Stats() GroupCommitStats {
	return GroupCommitStats{
		Batches: g.batches.Load(),
		Appends: g.appends.Load(),
		Bytes:   g.bytes.Load(),
	}
}

// run is the writer goroutine: the only one that touches f and g.err.
func (g *GroupCommit) run() {
	defer close(g.done)
	var buf []byte
	batch := make([]*appendReq, 0, 64)
	for first := range g.reqs {
		batch = append(batch[:0], first)
		size := len(first.data)
	fill:
		for size < g.maxBatch {
			select {
			case r, ok := <-g.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
				size += len(r.data)
			default:
				break fill
			}
		}
		var data []byte
		if len(batch) == 1 {
			data = first.data
		} else {
			buf = buf[:0]
			for _, r := range batch {
				buf = append(buf, r.data...)
			}
			data = buf
		}
		err := g.commit(data)
		g.appends.Add(uint64(len(batch)))
		for _, r := range batch {
			r.done <- err
			r.data = nil
		}
	}
}

func (g *GroupCommit) commit(data []byte) error {
	if g.err != nil {
		return g.err
	}
	if _, err := g.f.Write(data); err != nil {
		g.err = fmt.Errorf("storage: group commit write: %w", err)
		return g.err
	}
	if err := g.f.Sync(); err != nil {
		g.err = fmt.Errorf("storage: group commit fsync: %w", err)
		return g.err
	}
	g.batches.Add(1)
	g.bytes.Add(uint64(len(data)))
	return nil
}
