package memguard

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// A phase that keeps allocating past the limit is stopped with the cause;
// one that stays under it is left alone; the soft limit is restored.
func TestGuardStopsAPhasePastTheLimitAndRestoresTheSoftLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	ctx, stop := Guard(context.Background(), 64<<20)
	if got := debug.SetMemoryLimit(-1); got != 48<<20 {
		t.Fatalf("soft limit %d, want 48 MiB (three quarters of 64)", got)
	}
	var keep [][]byte
	deadline := time.Now().Add(10 * time.Second)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		keep = append(keep, make([]byte, 1<<20)) // live: the GC cannot free it
		time.Sleep(time.Millisecond)
	}
	if err := Exceeded(ctx); !errors.Is(err, ErrExceeded) {
		t.Fatalf("after %d MiB held: cause %v, want the memory limit", len(keep), context.Cause(ctx))
	}
	if len(keep) < 48 {
		t.Fatalf("stopped after %d MiB, before the soft limit of 48 MiB", len(keep))
	}
	stop()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("soft limit after stop %d, want %d restored", got, before)
	}
	keep = nil
	runtime.GC()

	ctx, stop = Guard(context.Background(), 512<<20)
	defer stop()
	small := make([]byte, 8<<20)
	time.Sleep(100 * time.Millisecond)
	if ctx.Err() != nil {
		t.Fatalf("a phase holding %d MiB under a 512 MiB limit was stopped: %v", len(small)>>20, context.Cause(ctx))
	}
}
