package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// ClockKinds are the clock faults.
var ClockKinds = []string{"bump", "strobe", "scramble"}

var clockSummary = map[string]string{
	"bump":     "jump the clocks of some nodes by up to ±4 minutes",
	"strobe":   "flip the clocks of some nodes back and forth by up to ±3 minutes, every 10-500ms, for 2-10s",
	"scramble": "give most nodes random offsets of up to ±5 minutes each",
}

// clockCallTimeout bounds one POST /clock: a paused or dead node does not
// answer, and the fault must not stall the schedule waiting for it.
const clockCallTimeout = time.Second

// Clock skews node clocks through their admin endpoints (POST /clock):
// each node reads real time plus the offset set here. Stop puts every
// touched clock back to offset zero. A node restarted while skewed (a kill
// overlapping the clock fault) comes back with a true clock, since the
// offset lives in the node process.
type Clock struct {
	Kinds []string

	name    string
	touched []int
	cancel  context.CancelFunc // stops a strobe
	done    chan struct{}
}

func (k *Clock) Name() string       { return nameOr(k.name, "clock") }
func (*Clock) Lane() string         { return LaneClock }
func (*Clock) StartF() history.Func { return history.StartClock }
func (*Clock) StopF() history.Func  { return history.StopClock }

func (k *Clock) Choose(rng *rand.Rand, ids []int) Choice {
	kinds := orDefault(k.Kinds, ClockKinds)
	ch := Choice{Kind: kinds[rng.IntN(len(kinds))], Offsets: map[int]int64{}}
	offset := func(maxMS int64) int64 {
		// At least 100ms either way: smaller jumps hide in network noise.
		ms := 100 + rng.Int64N(maxMS-99)
		if rng.IntN(2) == 0 {
			ms = -ms
		}
		return ms
	}
	switch ch.Kind {
	case "bump":
		ch.Nodes = pickN(rng, ids, 1+rng.IntN(len(ids)))
		for _, id := range ch.Nodes {
			ch.Offsets[id] = offset(240_000)
		}
	case "strobe":
		ch.Nodes = pickN(rng, ids, 1+rng.IntN(max(1, len(ids)/2)))
		for _, id := range ch.Nodes {
			ch.Offsets[id] = offset(180_000)
		}
		ch.Params = map[string]int64{"period_ms": 10 + rng.Int64N(491), "duration_ms": 2000 + rng.Int64N(8001)}
	case "scramble":
		ch.Nodes = pickN(rng, ids, max(2, len(ids)/2+1))
		for _, id := range ch.Nodes {
			ch.Offsets[id] = offset(300_000)
		}
	}
	return ch
}

func (k *Clock) Start(ctx context.Context, c Cluster, ch Choice) (Action, error) {
	k.touched = append([]int(nil), ch.Nodes...)
	offs := map[string]string{}
	for _, id := range ch.Nodes {
		offs[systems.NodeName(id)] = (time.Duration(ch.Offsets[id]) * time.Millisecond).String()
	}
	a := Action{F: k.StartF(), Value: map[string]any{"kind": ch.Kind, "offsets": offs}, Node: nodeField(ch.Nodes), Label: clockLabel(ch)}
	err := k.set(ctx, c, ch.Nodes, func(id int) time.Duration { return time.Duration(ch.Offsets[id]) * time.Millisecond })
	if ch.Kind == "strobe" {
		period := time.Duration(ch.Params["period_ms"]) * time.Millisecond
		dur := time.Duration(ch.Params["duration_ms"]) * time.Millisecond
		a.Value["period"], a.Value["duration"] = period.String(), dur.String()
		// The strobe outlives Start, bounded by its duration; Stop ends
		// it sooner.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), dur)
		k.cancel, k.done = cancel, make(chan struct{})
		go k.strobe(sctx, c, ch, period)
	}
	return a, err
}

// strobe flips each node between true time and its offset every period.
func (k *Clock) strobe(ctx context.Context, c Cluster, ch Choice, period time.Duration) {
	defer close(k.done)
	skewed := true
	for sleep(ctx, period) {
		skewed = !skewed
		_ = k.set(ctx, c, ch.Nodes, func(id int) time.Duration {
			if skewed {
				return time.Duration(ch.Offsets[id]) * time.Millisecond
			}
			return 0
		})
	}
}

func (k *Clock) Stop(ctx context.Context, c Cluster) (Action, error) {
	if k.cancel != nil {
		k.cancel()
		<-k.done
		k.cancel, k.done = nil, nil
	}
	err := k.set(ctx, c, k.touched, func(int) time.Duration { return 0 })
	a := Action{F: k.StopF(), Value: map[string]any{"nodes": names(k.touched)}, Node: nodeField(k.touched),
		Label: "reset the clocks of " + strings.Join(names(k.touched), " ")}
	k.touched = nil
	return a, err
}

// set sets every node's offset at once, each call bounded.
func (k *Clock) set(ctx context.Context, c Cluster, ids []int, offset func(int) time.Duration) error {
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, clockCallTimeout)
			defer cancel()
			if err := c.SetClock(cctx, id, offset(id)); err != nil {
				errs[i] = fmt.Errorf("clock of %s: %w", systems.NodeName(id), err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
