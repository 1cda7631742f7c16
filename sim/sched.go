package sim

import (
	"container/heap"
	"time"
)

// event is one thing that happens at a simulated instant. Events at the
// same instant run in the order they were scheduled (seq), so a run is a
// pure function of its seed.
type event struct {
	at  time.Duration
	seq uint64
	fn  func()
}

type queue []event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = event{}
	*q = old[:len(old)-1]
	return e
}

// scheduler owns simulated time: nothing in a simulation reads the wall
// clock.
type scheduler struct {
	now time.Duration
	seq uint64
	q   queue
	ran uint64 // events run, for the figures
}

// at schedules fn at now+d (d < 0 counts as 0).
func (s *scheduler) after(d time.Duration, fn func()) {
	s.seq++
	heap.Push(&s.q, event{at: s.now + max(d, 0), seq: s.seq, fn: fn})
}

// step runs the next event; false when none is left or the next is past
// until.
func (s *scheduler) step(until time.Duration) bool {
	if len(s.q) == 0 || s.q[0].at > until {
		return false
	}
	e := heap.Pop(&s.q).(event)
	s.now = e.at
	s.ran++
	e.fn()
	return true
}
