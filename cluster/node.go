package cluster

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/faultline/faultline/systems"
)

// Kill stops a node abruptly (SIGKILL, paused or not) and returns once it
// has exited. Killing a stopped node is a no-op. The kill goes through
// even when ctx ends first (see signalTimeout).
func (c *Cluster) Kill(ctx context.Context, id int) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return c.kill(ctx, n)
}

// kill kills n and waits for it to exit; n.mu is held.
func (c *Cluster) kill(ctx context.Context, n *node) error {
	if !n.running() {
		n.h, n.paused = nil, false
		return nil
	}
	sctx, cancel := signalCtx(ctx)
	defer cancel()
	if err := n.h.Signal(sctx, Kill); err != nil {
		return fmt.Errorf("kill %s: %w", n.cfg.Name, err)
	}
	select {
	case <-n.h.Exited():
	case <-sctx.Done():
		// Keep the handle: the node is not known to be gone, so it must
		// not be started again on its ports and data yet.
		return fmt.Errorf("kill %s: waiting for it to exit: %w", n.cfg.Name, sctx.Err())
	}
	n.h, n.paused = nil, false
	c.logger.Info("node killed", "node", n.cfg.Name)
	return nil
}

// Start starts a stopped (killed or crashed) node again, on the same data
// dir and addresses, and returns once it reports ready. Starting a running
// node is a no-op.
func (c *Cluster) Start(ctx context.Context, id int) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	return c.start(ctx, n)
}

// start spawns n unless it runs, then waits until it is ready.
func (c *Cluster) start(ctx context.Context, n *node) error {
	n.mu.Lock()
	if n.running() {
		n.mu.Unlock()
		return nil
	}
	h, err := c.spawn(ctx, n)
	n.h, n.paused = h, false
	n.mu.Unlock()
	if err != nil {
		return err
	}
	// Wait without the lock, so the nemesis can kill a node that is
	// still starting.
	return c.waitReady(ctx, n, h)
}

// spawn opens n's log, writes the start line and has the driver start n;
// n.mu is held.
func (c *Cluster) spawn(ctx context.Context, n *node) (Handle, error) {
	if c.closed.Load() {
		return nil, fmt.Errorf("%s runtime: cluster is closed", c.name)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start %s: %w", n.cfg.Name, err)
	}
	log, err := OpenLog(n.logPath, "starting "+n.cfg.Name, strings.Join(n.command, " "))
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", n.cfg.Name, err)
	}
	// The driver logs the start, with what it knows (a PID, a container).
	h, err := c.driver.Spawn(ctx, Launch{Config: n.cfg, Command: n.command, Env: n.env, Files: n.files, Log: log})
	if err != nil {
		return nil, fmt.Errorf("start %s (log %s): %w", n.cfg.Name, n.logPath, err)
	}
	return h, nil
}

// waitReady polls n's status until it is ready, h exits, or the wait ends.
func (c *Cluster) waitReady(ctx context.Context, n *node, h Handle) error {
	ctx, cancel := context.WithTimeout(ctx, c.ready)
	defer cancel()
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	var last string
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, time.Second)
		st, err := c.status(attempt, n)
		cancelAttempt()
		switch {
		case err == nil && st.Ready:
			return nil
		case err != nil:
			last = err.Error()
		default:
			last = fmt.Sprintf("status says not ready: %+v", st)
		}
		select {
		case <-h.Exited():
			return fmt.Errorf("%s exited before it was ready (%s); last lines of %s:\n%s",
				n.cfg.Name, h.ExitStatus(), n.logPath, LogTail(n.logPath, LogTailLines))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last: %s); last lines of %s:\n%s",
				n.cfg.Name, ctx.Err(), last, n.logPath, LogTail(n.logPath, LogTailLines))
		case <-tick.C:
		}
	}
}

// Pause freezes a running node (SIGSTOP, docker pause) and returns once it
// is frozen. Pausing a paused node is a no-op; pausing a stopped one is an
// error wrapping ErrNotRunning.
func (c *Cluster) Pause(ctx context.Context, id int) error {
	return c.freeze(ctx, id, Stop)
}

// Resume thaws a paused node and returns once it runs again. Resuming a
// node that is not paused is a no-op.
func (c *Cluster) Resume(ctx context.Context, id int) error {
	return c.freeze(ctx, id, Cont)
}

// freeze pauses (Stop) or resumes (Cont) a node.
func (c *Cluster) freeze(ctx context.Context, id int, sig Signal) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	verb := map[Signal]string{Stop: "pause", Cont: "resume"}[sig]
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case sig == Stop && !n.running():
		return fmt.Errorf("%s %s: %w", verb, n.cfg.Name, ErrNotRunning)
	case !n.running() || n.paused == (sig == Stop):
		return nil
	}
	// A pause whose call failed (the engine was slow) may still happen,
	// and Resume must then undo it: the node counts as paused from the
	// attempt on, and as running again only once it thawed.
	if sig == Stop {
		n.paused = true
	}
	sctx, cancel := signalCtx(ctx)
	defer cancel()
	if err := n.h.Signal(sctx, sig); err != nil {
		return fmt.Errorf("%s %s: %w", verb, n.cfg.Name, err)
	}
	n.paused = sig == Stop
	c.logger.Info("node "+verb+"d", "node", n.cfg.Name)
	return nil
}

// Status asks a node about itself (its admin endpoint). A paused node does
// not answer: the call fails when ctx ends, and after 5s at most.
func (c *Cluster) Status(ctx context.Context, id int) (systems.Status, error) {
	n, err := c.node(id)
	if err != nil {
		return systems.Status{}, err
	}
	return c.status(ctx, n)
}

func (c *Cluster) status(ctx context.Context, n *node) (systems.Status, error) {
	st, err := c.admin.Status(ctx, n.ep)
	if err != nil {
		return st, fmt.Errorf("status of %s: %w", n.cfg.Name, err)
	}
	return st, nil
}

// SetClock sets the offset of a node's clock (its admin endpoint).
func (c *Cluster) SetClock(ctx context.Context, id int, offset time.Duration) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	if err := c.admin.SetClock(ctx, n.ep, offset); err != nil {
		return fmt.Errorf("set clock of %s: %w", n.cfg.Name, err)
	}
	return nil
}

// signalCtx is the context of one signal: ctx's values without its end,
// bounded by signalTimeout (see there).
func signalCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), signalTimeout)
}

// OpenLog opens the log at path for appending and writes one line,
// "--- faultline: <what> at <time>: <detail>", before whatever follows: a
// node's or a helper container's output.
func OpenLog(path, what, detail string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	line := fmt.Sprintf("--- faultline: %s at %s", what, time.Now().Format(time.RFC3339Nano))
	if detail != "" {
		line += ": " + detail
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		f.Close()
		return nil, fmt.Errorf("write log %s: %w", path, err)
	}
	return f, nil
}
