package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/registry"
)

// needEngine skips the test when no Docker engine can be had; CI starts
// one (.ci/run), so there these tests run.
func needEngine(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Available(ctx); err != nil {
		t.Skipf("skipping: needs a Docker engine: %v", err)
	}
}

// leftovers lists containers and networks labelled with run.
func leftovers(t *testing.T, run string) []Removed {
	t.Helper()
	left, err := Leftovers(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	return left
}

func quorumClient(t *testing.T, c *cluster.Cluster) systems.Client {
	t.Helper()
	sys, err := registry.Default().Get("quorum")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := sys.NewClient(systems.ClientConfig{Workload: "register", Nodes: c.Nodes()})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func invoke(cl systems.Client, ep systems.Endpoint, op systems.Op) systems.Completion {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return cl.Invoke(ctx, ep, op)
}

// TestCluster drives one 3-node quorum cluster through every Cluster
// method; one cluster keeps the test short.
func TestCluster(t *testing.T) {
	needEngine(t)
	// The run label comes from the dir name: unique per process, so another
	// test run on the same engine never shows up among our leftovers.
	runDir := filepath.Join(t.TempDir(), fmt.Sprintf("run-docker-test-%d", os.Getpid()))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := New()
	c, err := cluster.Start(ctx, cluster.Spec{System: "quorum", Nodes: 3, RunDir: runDir, Storage: systems.StorageDurable}, d)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	run := filepath.Base(runDir)
	eps := c.Nodes()
	cl := quorumClient(t, c)

	t.Run("endpoints are loopback and ready", func(t *testing.T) {
		for _, ep := range eps {
			if !strings.HasPrefix(ep.Client, "127.0.0.1:") || !strings.HasPrefix(ep.Admin, "127.0.0.1:") {
				t.Errorf("%s: endpoints %s, %s are not on 127.0.0.1", ep.Name, ep.Client, ep.Admin)
			}
			st, err := c.Status(ctx, ep.ID)
			if err != nil || !st.Ready || st.Node != ep.Name {
				t.Errorf("Status(%d) = %+v, %v", ep.ID, st, err)
			}
		}
		if got := invoke(cl, eps[0], systems.Op{F: "write", Key: "k", Value: 1}); got.Type != history.OK {
			t.Fatalf("write via n1: %+v", got)
		}
		if got := invoke(cl, eps[1], systems.Op{F: "read", Key: "k"}); got.Type != history.OK || fmt.Sprint(got.Value) != "1" {
			t.Fatalf("read via n2: %+v, want 1", got)
		}
	})

	t.Run("partition reaches the containers and heals", func(t *testing.T) {
		// n1 hears nobody and nobody hears n1: a write through n1 cannot
		// reach a majority.
		if err := c.Partition(ctx, cluster.Grudge{1: {2, 3}, 2: {1}, 3: {1}}); err != nil {
			t.Fatalf("Partition: %v", err)
		}
		if got := invoke(cl, eps[0], systems.Op{F: "write", Key: "k", Value: 2}); got.Type == history.OK {
			t.Fatalf("write via isolated n1 succeeded: %+v", got)
		}
		if got := invoke(cl, eps[1], systems.Op{F: "write", Key: "k", Value: 3}); got.Type != history.OK {
			t.Fatalf("write via n2 (majority side): %+v", got)
		}
		faults, err := c.LinkFaults(ctx)
		if err != nil || len(faults) != 8 {
			t.Fatalf("LinkFaults = %q, %v; want the 8 streams into and out of n1", faults, err)
		}
		if err := c.SetLinkToxic(ctx, 2, 3, cluster.Toxic{Name: "slow", Type: "latency", Attributes: map[string]any{"latency": 10}}); err != nil {
			t.Fatalf("SetLinkToxic: %v", err)
		}
		if err := c.Heal(ctx); err != nil {
			t.Fatalf("Heal: %v", err)
		}
		if faults, err := c.LinkFaults(ctx); err != nil || len(faults) != 0 {
			t.Fatalf("LinkFaults after Heal = %q, %v", faults, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := invoke(cl, eps[0], systems.Op{F: "write", Key: "k", Value: 4})
			if got.Type == history.OK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("write via n1 after Heal: %+v", got)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("kill and restart keep the container and its data", func(t *testing.T) {
		before, _ := d.ContainerID(2)
		if err := c.Kill(ctx, 2); err != nil {
			t.Fatalf("Kill: %v", err)
		}
		if err := c.Kill(ctx, 2); err != nil {
			t.Fatalf("second Kill should be a no-op: %v", err)
		}
		info, err := d.cli.ContainerInspect(ctx, before)
		if err != nil || info.State.Running || info.State.ExitCode != 137 {
			t.Fatalf("after Kill: state %+v, %v; want stopped by SIGKILL (137)", info.State, err)
		}
		sctx, scancel := context.WithTimeout(ctx, time.Second)
		_, err = c.Status(sctx, 2)
		scancel()
		if err == nil {
			t.Fatalf("Status of a killed node answered")
		}
		if err := c.Start(ctx, 2); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if err := c.Start(ctx, 2); err != nil {
			t.Fatalf("second Start should be a no-op: %v", err)
		}
		if after, _ := d.ContainerID(2); after != before {
			t.Fatalf("restart made a new container: %s, was %s", after, before)
		}
		// The node reloads its store from /data: it reports the key it
		// held before the kill.
		// The log is streamed from the container, so the ready line can
		// land a moment after the admin endpoint said ready.
		var log []byte
		var ready [][]string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			log, _ = os.ReadFile(filepath.Join(runDir, "nodes", "n2.log"))
			ready = regexp.MustCompile(`quorum node ready".* keys=(\d+)`).FindAllStringSubmatch(string(log), -1)
			if len(ready) >= 2 {
				break
			}
		}
		if len(ready) != 2 || ready[1][1] == "0" {
			t.Fatalf("want two starts in n2.log, the second with keys > 0; got %q\n%s", ready, log)
		}
	})

	t.Run("a kill whose caller gave up still completes", func(t *testing.T) {
		// The nemesis's last kill can be cut short by the end of the run;
		// the node must then be dead, not dying later behind a recovery
		// that saw it running.
		gone, cancelGone := context.WithCancel(ctx)
		cancelGone()
		if err := c.Kill(gone, 1); err != nil {
			t.Fatalf("Kill with an ended context: %v", err)
		}
		id, _ := d.ContainerID(1)
		if info, err := d.cli.ContainerInspect(ctx, id); err != nil || info.State.Running {
			t.Fatalf("after Kill: running=%v, %v", info.State != nil && info.State.Running, err)
		}
		if err := c.Start(ctx, 1); err != nil {
			t.Fatalf("Start: %v", err)
		}
	})

	t.Run("pause freezes, kill works on a paused node", func(t *testing.T) {
		if err := c.Pause(ctx, 3); err != nil {
			t.Fatalf("Pause: %v", err)
		}
		if err := c.Pause(ctx, 3); err != nil {
			t.Fatalf("second Pause should be a no-op: %v", err)
		}
		sctx, scancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, err := c.Status(sctx, 3)
		scancel()
		if err == nil {
			t.Fatalf("a paused node answered its admin endpoint")
		}
		if err := c.Resume(ctx, 3); err != nil {
			t.Fatalf("Resume: %v", err)
		}
		if st, err := c.Status(ctx, 3); err != nil || !st.Ready {
			t.Fatalf("Status after Resume: %+v, %v", st, err)
		}
		if err := c.Pause(ctx, 3); err != nil {
			t.Fatalf("Pause: %v", err)
		}
		if err := c.Kill(ctx, 3); err != nil {
			t.Fatalf("Kill of a paused node: %v", err)
		}
		if err := c.Pause(ctx, 3); err == nil || !errors.Is(err, cluster.ErrNotRunning) {
			t.Fatalf("Pause of a killed node: %v, want not running", err)
		}
		if err := c.Start(ctx, 3); err != nil {
			t.Fatalf("Start after a paused kill: %v", err)
		}
	})

	t.Run("clock offset through the admin endpoint", func(t *testing.T) {
		if err := c.SetClock(ctx, 1, 3*time.Second); err != nil {
			t.Fatalf("SetClock: %v", err)
		}
		if st, err := c.Status(ctx, 1); err != nil || st.ClockOffsetNS != int64(3*time.Second) {
			t.Fatalf("Status after SetClock: %+v, %v", st, err)
		}
	})

	t.Run("logs and close", func(t *testing.T) {
		for name, start := range map[string]string{
			"n1": "starting n1", "n2": "starting n2", "n3": "starting n3",
			"toxiproxy": "starting container " + d.name + "-toxiproxy",
		} {
			b, err := os.ReadFile(filepath.Join(runDir, "nodes", name+".log"))
			if err != nil || !strings.Contains(string(b), "--- faultline: "+start) {
				t.Errorf("%s.log lacks %q: %v\n%s", name, start, err, b)
			}
		}
		// Clean --images finds the image by its label.
		if info, err := d.cli.ImageInspect(ctx, d.image); err != nil || info.Config == nil || info.Config.Labels[LabelManaged] != "true" {
			t.Errorf("image %s lacks label %s=true (%v)", d.image, LabelManaged, err)
		}
		if left := leftovers(t, run); len(left) != 5 {
			t.Fatalf("before Close, want 4 containers and a network, got %v", left)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if left := leftovers(t, run); len(left) != 0 {
			t.Fatalf("after Close: %v", left)
		}
		if err := c.Start(ctx, 1); err == nil {
			t.Fatalf("Start after Close succeeded")
		}
	})
}

// TestStartFailureCleansUp starts a cluster whose nodes cannot start (an
// unknown system): Start fails quoting the node's log and leaves nothing.
func TestStartFailureCleansUp(t *testing.T) {
	needEngine(t)
	runDir := filepath.Join(t.TempDir(), "run-docker-fail")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := Start(ctx, cluster.Spec{System: "no-such-system", Nodes: 2, RunDir: runDir})
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "no-such-system") {
		t.Fatalf("Start: %v; want the node's exit with its log quoted", err)
	}
	if left := leftovers(t, filepath.Base(runDir)); len(left) != 0 {
		t.Fatalf("after a failed Start: %v", left)
	}
}

func TestNotStaticNode(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if why := notStaticNode(exe); why == "" {
		t.Fatalf("the test binary %s was taken for a static faultline-node", exe)
	}
	if why := notStaticNode(filepath.Join(t.TempDir(), "missing")); why == "" {
		t.Fatalf("a missing file was taken for a static faultline-node")
	}
}
