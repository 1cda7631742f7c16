package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/systems"
)

// Kill SIGKILLs a random minority of nodes (one, or up to just under half)
// and restarts them on their data dirs when stopped. Killing a minority
// keeps a majority up, so a correct system stays available for most
// operations while the dead nodes' in-flight work is cut short. Half the
// time, when the system reports a leader, the leader is among the killed.
type Kill struct {
	killed []int
}

func (*Kill) Name() string   { return "kill" }
func (*Kill) StartF() string { return "kill" }
func (*Kill) StopF() string  { return "restart" }

func (k *Kill) Start(ctx context.Context, c runtime.Cluster, rng *rand.Rand) (Action, error) {
	ids := nodeIDs(c)
	n := 1
	if most := (len(ids) - 1) / 2; most > 1 && rng.IntN(2) == 0 {
		n = 1 + rng.IntN(most)
	}
	var chosen []int
	if rng.IntN(2) == 0 {
		if id, ok := leader(ctx, c); ok {
			chosen = append(chosen, id)
		}
	}
	for _, i := range rng.Perm(len(ids)) {
		if len(chosen) == n {
			break
		}
		if !slices.Contains(chosen, ids[i]) {
			chosen = append(chosen, ids[i])
		}
	}
	sort.Ints(chosen)
	// Only nodes really killed are restarted by Stop and named in the
	// history; the end-of-run recovery restarts anything else that is down.
	var errs []error
	k.killed = nil
	for _, id := range chosen {
		if err := c.Kill(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("kill %s: %w", systems.NodeName(id), err))
			continue
		}
		k.killed = append(k.killed, id)
	}
	return Action{F: k.StartF(), Value: names(k.killed), Node: nodeField(k.killed)}, errors.Join(errs...)
}

func (k *Kill) Stop(ctx context.Context, c runtime.Cluster) (Action, error) {
	var errs []error
	for _, id := range k.killed {
		if err := c.Start(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("restart %s: %w", systems.NodeName(id), err))
		}
	}
	a := Action{F: k.StopF(), Value: names(k.killed), Node: nodeField(k.killed)}
	k.killed = nil
	return a, errors.Join(errs...)
}

func names(ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = systems.NodeName(id)
	}
	return out
}

func nodeField(ids []int) string { return strings.Join(names(ids), ",") }
