package inmem

import (
	"context"
	"fmt"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/systems"
)

// Admin answers for the driver's nodes as a node's admin endpoint would
// (use it as cluster.Spec.Admin): a running node is ready and reports the
// clock offset last set; a paused node, like a frozen process, answers
// nothing until ctx ends; a node that does not run refuses.
func (d *Driver) Admin() cluster.Admin { return admin{d} }

type admin struct{ d *Driver }

// reach returns node id's run when it answers.
func (a admin) reach(ctx context.Context, id int) (*Node, error) {
	if a.d.Paused(id) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if !a.d.Running(id) {
		return nil, fmt.Errorf("%s: connection refused", systems.NodeName(id))
	}
	return a.d.node(id), nil
}

func (a admin) Status(ctx context.Context, ep systems.Endpoint) (systems.Status, error) {
	if _, err := a.reach(ctx, ep.ID); err != nil {
		return systems.Status{}, err
	}
	a.d.mu.Lock()
	defer a.d.mu.Unlock()
	return systems.Status{Node: ep.Name, Ready: true, ClockOffsetNS: int64(a.d.clocks[ep.ID])}, nil
}

func (a admin) SetClock(ctx context.Context, ep systems.Endpoint, offset time.Duration) error {
	if _, err := a.reach(ctx, ep.ID); err != nil {
		return err
	}
	a.d.mu.Lock()
	defer a.d.mu.Unlock()
	a.d.clocks[ep.ID] = offset
	return nil
}
