package nemesis

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"

	"github.com/faultline/faultline/history"
)

// ClientStaller is what client-pause acts on: the run's clients, not the
// cluster. The runner's cluster offers it; a Cluster without it cannot
// take the fault.
type ClientStaller interface {
	// StallClients stalls the clients that hold a lock now (for a workload
	// without locks, the client pick chooses) at their next operation, and
	// returns their names.
	StallClients(pick uint64) []string
	// ResumeClients lets every stalled client go on.
	ResumeClients()
}

// ClientPause is the classic lock-breaking pause in the client (a GC
// pause, a stalled VM): the clients holding a lock stop before their next
// operation — decided before the stall, like a write about to go out —
// and go on, unaware, when the fault stops. Episodes last longer than the
// lock workload's leases, so the service hands the locks to others
// meanwhile.
type ClientPause struct {
	stalled []string
}

func (*ClientPause) Name() string         { return "client-pause" }
func (*ClientPause) Lane() string         { return LaneClient }
func (*ClientPause) StartF() history.Func { return history.StartClientPause }
func (*ClientPause) StopF() history.Func  { return history.StopClientPause }

func (*ClientPause) Choose(rng *rand.Rand, _ []int) Choice {
	return Choice{Seed: rng.Uint64()}
}

var errNoClients = errors.New("client-pause: this run's cluster does not expose its clients (no nemesis.ClientStaller)")

func (p *ClientPause) Start(_ context.Context, c Cluster, ch Choice) (Action, error) {
	s, ok := c.(ClientStaller)
	if !ok {
		return Action{F: p.StartF()}, errNoClients
	}
	p.stalled = s.StallClients(ch.Seed)
	label := "stall no client (none held a lock)"
	if len(p.stalled) > 0 {
		label = "stall clients " + strings.Join(p.stalled, " ") + " before their next operation"
	}
	return Action{F: p.StartF(), Value: map[string]any{"clients": p.stalled}, Label: label}, nil
}

func (p *ClientPause) Stop(_ context.Context, c Cluster) (Action, error) {
	s, ok := c.(ClientStaller)
	if !ok {
		return Action{F: p.StopF()}, errNoClients
	}
	s.ResumeClients()
	a := Action{F: p.StopF(), Value: map[string]any{"clients": p.stalled}, Label: "resume clients " + strings.Join(p.stalled, " ")}
	p.stalled = nil
	return a, nil
}
