// Package stats computes the figures of a history: how many operations of
// each kind ended how, how fast, and how many faults the nemesis injected.
package stats

import (
	"slices"
	"time"

	"github.com/faultline/faultline/history"
)

// Counts says how operations of one function ended.
type Counts struct {
	OK    int `json:"ok"`
	Fail  int `json:"fail"`
	Info  int `json:"info"`
	Total int `json:"total"`
	// Latency percentiles of ok operations, in milliseconds.
	P50MS float64 `json:"p50_ms,omitempty"`
	P99MS float64 `json:"p99_ms,omitempty"`
}

// Stats are the figures of one history.
type Stats struct {
	Ops       Counts            `json:"ops"`
	ByF       map[string]Counts `json:"by_f"`
	Nemesis   map[string]int    `json:"nemesis,omitempty"` // fault events by name
	DurationS float64           `json:"duration_s"`
	// OKPerSec is ok operations per second of history.
	OKPerSec float64 `json:"ok_per_sec"`
}

// Compute derives Stats from events. Unpaired events are ignored: stats
// never fail a run.
func Compute(events []history.Event) Stats {
	s := Stats{ByF: map[string]Counts{}, Nemesis: map[string]int{}}
	var first, last int64
	for i, e := range events {
		if i == 0 || e.Time < first {
			first = e.Time
		}
		last = max(last, e.Time)
		if e.IsNemesis() && e.Type != history.Invoke {
			s.Nemesis[string(e.F)]++
		}
	}
	ops, _ := history.Pair(events)
	all := []time.Duration{}
	lat := map[string][]time.Duration{}
	for _, op := range ops {
		f := string(op.F)
		c := s.ByF[f]
		c.Total++
		s.Ops.Total++
		switch op.Outcome() {
		case history.OK:
			c.OK++
			s.Ops.OK++
			d := time.Duration(op.Complete.Time - op.Invoke.Time)
			lat[f] = append(lat[f], d)
			all = append(all, d)
		case history.Fail:
			c.Fail++
			s.Ops.Fail++
		default:
			c.Info++
			s.Ops.Info++
		}
		s.ByF[f] = c
	}
	for f, ds := range lat {
		c := s.ByF[f]
		c.P50MS, c.P99MS = percentiles(ds)
		s.ByF[f] = c
	}
	s.Ops.P50MS, s.Ops.P99MS = percentiles(all)
	s.DurationS = time.Duration(last - first).Seconds()
	if s.DurationS > 0 {
		s.OKPerSec = float64(s.Ops.OK) / s.DurationS
	}
	return s
}

func percentiles(ds []time.Duration) (p50, p99 float64) {
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		i := int(q * float64(len(ds)-1))
		return float64(ds[i]) / float64(time.Millisecond)
	}
	return at(0.50), at(0.99)
}
