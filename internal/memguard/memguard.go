// Package memguard bounds the memory of a phase that reads or checks a
// history of any size: it sets the Go runtime's soft memory limit to three
// quarters of the limit, so the garbage collector works harder well before
// it, and stops the phase (cancels its context) once the heap's objects
// pass the limit anyway. A check that needs more than it is given ends
// unknown, never in an out-of-memory kill.
package memguard

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// ErrExceeded is the cause of a guarded context cancelled for memory.
var ErrExceeded = errors.New("memory limit exceeded")

// heapObjects is the runtime metric the guard watches: bytes in live and
// not yet swept heap objects.
const heapObjects = "/memory/classes/heap/objects:bytes"

// poll is how often the heap is sampled. Reading one runtime metric does
// not stop the world.
const poll = 20 * time.Millisecond

// Guard sets the soft memory limit to limit*3/4 bytes and returns a
// context that is cancelled with cause ErrExceeded (wrapped with the
// figures) once the heap's objects pass limit. stop ends the watch and
// restores the previous soft limit. limit <= 0 guards nothing.
func Guard(ctx context.Context, limit int64) (guarded context.Context, stop func()) {
	if limit <= 0 {
		return ctx, func() {}
	}
	prev := debug.SetMemoryLimit(limit / 4 * 3)
	gctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		hard := limit
		sample := []metrics.Sample{{Name: heapObjects}}
		t := time.NewTicker(poll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-gctx.Done():
				return
			case <-t.C:
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				return // not measurable here: the soft limit still applies
			}
			if used := sample[0].Value.Uint64(); used > uint64(hard) {
				cancel(fmt.Errorf("%w: the heap held %d MiB, past the limit of %d MiB", ErrExceeded, used>>20, limit>>20))
				return
			}
		}
	}()
	return gctx, func() {
		close(done)
		cancel(nil)
		debug.SetMemoryLimit(prev)
	}
}

// Exceeded returns the cause of ctx's end when it was the memory limit,
// else nil.
func Exceeded(ctx context.Context) error {
	if err := context.Cause(ctx); errors.Is(err, ErrExceeded) {
		return err
	}
	return nil
}

// MiB converts a size in MiB to bytes, saturating.
func MiB(n int) int64 {
	if n <= 0 {
		return 0
	}
	if int64(n) > math.MaxInt64>>20 {
		return math.MaxInt64
	}
	return int64(n) << 20
}
