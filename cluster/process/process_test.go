package process

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/cluster"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case fakeNodeArg:
			os.Exit(fakeNode(os.Args[2:]))
		case fakeHarnessArg:
			os.Exit(fakeHarness(os.Args[2:]))
		}
	}
	os.Exit(m.Run())
}

func fakeSpec(t *testing.T, nodes int, bugs ...string) cluster.Spec {
	return cluster.Spec{
		System:  "fake",
		Nodes:   nodes,
		Bugs:    bugs,
		RunDir:  t.TempDir(),
		Command: []string{os.Args[0], fakeNodeArg},
	}
}

func startCluster(t *testing.T, spec cluster.Spec) *cluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Start(ctx, spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	state, err := procState(pid)
	return err == nil && state != 'Z' && state != 'X'
}

// waitGone waits, bounded, until pid is no longer alive.
func waitGone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still alive after %v", pid, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// leftovers lists live processes whose command line mentions dir: the
// fake nodes of a cluster that ran there.
func leftovers(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), dir) && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func mustPID(t *testing.T, c *cluster.Cluster, id int) int {
	t.Helper()
	pid, ok := PID(c, id)
	if !ok {
		t.Fatalf("n%d is not running", id)
	}
	return pid
}

// get fetches a fake node's client endpoint.
func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s%s: %v", addr, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestLifecycle(t *testing.T) {
	spec := fakeSpec(t, 3)
	c := startCluster(t, spec)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	eps := c.Nodes()
	if len(eps) != 3 {
		t.Fatalf("Nodes() = %v", eps)
	}
	for i, ep := range eps {
		if ep.ID != i+1 || ep.Name != fmt.Sprintf("n%d", i+1) || !strings.HasPrefix(ep.Admin, "127.0.0.1:") || !strings.HasPrefix(ep.Client, "127.0.0.1:") {
			t.Fatalf("endpoint %d = %+v", i, ep)
		}
		st, err := c.Status(ctx, ep.ID)
		if err != nil || !st.Ready || st.Node != ep.Name {
			t.Fatalf("Status(%d) = %+v, %v", ep.ID, st, err)
		}
		pid := mustPID(t, c, ep.ID)
		// Own process group, and stdin a pipe the harness holds.
		if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
			t.Errorf("n%d: pgid %d (%v), want its own group %d", ep.ID, pgid, err, pid)
		}
		if fd0, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", pid)); err != nil || !strings.HasPrefix(fd0, "pipe:") {
			t.Errorf("n%d: stdin is %q (%v), want a pipe", ep.ID, fd0, err)
		}
		log, err := os.ReadFile(filepath.Join(spec.RunDir, "nodes", ep.Name+".log"))
		if err != nil || !strings.Contains(string(log), ep.Name+": fake node of fake up") || !strings.Contains(string(log), "--- faultline: starting "+ep.Name) {
			t.Errorf("log of %s: %q, %v", ep.Name, log, err)
		}
	}

	t.Run("kill and restart", func(t *testing.T) {
		pid := mustPID(t, c, 2)
		if err := c.Kill(ctx, 2); err != nil {
			t.Fatalf("Kill: %v", err)
		}
		if alive(pid) {
			t.Fatalf("pid %d alive after Kill", pid)
		}
		if _, ok := PID(c, 2); ok {
			t.Fatalf("PID(2) reports a running node after Kill")
		}
		if _, err := c.Status(ctx, 2); err == nil {
			t.Fatalf("Status of a killed node succeeded")
		}
		// A crashed process refuses connections at once; it is not a
		// black hole (nothing may keep its ports bound while it is down).
		if conn, err := net.DialTimeout("tcp", eps[1].Client, time.Second); err == nil {
			conn.Close()
			t.Fatalf("a killed node's client port %s accepted a connection", eps[1].Client)
		} else if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dialing a killed node: %v, want connection refused", err)
		}
		if err := c.Kill(ctx, 2); err != nil {
			t.Fatalf("second Kill: %v", err)
		}

		if err := c.Start(ctx, 2); err != nil {
			t.Fatalf("Start: %v", err)
		}
		pid2 := mustPID(t, c, 2)
		if pid2 == pid || !alive(pid2) {
			t.Fatalf("restarted pid %d (old %d)", pid2, pid)
		}
		if got := c.Nodes()[1]; got != eps[1] {
			t.Fatalf("endpoint changed across restart: %+v, was %+v", got, eps[1])
		}
		if st, err := c.Status(ctx, 2); err != nil || !st.Ready {
			t.Fatalf("Status after restart = %+v, %v", st, err)
		}
		starts, _ := os.ReadFile(filepath.Join(spec.RunDir, "data", "n2", "starts"))
		if got := strings.Fields(string(starts)); len(got) != 2 || got[0] != strconv.Itoa(pid) || got[1] != strconv.Itoa(pid2) {
			t.Fatalf("data dir starts file = %q, want pids %d and %d", starts, pid, pid2)
		}
		if err := c.Start(ctx, 2); err != nil || mustPID(t, c, 2) != pid2 {
			t.Fatalf("Start of a running node should be a no-op: %v", err)
		}
	})

	t.Run("pause and resume", func(t *testing.T) {
		if err := c.Pause(ctx, 3); err != nil {
			t.Fatalf("Pause: %v", err)
		}
		if s, _ := procState(mustPID(t, c, 3)); s != 'T' {
			t.Fatalf("paused node in state %c", s)
		}
		short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
		_, err := c.Status(short, 3)
		cancelShort()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Status of a paused node: %v, want a deadline error", err)
		}
		if err := c.Pause(ctx, 3); err != nil {
			t.Fatalf("second Pause: %v", err)
		}
		if err := c.Resume(ctx, 3); err != nil {
			t.Fatalf("Resume: %v", err)
		}
		if st, err := c.Status(ctx, 3); err != nil || !st.Ready {
			t.Fatalf("Status after Resume = %+v, %v", st, err)
		}
		if err := c.Resume(ctx, 3); err != nil {
			t.Fatalf("Resume of a running node: %v", err)
		}
	})

	t.Run("kill a paused node", func(t *testing.T) {
		pid := mustPID(t, c, 1)
		if err := c.Pause(ctx, 1); err != nil {
			t.Fatalf("Pause: %v", err)
		}
		killCtx, cancelKill := context.WithTimeout(ctx, 5*time.Second)
		defer cancelKill()
		if err := c.Kill(killCtx, 1); err != nil {
			t.Fatalf("Kill of a paused node: %v", err)
		}
		if alive(pid) {
			t.Fatalf("paused pid %d alive after Kill", pid)
		}
		if err := c.Pause(ctx, 1); err == nil {
			t.Fatalf("Pause of a killed node should fail")
		}
		if err := c.Start(ctx, 1); err != nil {
			t.Fatalf("Start after killing a paused node: %v", err)
		}
	})

	t.Run("close", func(t *testing.T) {
		var pids []int
		for id := 1; id <= 3; id++ {
			pids = append(pids, mustPID(t, c, id))
		}
		if err := c.Pause(ctx, 2); err != nil { // Close must take paused nodes too
			t.Fatalf("Pause: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		for _, pid := range pids {
			if alive(pid) {
				t.Errorf("pid %d alive after Close", pid)
			}
		}
		if left := leftovers(spec.RunDir); len(left) > 0 {
			t.Errorf("processes left after Close: %v", left)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := c.Start(ctx, 1); err == nil {
			t.Fatalf("Start after Close should fail")
		}
	})
}

func TestPartitionReachesNodes(t *testing.T) {
	c := startCluster(t, fakeSpec(t, 3))
	ctx := context.Background()
	client := map[int]string{}
	for _, ep := range c.Nodes() {
		client[ep.ID] = ep.Client
	}
	send := func(from, to int) bool {
		code, _ := get(t, client[from], fmt.Sprintf("/send?to=%d", to))
		return code == http.StatusOK
	}
	heard := func(id, from int) int {
		_, body := get(t, client[id], "/heard")
		var h map[string]int
		if err := json.Unmarshal([]byte(body), &h); err != nil {
			t.Fatalf("heard: %q: %v", body, err)
		}
		return h[strconv.Itoa(from)]
	}

	for from := 1; from <= 3; from++ {
		for to := 1; to <= 3; to++ {
			if from != to && !send(from, to) {
				t.Fatalf("n%d cannot reach n%d before any partition", from, to)
			}
		}
	}
	if err := c.Partition(ctx, cluster.Grudge{2: {1}}); err != nil {
		t.Fatalf("Partition: %v", err)
	}
	before := heard(2, 1)
	if send(1, 2) {
		t.Fatalf("n1 reached n2 although n2 must not hear n1")
	}
	if got := heard(2, 1); got != before {
		t.Fatalf("n2 heard n1 during the partition (%d -> %d)", before, got)
	}
	before = heard(1, 2)
	if send(2, 1) {
		t.Fatalf("n2 got n1's echo although n2 must not hear n1")
	}
	if got := heard(1, 2); got != before+1 {
		t.Fatalf("n1 should still hear n2: count %d -> %d", before, got)
	}
	if !send(1, 3) || !send(3, 2) {
		t.Fatalf("links outside the grudge should work")
	}
	if err := c.Heal(ctx); err != nil {
		t.Fatalf("Heal: %v", err)
	}
	if !send(1, 2) || !send(2, 1) {
		t.Fatalf("n1 and n2 should reach each other after Heal")
	}
}

func TestStartFailureQuotesLogAndCleansUp(t *testing.T) {
	spec := fakeSpec(t, 3, bugFailOnN2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	c, err := Start(ctx, spec)
	if err == nil {
		c.Close()
		t.Fatalf("Start succeeded although n2 exits at once")
	}
	msg := err.Error()
	for _, want := range []string{"n2 exited before it was ready", "exit status 3", "n2: boom #30", "n2: boom #11"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "boom #10") {
		t.Errorf("error quotes more than the last %d lines:\n%s", cluster.LogTailLines, msg)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("a node that exits should fail Start at once, took %v", d)
	}
	if left := leftovers(spec.RunDir); len(left) > 0 {
		t.Errorf("nodes left running after a failed Start: %v", left)
	}
}

func TestStartNeverReadyIsBounded(t *testing.T) {
	spec := fakeSpec(t, 1, bugNeverReady)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := Start(ctx, spec)
	if err == nil {
		c.Close()
		t.Fatalf("Start succeeded although the node never gets ready")
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not ready") || !strings.Contains(err.Error(), "fake node of fake up") {
		t.Fatalf("error should say the node was not ready in time and quote its log: %v", err)
	}
	if left := leftovers(spec.RunDir); len(left) > 0 {
		t.Errorf("nodes left running: %v", left)
	}
}

func TestBadSpec(t *testing.T) {
	ctx := context.Background()
	for _, spec := range []cluster.Spec{
		{Nodes: 0, RunDir: t.TempDir(), Command: []string{"x"}},
		{Nodes: 1, RunDir: t.TempDir()},
		{Nodes: 1, Command: []string{"x"}},
	} {
		if c, err := Start(ctx, spec); err == nil {
			c.Close()
			t.Errorf("Start(%+v) should fail", spec)
		}
	}
	spec := fakeSpec(t, 1)
	spec.Command = []string{filepath.Join(t.TempDir(), "no-such-binary")}
	if c, err := Start(ctx, spec); err == nil {
		c.Close()
		t.Errorf("Start with a missing binary should fail")
	}
}

// TestNodesDieWithHarness SIGKILLs a harness process (this test binary in
// its harness role) and expects its nodes to follow: by both means, and by
// the parent-death signal alone when the nodes ignore stdin EOF.
func TestNodesDieWithHarness(t *testing.T) {
	t.Run("stdin and pdeathsig", func(t *testing.T) { testNodesDieWithHarness(t) })
	t.Run("pdeathsig alone", func(t *testing.T) { testNodesDieWithHarness(t, bugIgnoreStdin) })
}

func testNodesDieWithHarness(t *testing.T, bugs ...string) {
	runDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{fakeHarnessArg, runDir}, bugs...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- line
	}()
	var line string
	select {
	case line = <-lines:
	case <-ctx.Done():
		t.Fatalf("helper harness printed nothing")
	}
	fields := strings.Fields(line)
	if len(fields) != 4 || fields[0] != "pids" {
		t.Fatalf("helper harness said %q", line)
	}
	var pids []int
	for _, f := range fields[1:] {
		pid, err := strconv.Atoi(f)
		if err != nil || !alive(pid) {
			t.Fatalf("helper reported pid %q, not a live process", f)
		}
		pids = append(pids, pid)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	for _, pid := range pids {
		waitGone(t, pid, 5*time.Second)
	}
	if left := leftovers(runDir); len(left) > 0 {
		t.Errorf("nodes outlived their harness: %v", left)
	}
}
