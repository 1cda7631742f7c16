package runner

import (
	"context"
	"fmt"
	"sync"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/workloads"
)

// clients are the run's workers as the client-pause fault sees them: it
// stalls the ones holding a lock (or, in a workload without sessions, one
// it picks) before their next operation, until it stops.
type clients struct {
	n        int
	mu       sync.Mutex
	sessions map[int]workloads.Session
	stalled  map[int]bool
	resume   chan struct{}
}

func newClients(n int) *clients {
	return &clients{n: n, sessions: map[int]workloads.Session{}, stalled: map[int]bool{}, resume: make(chan struct{})}
}

func (c *clients) session(w int, s workloads.Session) workloads.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sessions[w] = s
	return s
}

// clientName is how the history names worker w (the lock workload's owner).
func clientName(w int) string { return fmt.Sprintf("c%d", w) }

// StallClients implements nemesis.ClientStaller.
func (c *clients) StallClients(pick uint64) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var names []string
	for w := range c.n {
		s := c.sessions[w]
		if s != nil && s.Holding() || len(c.sessions) == 0 && uint64(w) == pick%uint64(c.n) {
			c.stalled[w] = true
			names = append(names, clientName(w))
		}
	}
	return names
}

// ResumeClients implements nemesis.ClientStaller.
func (c *clients) ResumeClients() {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.resume)
	c.resume, c.stalled = make(chan struct{}), map[int]bool{}
}

// wait holds worker w while it is stalled, or until ctx ends.
func (c *clients) wait(ctx context.Context, w int) {
	c.mu.Lock()
	stalled, resume := c.stalled[w], c.resume
	c.mu.Unlock()
	if !stalled {
		return
	}
	select {
	case <-resume:
	case <-ctx.Done():
	}
}

// withClients is the cluster the nemesis acts on, with the run's clients.
type withClients struct {
	*cluster.Cluster
	*clients
}

var _ nemesis.ClientStaller = withClients{}
