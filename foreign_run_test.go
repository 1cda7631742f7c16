package faultline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/systems"
)

// A foreign system (its nodes a program of their own, peers at one
// advertised address each) runs through the same Run as the built-ins:
// on the process runtime it gets kills, while partitions and clock faults
// are skipped with the reason in test.json and the result, never faked.
func TestForeignSystemRunsUnderKillsAndSkipsWhatItCannotTake(t *testing.T) {
	res, err := Run(context.Background(), New(primaryStore{}, Nodes(3), Nemesis("kill", "partition", "clock"),
		TimeLimit(4*time.Second), NemesisInterval(time.Second), Rate(100), Seed(2), ResultsDir(t.TempDir())))
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != Valid {
		t.Errorf("verdict %s (%s), want valid", res.Verdict, res.Reason)
	}
	skipped := map[string]string{}
	for _, s := range res.Test.Skipped {
		skipped[s.Fault] = s.Reason
	}
	if !strings.Contains(skipped["partition"], "process runtime") || !strings.Contains(skipped["clock"], "ClockSetter") || len(skipped) != 2 {
		t.Errorf("skipped %v, want partition (process runtime) and clock (no ClockSetter)", skipped)
	}
	b, err := os.ReadFile(filepath.Join(res.RunDir, store.TestFile))
	if err != nil || !strings.Contains(string(b), `"skipped_faults"`) {
		t.Errorf("test.json does not record the skipped faults (%v)", err)
	}
	events, err := history.ReadFile(filepath.Join(res.RunDir, store.HistoryFile))
	if err != nil {
		t.Fatal(err)
	}
	kills, okWrites := 0, 0
	for _, e := range events {
		switch {
		case e.F == history.Kill && e.Type == history.Info:
			kills++
		case e.F == history.StartPartition || e.F == history.StartClock:
			t.Errorf("a skipped fault ran: %+v", e)
		case e.F == history.OpWrite && e.Type == history.OK:
			okWrites++
		}
	}
	if kills == 0 || okWrites == 0 {
		t.Errorf("%d kills and %d acknowledged writes in the history, want some of each", kills, okWrites)
	}
	// The node program got its command line, environment and files: it
	// checks them itself and exits 1 otherwise, and the cluster came up.
	log, _ := os.ReadFile(filepath.Join(res.RunDir, "nodes", "n2.log"))
	if !strings.Contains(string(log), foreignArg) || !strings.Contains(string(log), "serving on") {
		t.Errorf("n2.log does not show the foreign command line and start:\n%s", log)
	}
}

// Bad input: a system adapter or node program that cannot start ends the
// run with a cluster error (exit 3) naming the node and its log, and
// leaves nothing running.
func TestForeignNodesThatCannotStartSayWhichAndLeaveNothing(t *testing.T) {
	sh := func(script string) primaryStore {
		return primaryStore{
			exe: func() (string, error) { return "/bin/sh", nil },
			command: func(cfg systems.NodeConfig) (systems.Command, error) {
				return systems.Command{Args: []string{"-c", script, cfg.Name}}, nil
			},
		}
	}
	for _, c := range []struct {
		name string
		sys  primaryStore
		want []string
	}{
		{"adapter has no program", primaryStore{exe: func() (string, error) { return "", errors.New("not built: run make primary") }},
			[]string{"system primary: node program: not built: run make primary"}},
		{"program missing", primaryStore{exe: func() (string, error) { return "/nonexistent/primary", nil }},
			[]string{"node program: stat /nonexistent/primary: no such file"}},
		{"adapter cannot build a command", primaryStore{command: func(cfg systems.NodeConfig) (systems.Command, error) {
			return systems.Command{}, errors.New("no port for " + cfg.Name)
		}}, []string{"command of node n1: no port for n1"}},
		{"program exits at once", sh(`echo "boom: bad flag" >&2; exit 7`),
			[]string{"n1 exited before it was ready (exit status 7)", "n1.log", "boom: bad flag"}},
		{"node never ready", sh(`echo $$ > pid; echo waiting forever; exec sleep 600`),
			[]string{"not ready", "n1.log", "waiting forever"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			results := t.TempDir()
			_, err := Run(context.Background(), New(c.sys, Nodes(2), Nemesis("kill"), TimeLimit(time.Second),
				StartTimeout(2*time.Second), ResultsDir(results)))
			t.Logf("error: %v", err)
			if code := exitcode.FromError(err); code != exitcode.Unknown {
				t.Errorf("exit code %d (%v), want %d", code, err, exitcode.Unknown)
			}
			for _, w := range c.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v\nwant it to contain %q", err, w)
				}
			}
			// The run dir, not the "latest" link to it.
			pids, _ := filepath.Glob(filepath.Join(results, "2*", "data", "*", "pid"))
			if strings.Contains(c.name, "never ready") && len(pids) != 2 {
				t.Fatalf("%d nodes wrote their pid, want 2", len(pids))
			}
			for _, p := range pids {
				b, _ := os.ReadFile(p)
				pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				if pid > 0 && syscall.Kill(pid, 0) == nil && !zombie(pid) {
					t.Errorf("node pid %d still runs after the failed start", pid)
				}
			}
		})
	}
}
