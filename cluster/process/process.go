// Package process is the cluster driver that runs nodes as child processes
// of the harness, listening on loopback ports and wired to each other
// through an embedded Toxiproxy mesh (cluster/mesh, New).
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
//   - It serves GET /status on its admin address; a start returns once that
//     says ready:true.
//
// A foreign node (Spec.Foreign: a program of its own, such as etcd) is run
// as Spec.Program with the arguments and environment of its
// Foreign.Command, its files written into its data dir, and that data dir
// as its working directory. It needs neither the flags, the stdin rule nor
// /status: the core asks the system's own probe whether it is ready.
// Pdeathsig still ends it with the harness. For a system with Advertised
// addressing nothing stands between the nodes (mesh.Direct): each dials
// its peers' own peer ports, so partitions and link faults are not
// available (LinkMechanism says why) — kills and pauses are.
//
// Ports come from internal/freeport, below the ephemeral range, and stay
// reserved until Close, so no other faultline run takes a killed node's
// port before it restarts. They are not bound meanwhile: a killed node
// refuses connections, as a crashed process does; a listener that never
// accepts would turn it into a black hole.
//
// Children die with the harness. Each is started with Pdeathsig = SIGKILL,
// from one OS thread reserved for that (the signal fires when the forking
// thread exits, not the process, and Go ends threads that a goroutine locked
// and left). The stdin pipe is the second line of defence. Each child runs in
// its own process group, so a Ctrl-C at the terminal reaches the harness
// only, which then stops the nodes itself; kill, pause and resume signal the
// whole group.
package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/cluster/mesh"
	"github.com/faultline/faultline/internal/freeport"
	"github.com/faultline/faultline/systems"
)

// Driver runs a cluster's nodes as local child processes. It implements
// cluster.Driver and cluster.LinkFaulter; use it for one cluster.
type Driver struct {
	foreign bool // nodes are a foreign program: run each in its data dir
	logger  *slog.Logger
	spawner *spawner
	ports   *freeport.Ports
}

var (
	_ cluster.Driver      = (*Driver)(nil)
	_ cluster.LinkFaulter = (*Driver)(nil)
)

// New returns a driver for one cluster.
func New() *Driver { return &Driver{} }

// Start starts spec's cluster as child processes (cluster.Start with a new
// Driver).
func Start(ctx context.Context, spec cluster.Spec) (*cluster.Cluster, error) {
	return cluster.Start(ctx, spec, New())
}

// Name is "process".
func (*Driver) Name() string { return "process" }

// Prepare reserves three loopback ports per node (peer, client, admin),
// starts the embedded mesh in front of the peer ports and the spawner
// thread.
func (d *Driver) Prepare(ctx context.Context, spec cluster.Spec) (*cluster.Layout, error) {
	l := &cluster.Layout{Program: spec.Command}
	if spec.Foreign != nil {
		l.Program = []string{spec.Program}
	} else if len(spec.Command) == 0 || spec.Command[0] == "" {
		return nil, errors.New("no node command")
	}
	d.logger, d.foreign = spec.Logger, spec.Foreign != nil
	if err := os.MkdirAll(filepath.Join(spec.RunDir, "data"), 0o755); err != nil {
		return nil, err
	}
	var err error
	if d.ports, err = freeport.Reserve(3 * spec.Nodes); err != nil {
		return nil, err
	}
	upstreams := make(map[int]string, spec.Nodes)
	for i := range spec.Nodes {
		ports := d.ports.Addrs[3*i : 3*i+3]
		l.Nodes = append(l.Nodes, cluster.Place{
			PeerListen: ports[0], ClientListen: ports[1], AdminListen: ports[2],
			Client: ports[1], Admin: ports[2],
			DataDir: filepath.Join(spec.RunDir, "data", fmt.Sprintf("n%d", i+1)),
		})
		upstreams[i+1] = ports[0]
	}
	if spec.Addressing == systems.Advertised {
		// Every node dials a peer's own peer port: nothing stands between.
		for i := range l.Nodes {
			l.Nodes[i].Advertise = upstreams[i+1]
		}
		l.Mesh = mesh.NewDirect(upstreams)
	} else if l.Mesh, err = mesh.New(ctx, spec.Logger, upstreams); err != nil {
		return nil, err
	}
	d.spawner = newSpawner()
	return l, nil
}

// Spawn starts the node's command in its own process group, with its
// output in its log, Pdeathsig set and a stdin pipe held open.
func (d *Driver) Spawn(_ context.Context, l cluster.Launch) (cluster.Handle, error) {
	// The child has its own descriptor once started.
	defer l.Log.Close()
	if err := os.MkdirAll(l.Config.DataDir, 0o755); err != nil {
		return nil, err
	}
	if err := cluster.WriteFiles(l.Config.DataDir, l.Files); err != nil {
		return nil, err
	}
	cmd := exec.Command(l.Command[0], l.Command[1:]...)
	cmd.Stdout, cmd.Stderr = l.Log, l.Log
	if len(l.Env) > 0 {
		cmd.Env = append(os.Environ(), l.Env...)
	}
	if d.foreign {
		cmd.Dir = l.Config.DataDir // a foreign program's relative paths land in its data dir
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	// Held open, never written: EOF tells the node the harness is gone.
	// Wait closes it once the child has exited.
	if _, err := cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	if err := d.spawner.start(cmd); err != nil {
		return nil, err
	}
	p := &Proc{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	d.logger.Info("node started", "node", l.Config.Name, "pid", p.PID())
	return p, nil
}

// LinkMechanism: the embedded Toxiproxy mesh for PerLink systems; none
// for Advertised ones, whose peers all dial a node's one address on the
// shared loopback, so no proxy can stand on a single link.
func (*Driver) LinkMechanism(a systems.Addressing) (string, string) {
	if a == systems.Advertised {
		return "", "on the process runtime a node's one advertised peer address is the same for every node that dials it, so no proxy can stand on a single link; partitions and link faults need the docker runtime"
	}
	return MeshMechanism, ""
}

// MeshMechanism is how the process runtime's links are cut and slowed
// (test.json's link_mechanism).
const MeshMechanism = "toxiproxy mesh (embedded), one proxy per ordered pair"

// Close ends the spawner thread and releases the ports. The core has
// killed and reaped every node by then.
func (d *Driver) Close() error {
	if d.spawner != nil {
		d.spawner.stop()
	}
	if d.ports == nil {
		return nil
	}
	return d.ports.Release()
}

// Proc is one run of a node's process: the process driver's
// cluster.Handle.
type Proc struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once Wait has returned
	err    error         // Wait's result, set before exited is closed
}

// PID is the process ID (and process group ID) of the node.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// PID returns the process ID of a running node of c, a cluster on the
// process driver.
func PID(c *cluster.Cluster, id int) (int, bool) {
	h, ok := c.Handle(id)
	if !ok {
		return 0, false
	}
	p, ok := h.(*Proc)
	if !ok {
		return 0, false
	}
	return p.PID(), true
}

// Exited is closed once the process has been reaped.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// ExitStatus is Wait's error, e.g. "exit status 3" or "signal: killed".
func (p *Proc) ExitStatus() string {
	if p.err == nil {
		return "exit status 0"
	}
	return p.err.Error()
}

func (p *Proc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Signal sends SIGKILL, SIGSTOP or SIGCONT to the node's process group;
// for the last two it waits until the kernel reports the process stopped
// or running again.
func (p *Proc) Signal(ctx context.Context, sig cluster.Signal) error {
	unix := map[cluster.Signal]syscall.Signal{cluster.Kill: syscall.SIGKILL, cluster.Stop: syscall.SIGSTOP, cluster.Cont: syscall.SIGCONT}[sig]
	if !p.running() {
		return nil
	}
	// The group ID is the leader's PID (Setpgid). ESRCH: it just died.
	if err := syscall.Kill(-p.PID(), unix); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to group %d: %w", unix, p.PID(), err)
	}
	if sig == cluster.Kill {
		return nil
	}
	// Signals arrive asynchronously; the caller records the pause as done
	// when we return, so make it true.
	return p.waitState(ctx, sig == cluster.Stop)
}

// waitState waits until the kernel reports p stopped (or no longer
// stopped), or p exits.
func (p *Proc) waitState(ctx context.Context, stopped bool) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for {
		state, err := procState(p.PID())
		if err != nil || !p.running() || (state == 'T') == stopped {
			return nil // gone or there: either way nothing left to wait for
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pid %d still in state %c: %w", p.PID(), state, ctx.Err())
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
