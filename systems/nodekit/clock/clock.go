// Package clock is the time source of every included node. Its offset is
// set through the admin endpoint (POST /clock) by the clock nemesis, so a
// node's timestamps, leases and timeouts can be skewed the way a machine's
// clock can be. Nodes must take every wall-clock reading from here.
package clock

import (
	"sync/atomic"
	"time"
)

// Clock is real time plus an adjustable offset. The zero value, and a nil
// *Clock, read real time (a nil clock cannot be set). Safe for concurrent
// use.
type Clock struct {
	offset atomic.Int64 // nanoseconds
}

// New returns a clock with no offset.
func New() *Clock { return &Clock{} }

// Now returns real time plus the offset. The monotonic reading is dropped
// on purpose: with it, t2.Sub(t1) would ignore offset changes, and a clock
// jump must be visible to durations measured with this clock, as it is on
// a machine whose clock is stepped.
func (c *Clock) Now() time.Time {
	return time.Now().Round(0).Add(c.Offset())
}

// Since is c.Now().Sub(t).
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Offset returns the current offset.
func (c *Clock) Offset() time.Duration {
	if c == nil {
		return 0
	}
	return time.Duration(c.offset.Load())
}

// SetOffset replaces the offset.
func (c *Clock) SetOffset(d time.Duration) { c.offset.Store(int64(d)) }
