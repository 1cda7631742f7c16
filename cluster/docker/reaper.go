package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
)

// LabelCluster names one cluster (its container name prefix); the reaper
// removes by it.
const LabelCluster = "dev.faultline.cluster"

// reapEnv, set in a process's environment, makes that process a reaper
// of the cluster it names (see init).
const reapEnv = "FAULTLINE_DOCKER_REAP"

// A reaper is this very binary re-executed with reapEnv set: whatever
// program runs the docker driver (the CLI, a test binary, a user's own
// program) links this package, so it can reap without any other binary
// at hand. Its init runs before main and TestMain, reaps and exits.
func init() {
	if name := os.Getenv(reapEnv); name != "" {
		os.Exit(reapMain(name))
	}
}

// reapMain is a reaper process: it waits for EOF on stdin and removes the
// cluster's containers and network. It logs to stderr (the reaper log).
func reapMain(name string) int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("reaper", name)
	if err := reap(context.Background(), name, os.Stdin, logger); err != nil {
		logger.Error("reap failed", "err", err)
		return 1
	}
	return 0
}

// reaper is a child process that removes the cluster's containers and
// network once the harness is gone, however it went: containers do not die
// with their harness the way Pdeathsig children do, and a panic in any
// goroutine or a SIGKILL skips Close. It waits for EOF on a stdin pipe the
// harness holds, in a process group of its own so a terminal's Ctrl-C does
// not reach it. After a normal Close it finds nothing and exits.
type reaper struct {
	cmd   *exec.Cmd
	stdin io.Closer
	done  chan struct{}
}

// startReaper re-executes this binary as the reaper of cluster name. Off
// Linux there is none (no /proc/self/exe): `faultline clean` is the only
// fallback there.
func startReaper(name, logPath string, logger *slog.Logger) *reaper {
	if goruntime.GOOS != "linux" {
		logger.Debug("no reaper off Linux", "goos", goruntime.GOOS)
		return nil
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		logger.Warn("no reaper", "err", err)
		return nil
	}
	defer logf.Close()
	// /proc/self/exe, not os.Args[0]: it runs even when the binary was
	// replaced or removed since (go run, a rebuild).
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), reapEnv+"="+name)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		logger.Warn("no reaper", "err", err)
		return nil
	}
	if err := cmd.Start(); err != nil {
		logger.Warn("no reaper", "err", err)
		return nil
	}
	r := &reaper{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(r.done)
	}()
	logger.Info("reaper started", "pid", cmd.Process.Pid, "cluster", name)
	return r
}

// stop tells the reaper the harness closed the cluster itself and waits
// for it, bounded.
func (r *reaper) stop() {
	if r == nil {
		return
	}
	r.stdin.Close()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
	}
}

// reap waits until in reaches EOF, then removes every container and
// network labelled with cluster.
func reap(ctx context.Context, cluster string, in io.Reader, logger *slog.Logger) error {
	if cluster == "" {
		return errors.New("reap: no cluster named")
	}
	_, _ = io.Copy(io.Discard, in)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	cli, err := engine(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	f := filters.NewArgs(filters.Arg("label", LabelCluster+"="+cluster))
	var errs []error
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return fmt.Errorf("reap: list containers: %w", err)
	}
	for _, c := range cs {
		if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); !goneOrGoing(err) {
			errs = append(errs, fmt.Errorf("reap: remove container %s: %w", firstOr(c.Names, c.ID), err))
			continue
		}
		logger.Info("reaped container", "container", firstOr(c.Names, c.ID))
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("reap: list networks: %w", err))...)
	}
	for _, n := range ns {
		if err := removeNetwork(ctx, cli, n.ID); err != nil {
			errs = append(errs, fmt.Errorf("reap: remove network %s: %w", n.Name, err))
			continue
		}
		logger.Info("reaped network", "network", n.Name)
	}
	return errors.Join(errs...)
}

// reaperLog is where a cluster's reaper writes.
func reaperLog(runDir string) string { return filepath.Join(runDir, "nodes", "reaper.log") }
