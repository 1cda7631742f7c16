package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/systems"
)

// Slow makes about three quarters of the directed links slow, chosen at
// random: every chunk of bytes on them waits Latency ± Jitter. Mixed fast
// and slow links with a jitter as large as the latency are what a congested
// network looks like, and they stretch the moment when a write has reached
// some replicas but not a majority from microseconds to tens of
// milliseconds, long enough for other clients to see both sides of it.
type Slow struct {
	Latency, Jitter time.Duration // zero: DefaultSlowLatency, DefaultSlowJitter

	links [][2]int
}

// Defaults of the slow fault: slow enough to straddle many operations,
// fast enough that a correct system stays available.
const (
	DefaultSlowLatency = 50 * time.Millisecond
	DefaultSlowJitter  = 50 * time.Millisecond
)

// slowToxic names the latency toxic Slow puts on links.
const slowToxic = "slow"

func (*Slow) Name() string   { return "slow" }
func (*Slow) StartF() string { return "start-slow" }
func (*Slow) StopF() string  { return "stop-slow" }

func (s *Slow) Start(ctx context.Context, c runtime.Cluster, rng *rand.Rand) (Action, error) {
	lat, jit := s.Latency, s.Jitter
	if lat == 0 {
		lat, jit = DefaultSlowLatency, DefaultSlowJitter
	}
	ids := nodeIDs(c)
	s.links = s.links[:0]
	var desc []string
	var errs []error
	for _, from := range ids {
		for _, to := range ids {
			if from == to || rng.IntN(4) == 0 { // keep a quarter of the links fast
				continue
			}
			t := runtime.Toxic{Name: slowToxic, Type: "latency", Attributes: map[string]any{"latency": lat.Milliseconds(), "jitter": jit.Milliseconds()}}
			if err := c.SetLinkToxic(ctx, from, to, t); err != nil {
				errs = append(errs, fmt.Errorf("slow %d->%d: %w", from, to, err))
				continue
			}
			s.links = append(s.links, [2]int{from, to})
			desc = append(desc, systems.NodeName(from)+"->"+systems.NodeName(to))
		}
	}
	return Action{F: s.StartF(), Value: map[string]any{"latency_ms": lat.Milliseconds(), "jitter_ms": jit.Milliseconds(), "links": desc}}, errors.Join(errs...)
}

func (s *Slow) Stop(ctx context.Context, c runtime.Cluster) (Action, error) {
	var errs []error
	for _, l := range s.links {
		if err := c.RemoveLinkToxic(ctx, l[0], l[1], slowToxic); err != nil {
			errs = append(errs, fmt.Errorf("unslow %d->%d: %w", l[0], l[1], err))
		}
	}
	s.links = nil
	return Action{F: s.StopF()}, errors.Join(errs...)
}
