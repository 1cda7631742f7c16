package stats

import (
	"testing"
	"time"

	"github.com/faultline/faultline/history"
)

func TestComputeCountsOutcomesAndLatency(t *testing.T) {
	ms := int64(time.Millisecond)
	ev := []history.Event{
		{Process: 0, Type: history.Invoke, F: "write", Time: 0},
		{Process: 1, Type: history.Invoke, F: "read", Time: 1 * ms},
		{Process: -1, Type: history.Invoke, F: "kill", Time: 2 * ms},
		{Process: -1, Type: history.Info, F: "kill", Time: 3 * ms},
		{Process: 0, Type: history.OK, F: "write", Time: 10 * ms},
		{Process: 1, Type: history.Info, F: "read", Time: 20 * ms},
		{Process: 2, Type: history.Invoke, F: "read", Time: 30 * ms},
		{Process: 2, Type: history.Fail, F: "read", Time: 31 * ms},
		{Process: 3, Type: history.Invoke, F: "write", Time: 40 * ms},
	}
	s := Compute(ev)
	if s.Ops.Total != 4 || s.Ops.OK != 1 || s.Ops.Fail != 1 || s.Ops.Info != 2 {
		t.Fatalf("ops = %+v, want 4 total, 1 ok, 1 fail, 2 info (an open invoke is info)", s.Ops)
	}
	if w := s.ByF["write"]; w.Total != 2 || w.OK != 1 || w.P50MS != 10 {
		t.Fatalf("write counts = %+v, want 2 total, 1 ok, p50 10ms", w)
	}
	if s.Nemesis["kill"] != 1 {
		t.Fatalf("nemesis = %v, want one kill", s.Nemesis)
	}
	if s.DurationS != 0.04 {
		t.Fatalf("duration = %v, want 0.04s", s.DurationS)
	}
}
