package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/cluster/inmem"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// memSystem is a register store whose nodes are goroutines of this test
// (cluster/inmem runs them) sharing one map, so every operation is atomic
// and the store linearizable. With the bug stale-read each node keeps its
// own copy instead, so a read through one node misses writes made through
// another. It answers for its nodes itself (cluster.Admin): a node is
// ready once it has registered, and like a frozen process a paused node
// answers nothing, to its clients or to the harness, until the caller
// gives up.
type memSystem struct {
	d         *inmem.Driver
	failStart int // the node that fails at once when it starts (0: none)
	// onNewClient and onInvoke, when set, run as the harness makes the
	// workload's client and before each operation (the data-safety tests
	// remove the results dir or panic from them).
	onNewClient func()
	onInvoke    func(op systems.Op)
	// notReady makes every node say it is not ready; statusHang, when
	// not nil, makes status probes block until it is closed, whatever
	// their context says (an admin probe that ignores its deadline).
	notReady   atomic.Bool
	statusHang chan struct{}

	mu     sync.Mutex
	up     map[int]*memNode // running nodes by ID
	shared map[string]any
}

type memNode struct {
	stale bool
	data  map[string]any // its own copy, under stale-read
	clock time.Duration
}

const bugStaleRead = "stale-read"

var (
	_ systems.System = (*memSystem)(nil)
	_ cluster.Admin  = (*memSystem)(nil)
)

// newMemSystem returns the system and the driver that runs its nodes.
func newMemSystem() (*memSystem, *inmem.Driver) {
	s := &memSystem{up: map[int]*memNode{}, shared: map[string]any{}}
	s.d = inmem.New(s.RunNode)
	return s, s.d
}

func (*memSystem) Name() string    { return "mem" }
func (*memSystem) Summary() string { return "an in-memory register store for the runner's tests" }
func (*memSystem) MinNodes() int   { return 1 }
func (*memSystem) Bugs() []systems.Bug {
	return []systems.Bug{{Name: bugStaleRead, Description: "each node reads and writes its own copy"}}
}
func (*memSystem) Workloads() map[string][]history.Func {
	return map[string][]history.Func{"register": {history.OpRead, history.OpWrite}}
}

func (s *memSystem) RunNode(ctx context.Context, cfg systems.NodeConfig) error {
	if cfg.ID == s.failStart {
		for i := 1; i <= 30; i++ {
			cfg.Logger.Info(fmt.Sprintf("boom #%02d", i))
		}
		return errors.New("cannot start")
	}
	s.mu.Lock()
	s.up[cfg.ID] = &memNode{stale: cfg.HasBug(bugStaleRead), data: map[string]any{}}
	s.mu.Unlock()
	cfg.Logger.Info("mem node up")
	<-ctx.Done()
	s.mu.Lock()
	delete(s.up, cfg.ID)
	s.mu.Unlock()
	return nil
}

// reach returns node id when it runs and is not paused; a paused node
// holds the caller until ctx ends.
func (s *memSystem) reach(ctx context.Context, id int) (*memNode, error) {
	if s.d.Paused(id) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.up[id]
	if n == nil {
		return nil, fmt.Errorf("n%d: connection refused", id)
	}
	return n, nil
}

// Status says a node is ready once it has registered, which a node that
// fails at start never does.
func (s *memSystem) Status(ctx context.Context, ep systems.Endpoint) (systems.Status, error) {
	if s.statusHang != nil {
		<-s.statusHang
	}
	n, err := s.reach(ctx, ep.ID)
	if err != nil {
		return systems.Status{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return systems.Status{Node: ep.Name, Ready: !s.notReady.Load(), ClockOffsetNS: int64(n.clock)}, nil
}

func (s *memSystem) SetClock(ctx context.Context, ep systems.Endpoint, offset time.Duration) error {
	n, err := s.reach(ctx, ep.ID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n.clock = offset
	return nil
}

func (s *memSystem) NewClient(c systems.ClientConfig) (systems.Client, error) {
	workload := c.Workload
	if workload != "register" {
		return nil, fmt.Errorf("mem serves register only, not %q", workload)
	}
	if s.onNewClient != nil {
		s.onNewClient()
	}
	return memClient{s}, nil
}

type memClient struct{ s *memSystem }

func (c memClient) Invoke(ctx context.Context, ep systems.Endpoint, op systems.Op) systems.Completion {
	if c.s.onInvoke != nil {
		c.s.onInvoke(op)
	}
	n, err := c.s.reach(ctx, ep.ID)
	switch {
	case ctx.Err() != nil:
		return systems.Completion{Type: history.Info, Error: ctx.Err().Error()}
	case err != nil:
		return systems.Completion{Type: history.Fail, Error: err.Error()}
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	data := c.s.shared
	if n.stale {
		data = n.data
	}
	switch op.F {
	case history.OpRead:
		return systems.Completion{Type: history.OK, Value: data[op.Key]}
	case history.OpWrite:
		data[op.Key] = op.Value
		return systems.Completion{Type: history.OK}
	}
	return systems.Completion{Type: history.Fail, Error: "unknown function " + string(op.F)}
}
