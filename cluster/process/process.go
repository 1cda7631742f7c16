// Package process runs a cluster's nodes as child processes of the harness,
// listening on loopback ports and wired to each other through a mesh of
// Toxiproxy proxies (cluster/mesh).
//
// The contract with the node command (`faultline node`, or whatever
// Spec.Command runs):
//
//   - It gets the flags of systems.NodeConfig.Args appended to Spec.Command.
//     Ports are chosen once per cluster and stay the same across restarts, as
//     does the data dir, RunDir/data/<name>.
//   - Its stdout and stderr are appended to RunDir/nodes/<name>.log; the
//     harness adds one "--- faultline:" line before each start.
//   - Its stdin is a pipe the harness holds open and never writes to. The node
//     MUST exit when stdin reaches EOF: that is how it learns the harness is
//     gone when the kernel's parent-death signal did not reach it (see
//     below). A node must therefore not be run with stdin closed or
//     redirected from /dev/null when under the harness.
//   - It serves GET /status on its admin address; Start returns once that
//     says ready:true.
//
// Ports are found by listening and closing again, so another process could
// take one before the node binds it; the node then fails to start and says
// so in its log. While a node is killed the harness itself listens on its
// ports (another harness on the machine picking ports at random would
// otherwise find them free), releasing them just before the restart.
//
// Children die with the harness. Each is started with Pdeathsig = SIGKILL,
// from one OS thread reserved for that (the signal fires when the forking
// thread exits, not the process, and Go ends threads that a goroutine locked
// and left). The stdin pipe is the second line of defence. Each child runs in
// its own process group, so a Ctrl-C at the terminal reaches the harness
// only, which then stops the nodes itself; Kill, Pause and Resume signal the
// whole group.
package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/cluster/mesh"
	"github.com/faultline/faultline/internal/freeport"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/admin"
)

const (
	// readyTimeout caps how long Start waits for a node to become ready,
	// whatever the caller's context allows.
	readyTimeout = 60 * time.Second
	// readyPoll is how often Start asks a starting node for its status.
	readyPoll = 50 * time.Millisecond
	// statusTimeout bounds one admin request when the caller's context
	// does not (a paused node never answers).
	statusTimeout = 5 * time.Second
	// reapTimeout bounds Close's wait for a SIGKILLed child to be reaped.
	reapTimeout = 10 * time.Second
	// logTailLines is how much of a node's log a start failure quotes.
	logTailLines = 20
)

// Cluster is a cluster of local node processes. It implements
// cluster.Cluster; its methods are safe for concurrent use.
type Cluster struct {
	mesh.Links // partitions, link toxics and heal, through the mesh

	spec    cluster.Spec
	logger  *slog.Logger
	spawner *spawner
	http    *http.Client
	ids     []int
	nodes   map[int]*node
	// ports stay reserved until Close, so no other faultline run takes a
	// killed node's port before it restarts. They are not bound meanwhile:
	// a killed node refuses connections, as a crashed process does; a
	// listener that never accepts would turn it into a black hole.
	ports *freeport.Ports

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ cluster.Cluster = (*Cluster)(nil)

// node is one node's fixed configuration and, when it runs, its process.
type node struct {
	cfg     systems.NodeConfig
	logPath string

	// mu serialises starting, signalling and reaping this node.
	mu   sync.Mutex
	proc *proc // nil when stopped
}

// proc is one run of a node's process.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once Wait has returned
	err    error         // Wait's result, set before exited is closed
	paused bool          // guarded by node.mu
}

func (p *proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Start starts spec.Nodes nodes wired through a new mesh and returns once
// every node reports ready (or fails, when it has stopped everything it
// started). The wait is bounded by ctx and by a minute.
func Start(ctx context.Context, spec cluster.Spec) (*Cluster, error) {
	if spec.Nodes < 1 {
		return nil, fmt.Errorf("process runtime: need at least one node, got %d", spec.Nodes)
	}
	if len(spec.Command) == 0 || spec.Command[0] == "" {
		return nil, errors.New("process runtime: no node command")
	}
	if spec.RunDir == "" {
		return nil, errors.New("process runtime: no run directory")
	}
	logger := spec.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("runtime", "process")
	for _, dir := range []string{filepath.Join(spec.RunDir, "data"), filepath.Join(spec.RunDir, "nodes")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("process runtime: %w", err)
		}
	}

	// Node ports come from below the ephemeral range, where neither the
	// mesh's proxies (bound to :0) nor outgoing connections can take them.
	reserved, err := freeport.Reserve(3 * spec.Nodes)
	if err != nil {
		return nil, fmt.Errorf("process runtime: %w", err)
	}
	ports := reserved.Addrs
	upstreams := make(map[int]string, spec.Nodes)
	for id := 1; id <= spec.Nodes; id++ {
		upstreams[id] = ports[3*(id-1)]
	}
	m, err := mesh.New(ctx, logger, upstreams)
	if err != nil {
		reserved.Release()
		return nil, fmt.Errorf("process runtime: %w", err)
	}

	c := &Cluster{
		ports:   reserved,
		spec:    spec,
		logger:  logger,
		Links:   mesh.Links{Mesh: m},
		spawner: newSpawner(),
		http: &http.Client{
			Timeout: statusTimeout,
			// A killed node leaves dead keep-alive connections behind.
			Transport: &http.Transport{DisableKeepAlives: true},
		},
		nodes: make(map[int]*node, spec.Nodes),
	}
	for id := 1; id <= spec.Nodes; id++ {
		name := systems.NodeName(id)
		c.ids = append(c.ids, id)
		c.nodes[id] = &node{
			cfg: systems.NodeConfig{
				System:       spec.System,
				ID:           id,
				Name:         name,
				PeerListen:   ports[3*(id-1)],
				ClientListen: ports[3*(id-1)+1],
				AdminListen:  ports[3*(id-1)+2],
				Peers:        m.PeersOf(id),
				DataDir:      filepath.Join(spec.RunDir, "data", name),
				Bugs:         slices.Clone(spec.Bugs),
				Storage:      spec.Storage,
			},
			logPath: filepath.Join(spec.RunDir, "nodes", name+".log"),
		}
	}

	// Start all, then wait for all: nodes of one cluster often wait for
	// each other before they call themselves ready.
	procs := make(map[int]*proc, spec.Nodes)
	for _, id := range c.ids {
		n := c.nodes[id]
		n.mu.Lock()
		p, err := c.spawn(n)
		n.proc = p
		n.mu.Unlock()
		if err != nil {
			return nil, errors.Join(err, c.Close())
		}
		procs[id] = p
	}
	errs := make([]error, len(c.ids))
	var wg sync.WaitGroup
	for i, id := range c.ids {
		wg.Go(func() { errs[i] = c.waitReady(ctx, c.nodes[id], procs[id]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, errors.Join(fmt.Errorf("process runtime: cluster did not come up: %w", err), c.Close())
	}
	logger.Info("cluster ready", "system", spec.System, "nodes", spec.Nodes, "run_dir", spec.RunDir)
	return c, nil
}

// Nodes returns every node's endpoints, by ID.
func (c *Cluster) Nodes() []systems.Endpoint {
	eps := make([]systems.Endpoint, 0, len(c.ids))
	for _, id := range c.ids {
		cfg := c.nodes[id].cfg
		eps = append(eps, systems.Endpoint{ID: id, Name: cfg.Name, Client: cfg.ClientListen, Admin: cfg.AdminListen})
	}
	return eps
}

// Mesh is the mesh between the nodes, for faults beyond partitions (link
// toxics).
func (c *Cluster) Mesh() *mesh.Mesh { return c.Links.Mesh }

// PID returns the process ID of a running node.
func (c *Cluster) PID(id int) (int, bool) {
	n, err := c.node(id)
	if err != nil {
		return 0, false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil || !n.proc.running() {
		return 0, false
	}
	return n.proc.cmd.Process.Pid, true
}

// Kill stops a node with SIGKILL (paused or not) and returns once it has
// been reaped. Killing a stopped node is a no-op.
func (c *Cluster) Kill(ctx context.Context, id int) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return c.kill(ctx, n)
}

// kill SIGKILLs n's process group and waits for the reap; n.mu is held.
func (c *Cluster) kill(ctx context.Context, n *node) error {
	p := n.proc
	if p == nil {
		return nil
	}
	if err := signalGroup(p, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s: %w", n.cfg.Name, err)
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		// Keep n.proc: the node is not known to be gone, so it must not
		// be started again on its ports yet.
		return fmt.Errorf("kill %s: waiting for pid %d to exit: %w", n.cfg.Name, p.cmd.Process.Pid, ctx.Err())
	}
	n.proc = nil
	c.logger.Info("node killed", "node", n.cfg.Name, "pid", p.cmd.Process.Pid)
	return nil
}

// Start starts a stopped (killed or crashed) node again on its data dir and
// ports and returns once it reports ready. Starting a running node is a
// no-op.
func (c *Cluster) Start(ctx context.Context, id int) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	if c.closed.Load() {
		n.mu.Unlock()
		return errors.New("process runtime: cluster is closed")
	}
	if n.proc != nil && n.proc.running() {
		n.mu.Unlock()
		return nil
	}
	p, err := c.spawn(n)
	n.proc = p
	n.mu.Unlock()
	if err != nil {
		return err
	}
	// Wait without the lock, so the nemesis can kill a node that is
	// still starting.
	return c.waitReady(ctx, n, p)
}

// Pause freezes a running node with SIGSTOP and returns once it is stopped.
// Pausing a paused node is a no-op.
func (c *Cluster) Pause(ctx context.Context, id int) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.proc
	if p == nil || !p.running() {
		return fmt.Errorf("pause %s: not running", n.cfg.Name)
	}
	if p.paused {
		return nil
	}
	if err := signalGroup(p, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("pause %s: %w", n.cfg.Name, err)
	}
	p.paused = true
	// Signals arrive asynchronously; the caller records the pause as done
	// when we return, so make it true.
	if err := waitState(ctx, p, true); err != nil {
		return fmt.Errorf("pause %s: %w", n.cfg.Name, err)
	}
	c.logger.Info("node paused", "node", n.cfg.Name, "pid", p.cmd.Process.Pid)
	return nil
}

// Resume thaws a paused node with SIGCONT and returns once it runs again.
// Resuming a node that is not paused is a no-op.
func (c *Cluster) Resume(ctx context.Context, id int) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.proc
	if p == nil || !p.running() || !p.paused {
		return nil
	}
	if err := signalGroup(p, syscall.SIGCONT); err != nil {
		return fmt.Errorf("resume %s: %w", n.cfg.Name, err)
	}
	p.paused = false
	if err := waitState(ctx, p, false); err != nil {
		return fmt.Errorf("resume %s: %w", n.cfg.Name, err)
	}
	c.logger.Info("node resumed", "node", n.cfg.Name, "pid", p.cmd.Process.Pid)
	return nil
}

// Status asks a node's admin endpoint. A paused node does not answer: the
// call fails when ctx ends, and after 5s at most.
func (c *Cluster) Status(ctx context.Context, id int) (systems.Status, error) {
	n, err := c.node(id)
	if err != nil {
		return systems.Status{}, err
	}
	return c.status(ctx, n)
}

func (c *Cluster) status(ctx context.Context, n *node) (systems.Status, error) {
	st, err := admin.GetStatus(ctx, c.http, n.cfg.AdminListen)
	if err != nil {
		return st, fmt.Errorf("status of %s: %w", n.cfg.Name, err)
	}
	return st, nil
}

// SetClock sets a node's clock offset through its admin endpoint.
func (c *Cluster) SetClock(ctx context.Context, id int, offset time.Duration) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	if err := admin.SetClock(ctx, c.http, n.cfg.AdminListen, offset); err != nil {
		return fmt.Errorf("set clock of %s: %w", n.cfg.Name, err)
	}
	return nil
}

// Close SIGKILLs every node, waits for them to be reaped and stops the
// mesh. It is safe to call more than once; later calls return the first
// call's result.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), reapTimeout)
		defer cancel()
		var errs []error
		for _, id := range c.ids {
			n := c.nodes[id]
			n.mu.Lock()
			errs = append(errs, c.kill(ctx, n))
			n.mu.Unlock()
		}
		// No node lock is held and closed is set, so no spawn can be under
		// way or start later.
		c.spawner.stop()
		errs = append(errs, c.Links.Mesh.Close())
		c.http.CloseIdleConnections()
		errs = append(errs, c.ports.Release())
		c.closeErr = errors.Join(errs...)
		c.logger.Info("cluster closed")
	})
	return c.closeErr
}

func (c *Cluster) node(id int) (*node, error) {
	n, ok := c.nodes[id]
	if !ok {
		return nil, fmt.Errorf("process runtime: no node %d (nodes are 1..%d)", id, len(c.ids))
	}
	return n, nil
}

// spawn starts n's process; n.mu is held.
func (c *Cluster) spawn(n *node) (*proc, error) {
	name := n.cfg.Name
	if err := os.MkdirAll(n.cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	logf, err := os.OpenFile(n.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: open log: %w", name, err)
	}
	// The child has its own descriptor once started.
	defer logf.Close()

	args := append(slices.Clone(c.spec.Command[1:]), n.cfg.Args()...)
	cmd := exec.Command(c.spec.Command[0], args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Held open, never written: EOF tells the node the harness is gone.
	// Wait closes it once the child has exited.
	if _, err := cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("start %s: stdin pipe: %w", name, err)
	}
	fmt.Fprintf(logf, "--- faultline: starting %s at %s: %s\n", name, time.Now().Format(time.RFC3339Nano), strings.Join(cmd.Args, " "))
	if err := c.spawner.start(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	c.logger.Info("node started", "node", name, "pid", cmd.Process.Pid)
	return p, nil
}

// waitReady polls n's status until it is ready, p exits, or the wait ends.
func (c *Cluster) waitReady(ctx context.Context, n *node, p *proc) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
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
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready (%v); last lines of %s:\n%s",
				n.cfg.Name, p.err, n.logPath, cluster.LogTail(n.logPath, logTailLines))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last: %s); last lines of %s:\n%s",
				n.cfg.Name, ctx.Err(), last, n.logPath, cluster.LogTail(n.logPath, logTailLines))
		case <-tick.C:
		}
	}
}

// signalGroup signals p's process group, unless p has exited already.
func signalGroup(p *proc, sig syscall.Signal) error {
	if !p.running() {
		return nil
	}
	// The group ID is the leader's PID (Setpgid). ESRCH: it just died.
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to group %d: %w", sig, p.cmd.Process.Pid, err)
	}
	return nil
}

// waitState waits until the kernel reports p stopped (or no longer
// stopped), or p exits.
func waitState(ctx context.Context, p *proc, stopped bool) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		state, err := procState(p.cmd.Process.Pid)
		if err != nil || !p.running() || (state == 'T') == stopped {
			return nil // gone or there: either way nothing left to wait for
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pid %d still in state %c: %w", p.cmd.Process.Pid, state, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// procState is the state letter of /proc/<pid>/stat (R, S, T, Z, ...).
func procState(pid int) (byte, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// "pid (comm) S ...": comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return 0, fmt.Errorf("odd /proc/%d/stat: %q", pid, b)
	}
	return b[i+2], nil
}

// spawner starts children from one OS thread that lives as long as the
// cluster. Pdeathsig fires when the thread that forked a child exits, and Go
// ends a thread whenever a goroutine that locked it returns without
// unlocking (netns helpers do that) — a thread we merely ran on could be
// such a thread later. A thread we lock ourselves is ours until stop.
type spawner struct {
	reqs chan spawnReq
}

type spawnReq struct {
	cmd  *exec.Cmd
	errc chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq)}
	go func() {
		// Never unlocked: when stop ends this goroutine its thread exits,
		// after Close has killed every child.
		goruntime.LockOSThread()
		for r := range s.reqs {
			r.errc <- r.cmd.Start()
		}
	}()
	return s
}

func (s *spawner) start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	s.reqs <- spawnReq{cmd: cmd, errc: errc}
	return <-errc
}

// stop ends the spawner thread; no start may follow.
func (s *spawner) stop() { close(s.reqs) }
