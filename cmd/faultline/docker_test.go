package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/cluster/docker"
)

// needDocker skips when no Docker engine can be had (CI starts one).
func needDocker(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := docker.Available(ctx); err != nil {
		t.Skipf("skipping: needs a Docker engine: %v", err)
	}
}

// dockerLeftovers lists the containers and networks of the run in dir.
func dockerLeftovers(t *testing.T, dir string) []docker.Removed {
	t.Helper()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	left, err := docker.Leftovers(context.Background(), filepath.Base(real))
	if err != nil {
		t.Fatal(err)
	}
	return left
}

func runtimeOf(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "test.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec struct{ Runtime string }
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	return spec.Runtime
}

func TestDockerRunLeavesNothing(t *testing.T) {
	needDocker(t)
	results := t.TempDir()
	// auto picks docker when an engine answers, and test.json says so.
	r := cli(t, 4*time.Minute, nil, "run", "--runtime", "auto", "--system", "quorum", "--nodes", "3",
		"--nemesis", "partition,kill", "--nemesis-interval", "2s", "--time-limit", "6s", "--seed", "2", "--results", results, "-q")
	if r.code != 0 {
		t.Fatalf("exit %d, want 0\n%s\n%s", r.code, r.stdout, tail(r.stderr, 30))
	}
	latest := filepath.Join(results, "latest")
	if got := runtimeOf(t, latest); got != "docker" {
		t.Fatalf("test.json runtime = %q, want docker", got)
	}
	// Node logs start with the node's command line: the image's
	// node-only program.
	for name, start := range map[string]string{
		"n1": "starting n1 at ", "n2": "starting n2 at ", "n3": "starting n3 at ",
		"toxiproxy": "starting container ",
	} {
		b, err := os.ReadFile(filepath.Join(latest, "nodes", name+".log"))
		if err != nil || !bytes.Contains(b, []byte("--- faultline: "+start)) {
			t.Errorf("nodes/%s.log lacks %q: %v", name, start, err)
		}
		if name != "toxiproxy" && !bytes.Contains(b, []byte(": /faultline-node --system quorum --id ")) {
			t.Errorf("nodes/%s.log does not show the node-only program running the node:\n%s", name, b)
		}
	}
	if left := dockerLeftovers(t, latest); len(left) != 0 {
		t.Fatalf("after the run: %v", left)
	}
}

// startDockerRun starts a long docker run in the background and returns
// once its cluster is up and clients have recorded something.
func startDockerRun(t *testing.T, results string) (*exec.Cmd, *bytes.Buffer, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "run", "--runtime", "docker", "--system", "quorum", "--nodes", "3",
		"--time-limit", "120s", "--nemesis-interval", "1s", "--seed", "5", "--results", results)
	cmd.Env = append(os.Environ(), "FAULTLINE_AS_CLI=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	latest := filepath.Join(results, "latest")
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if fi, err := os.Stat(filepath.Join(latest, "history.jsonl")); err == nil && fi.Size() > 5_000 {
			return cmd, &out, latest
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker run recorded too little in 3m:\n%s", tail(out.String(), 30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDockerInterruptedRunLeavesNothing(t *testing.T) {
	needDocker(t)
	cmd, out, latest := startDockerRun(t, t.TempDir())
	if left := dockerLeftovers(t, latest); len(left) != 5 {
		t.Fatalf("while running, want 3 node containers, a proxy and a network, got %v", left)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 3 && code != 1 {
		t.Fatalf("exit %d, want 3 (interrupted) or 1\n%s", code, tail(out.String(), 20))
	}
	if left := dockerLeftovers(t, latest); len(left) != 0 {
		t.Fatalf("after Ctrl-C: %v", left)
	}
}

// reaperPID is the PID of the run's reaper, from its harness.log.
func reaperPID(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "harness.log"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`msg="reaper started" .*pid=(\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("harness.log names no reaper:\n%s", b)
	}
	pid, _ := strconv.Atoi(string(m[1]))
	return pid
}

func TestDockerReaperRemovesWhatAKilledHarnessLeft(t *testing.T) {
	needDocker(t)
	cmd, _, latest := startDockerRun(t, t.TempDir())
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(time.Minute)
	for {
		left := dockerLeftovers(t, latest)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after the harness was SIGKILLed: %v\nreaper.log:\n%s", left, readFile(filepath.Join(latest, "nodes", "reaper.log")))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func TestDockerCleanRemovesWhatAKilledHarnessAndReaperLeft(t *testing.T) {
	needDocker(t)
	cmd, _, latest := startDockerRun(t, t.TempDir())
	// Kill the reaper first, as `kill -9` of everything would.
	if err := syscall.Kill(reaperPID(t, latest), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	left := dockerLeftovers(t, latest)
	if len(left) == 0 {
		t.Fatalf("a SIGKILLed harness cannot clean up, yet nothing is left: the test proves nothing")
	}
	r := cli(t, 2*time.Minute, nil, "clean")
	if r.code != 0 {
		t.Fatalf("clean: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, l := range left {
		if !strings.Contains(r.stdout, "removed "+l.Kind+" "+l.Name) {
			t.Errorf("clean did not report removing %s %s:\n%s", l.Kind, l.Name, r.stdout)
		}
	}
	if left := dockerLeftovers(t, latest); len(left) != 0 {
		t.Fatalf("after clean: %v", left)
	}
}

func TestDockerWithoutEngineSaysHowToStartOne(t *testing.T) {
	results := t.TempDir()
	r := cli(t, time.Minute, []string{"DOCKER_HOST=unix:///nonexistent/docker.sock"},
		"run", "--runtime", "docker", "--time-limit", "1s", "--results", results)
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != 3 || len(lines) != 1 || !strings.Contains(r.stderr, "no Docker engine answers") || !strings.Contains(r.stderr, "start one") {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 3 and one line saying no engine answers and how to start one", r.code, r.stderr)
	}
}

func TestDockerPanickingHarnessLeavesNothing(t *testing.T) {
	needDocker(t)
	results := t.TempDir()
	r := cli(t, 4*time.Minute, []string{"FAULTLINE_TEST_PANIC_AFTER=2s"}, "run", "--runtime", "docker",
		"--system", "quorum", "--nodes", "3", "--time-limit", "60s", "--results", results)
	if r.code != 2 || !strings.Contains(r.stderr, "test: harness panics mid-run") {
		t.Fatalf("exit %d, want Go's panic exit 2\n%s", r.code, tail(r.stderr, 10))
	}
	latest := filepath.Join(results, "latest")
	if log := readFile(filepath.Join(latest, "harness.log")); !strings.Contains(log, "container started") {
		t.Fatalf("the harness panicked before it started a container; nothing to prove:\n%s", log)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		left := dockerLeftovers(t, latest)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after the harness panicked: %v", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
