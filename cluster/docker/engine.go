package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	"github.com/testcontainers/testcontainers-go"
)

// Labels on everything the runtime creates. Clean finds leftovers by them.
const (
	LabelManaged = "dev.faultline.managed" // "true" on every container, network and image
	LabelRun     = "dev.faultline.run"     // the run's results directory name
	LabelRole    = "dev.faultline.role"    // "node" or "toxiproxy"
	LabelNode    = "dev.faultline.node"    // the node's name (n1 ...)
	LabelOwner   = "dev.faultline.owner"   // "HOST/PID" of the harness that made it
)

// pingTimeout bounds the check that an engine answers.
const pingTimeout = 5 * time.Second

// ErrNoEngine is wrapped by errors that mean no Docker engine answered.
var ErrNoEngine = errors.New("no Docker engine answers")

// noEngine says how to get one, in one line.
func noEngine(err error) error {
	first, _, _ := strings.Cut(err.Error(), "\n")
	return fmt.Errorf("%w (%s); start one (e.g. `sudo dockerd &`, `sudo systemctl start docker`, or Docker Desktop) or use --runtime process", ErrNoEngine, first)
}

// disableReaper turns off testcontainers' reaper (Ryuk): it is an image
// pulled from a registry, and this runtime removes what it creates itself.
// testcontainers reads its configuration once per process, so this must
// run before any other use of it.
func disableReaper() error {
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") != "true" {
		if err := os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true"); err != nil {
			return fmt.Errorf("disable the testcontainers reaper: %w", err)
		}
	}
	if !testcontainers.ReadConfig().RyukDisabled {
		return errors.New("testcontainers was configured with its reaper on before faultline could turn it off; set TESTCONTAINERS_RYUK_DISABLED=true")
	}
	return nil
}

// engine connects to the Docker engine testcontainers finds (DOCKER_HOST,
// the docker context, the default socket) and checks that it answers.
func engine(ctx context.Context) (*testcontainers.DockerClient, error) {
	if err := disableReaper(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	// testcontainers goes on to other engines (the default socket ...)
	// when DOCKER_HOST does not answer; a user who named one means it.
	if host := os.Getenv("DOCKER_HOST"); host != "" {
		direct, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return nil, noEngine(fmt.Errorf("DOCKER_HOST=%s: %w", host, err))
		}
		_, err = direct.Ping(ctx)
		direct.Close()
		if err != nil {
			return nil, noEngine(fmt.Errorf("DOCKER_HOST=%s: %w", host, err))
		}
	}
	cli, err := newDockerClient(ctx)
	if err != nil {
		return nil, noEngine(err)
	}
	if _, err := cli.Ping(ctx); err != nil {
		cli.Close()
		return nil, noEngine(err)
	}
	return cli, nil
}

// newDockerClient is testcontainers' client constructor, which panics
// (MustExtractDockerHost) when a socket exists but no daemon answers on it,
// as after dockerd died; that is "no engine", not a crash.
func newDockerClient(ctx context.Context) (cli *testcontainers.DockerClient, err error) {
	defer func() {
		if r := recover(); r != nil {
			cli, err = nil, fmt.Errorf("%v", r)
		}
	}()
	return testcontainers.NewDockerClientWithOpts(ctx)
}

// Available reports whether a Docker engine answers; the error says why
// not and how to start one.
func Available(ctx context.Context) error {
	cli, err := engine(ctx)
	if err != nil {
		return fmt.Errorf("docker runtime: %w", err)
	}
	return cli.Close()
}

// owner identifies this harness process on its host.
func owner() string {
	host, _ := os.Hostname()
	return host + "/" + strconv.Itoa(os.Getpid())
}

// ownerAlive reports whether the harness that labelled something with
// owner still runs: same host and a live PID. Another host's harness is
// taken to be alive (we cannot tell).
func ownerAlive(owner string) bool {
	host, pidStr, ok := strings.Cut(owner, "/")
	me, _ := os.Hostname()
	if !ok || host != me {
		return ok
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return true
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Leftovers lists the containers and networks labelled with run (a run's
// results directory name), or every one faultline made when run is "".
func Leftovers(ctx context.Context, run string) ([]Removed, error) {
	cli, err := engine(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker runtime: %w", err)
	}
	defer cli.Close()
	f := filters.NewArgs(filters.Arg("label", LabelManaged+"=true"))
	if run != "" {
		f.Add("label", LabelRun+"="+run)
	}
	var out []Removed
	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range cs {
		out = append(out, Removed{Kind: "container", Name: strings.TrimPrefix(firstOr(c.Names, c.ID), "/"), Run: c.Labels[LabelRun]})
	}
	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range ns {
		out = append(out, Removed{Kind: "network", Name: n.Name, Run: n.Labels[LabelRun]})
	}
	return out, nil
}

// Removed is one thing Clean removed or left alone.
type Removed struct {
	Kind string // container, network, image
	Name string
	Run  string // the run it belonged to, when labelled
}

// CleanOptions say what Clean removes besides the leftovers of dead harnesses.
type CleanOptions struct {
	// All removes containers and networks of harnesses that still run too.
	All bool
	// Images removes faultline's node images as well (they are rebuilt
	// when next needed).
	Images bool
}

// Clean removes every container and network faultline labelled whose
// harness is gone (a harness killed with SIGKILL cannot remove its own),
// and reports what it removed and what it left because its harness still
// runs.
func Clean(ctx context.Context, opts CleanOptions) (removed, kept []Removed, err error) {
	cli, err := engine(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("docker runtime: %w", err)
	}
	defer cli.Close()
	managed := filters.NewArgs(filters.Arg("label", LabelManaged+"=true"))
	var errs []error

	cs, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: managed})
	if err != nil {
		return nil, nil, fmt.Errorf("clean: list containers: %w", err)
	}
	for _, c := range cs {
		r := Removed{Kind: "container", Name: strings.TrimPrefix(firstOr(c.Names, c.ID), "/"), Run: c.Labels[LabelRun]}
		if !opts.All && ownerAlive(c.Labels[LabelOwner]) {
			kept = append(kept, r)
			continue
		}
		if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); !goneOrGoing(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", r.Name, err))
			continue
		}
		removed = append(removed, r)
	}

	ns, err := cli.NetworkList(ctx, network.ListOptions{Filters: managed})
	if err != nil {
		return removed, kept, errors.Join(append(errs, fmt.Errorf("clean: list networks: %w", err))...)
	}
	for _, n := range ns {
		r := Removed{Kind: "network", Name: n.Name, Run: n.Labels[LabelRun]}
		if !opts.All && ownerAlive(n.Labels[LabelOwner]) {
			kept = append(kept, r)
			continue
		}
		if err := removeNetwork(ctx, cli, n.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove network %s: %w", r.Name, err))
			continue
		}
		removed = append(removed, r)
	}

	if opts.Images {
		is, err := cli.ImageList(ctx, image.ListOptions{Filters: managed})
		if err != nil {
			return removed, kept, errors.Join(append(errs, fmt.Errorf("clean: list images: %w", err))...)
		}
		for _, im := range is {
			r := Removed{Kind: "image", Name: firstOr(im.RepoTags, im.ID)}
			_, err := cli.ImageRemove(ctx, im.ID, image.RemoveOptions{Force: opts.All, PruneChildren: true})
			switch {
			case err == nil, client.IsErrNotFound(err):
			case errdefs.IsConflict(err):
				kept = append(kept, r) // a container (of a running harness) uses it
				continue
			default:
				errs = append(errs, fmt.Errorf("remove image %s: %w", r.Name, err))
				continue
			}
			removed = append(removed, r)
		}
	}
	return removed, kept, errors.Join(errs...)
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// goneOrGoing reports whether a container removal's error still leaves
// the container gone or on its way: not found, or being removed by
// someone else (a run's reaper racing `faultline clean`).
func goneOrGoing(err error) bool {
	return err == nil || client.IsErrNotFound(err) ||
		(errdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress"))
}

// removeNetwork removes a network, waiting up to ten seconds for
// containers another remover is taking away to let go of it.
func removeNetwork(ctx context.Context, cli interface {
	NetworkRemove(ctx context.Context, id string) error
}, id string) error {
	for end := time.Now().Add(10 * time.Second); ; {
		err := cli.NetworkRemove(ctx, id)
		if err == nil || client.IsErrNotFound(err) {
			return nil
		}
		if !strings.Contains(err.Error(), "active endpoints") || time.Now().After(end) || ctx.Err() != nil {
			return err
		}
		time.Sleep(250 * time.Millisecond)
	}
}
