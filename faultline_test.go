package faultline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/exitcode"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == foreignArg {
		if err := runForeignNode(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "primary store node:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	RunNodeIfChild()
	os.Exit(m.Run())
}

// builtin returns the included system of that name.
func builtin(t testing.TB, name string) System {
	t.Helper()
	s, err := Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRunNeedsANodeProgram(t *testing.T) {
	nodeSystems.Lock()
	saved := nodeSystems.reg
	nodeSystems.reg = nil
	nodeSystems.Unlock()
	defer func() { nodeSystems.Lock(); nodeSystems.reg = saved; nodeSystems.Unlock() }()
	t.Setenv(BinEnv, "")
	_, err := Run(context.Background(), New(builtin(t, "quorum"), ResultsDir(t.TempDir())))
	var ce *exitcode.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "RunNodeIfChild") || !strings.Contains(err.Error(), BinEnv) {
		t.Fatalf("err = %v, want a config error naming RunNodeIfChild and %s", err, BinEnv)
	}
}

func TestRunRejectsABadTest(t *testing.T) {
	test := New(nil, ResultsDir(t.TempDir()))
	test.System = "paxos" // a name alone is looked up among the built-ins
	_, err := Run(context.Background(), test)
	var ce *exitcode.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `unknown system "paxos"`) {
		t.Fatalf("err = %v, want a config error naming the system", err)
	}
}

// Stop is what suites hand to DeferCleanup: it must end a run early and
// return only when every node is gone, and the run still gets a verdict.
func TestStopEndsTheRunAndItsNodes(t *testing.T) {
	results := t.TempDir()
	r := Start(context.Background(), New(builtin(t, "quorum"), Nodes(3), TimeLimit(time.Minute), Seed(1), ResultsDir(results)))
	var pids []int
	deadline := time.Now().Add(30 * time.Second)
	for len(pids) < 3 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		pids = nodePIDs(t, results)
	}
	if len(pids) < 3 {
		t.Fatalf("nodes did not start: pids %v", pids)
	}
	// Let clients run a little: until the history has events (a loaded
	// machine may take seconds to bring the cluster up), then a moment.
	for time.Now().Before(deadline) {
		if h, _ := filepath.Glob(filepath.Join(results, "*", "history.jsonl")); len(h) > 0 {
			if fi, err := os.Stat(h[0]); err == nil && fi.Size() > 0 {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	stopped := time.Now()
	r.Stop()
	if d := time.Since(stopped); d > 45*time.Second {
		t.Errorf("Stop took %s", d)
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil && !zombie(pid) {
			t.Errorf("node pid %d still alive after Stop", pid)
		}
	}
	res, err := r.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Verdict == Invalid {
		t.Errorf("after Stop: interrupted %v, verdict %s (%s); want interrupted and not invalid", res.Interrupted, res.Verdict, res.Reason)
	}
	stored, err := Replay(res.RunDir)
	if res.Test.Seed != 1 || res.Test.System != "quorum" || err != nil || len(stored.Schedule) == 0 {
		t.Errorf("result's test is not the stored one: seed %d, system %q; stored schedule of %d steps (%v)", res.Test.Seed, res.Test.System, len(stored.Schedule), err)
	}
	r.Stop() // twice is fine
}

func nodePIDs(t *testing.T, results string) []int {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(results, "*", "harness.log"))
	var pids []int
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		for _, m := range regexp.MustCompile(`msg="node started".* pid=(\d+)`).FindAllStringSubmatch(string(b), -1) {
			pid, _ := strconv.Atoi(m[1])
			pids = append(pids, pid)
		}
	}
	return pids
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}
