package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the faultline CLI: with FAULTLINE_AS_CLI set
// it runs the command line instead of the tests. Nodes are started through
// os.Executable, so they are this binary too and inherit the variable.
func TestMain(m *testing.M) {
	if os.Getenv("FAULTLINE_AS_CLI") != "" {
		if os.Getenv("FAULTLINE_TEST_NODE_HANGS") != "" && len(os.Args) > 1 && os.Args[1] == "node" {
			select {} // never listens, never ready; killed with the cluster
		}
		if os.Getenv("FAULTLINE_TEST_NODE_FAILS") != "" && len(os.Args) > 1 && os.Args[1] == "node" {
			fmt.Fprintln(os.Stderr, "test node: failing on purpose before listening")
			os.Exit(1)
		}
		if d, err := time.ParseDuration(os.Getenv("FAULTLINE_TEST_PANIC_AFTER")); err == nil && len(os.Args) > 1 && os.Args[1] == "run" {
			go func() {
				// d after the run's first event, not after start-up: a
				// loaded machine may take longer than d to bring the
				// cluster up, and a panic before it proves nothing.
				waitFirstEvent(os.Args)
				time.Sleep(d)
				panic("test: harness panics mid-run")
			}()
		}
		main()
		return
	}
	os.Exit(m.Run())
}

// waitFirstEvent waits until the run named by args' --results has
// written an event to its history (at most two minutes).
func waitFirstEvent(args []string) {
	results := ""
	for i, a := range args {
		if a == "--results" && i+1 < len(args) {
			results = args[i+1]
		}
	}
	if results == "" {
		return
	}
	for end := time.Now().Add(2 * time.Minute); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if fi, err := os.Stat(filepath.Join(results, "latest", "history.jsonl")); err == nil && fi.Size() > 0 {
			return
		}
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// cli runs the faultline CLI as a child process with a hard deadline.
// wantUsageLine asserts a refusal: exit 2 and one line on stderr
// containing want. It reports whether the exit code was 2.
func wantUsageLine(t *testing.T, args []string, r result, want string) bool {
	t.Helper()
	if r.code != 2 {
		t.Errorf("%v: exit %d, want 2\n%s", args, r.code, r.stderr)
		return false
	}
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], want) {
		t.Errorf("%v: stderr %q, want one line containing %q", args, r.stderr, want)
	}
	return true
}

// staleReadHistory writes 1 then 2 to x and then reads 1: not
// linearizable.
const staleReadHistory = `{"process":0,"type":"invoke","f":"write","key":"x","value":1}
{"process":0,"type":"ok","f":"write","key":"x","value":1}
{"process":1,"type":"invoke","f":"write","key":"x","value":2}
{"process":1,"type":"ok","f":"write","key":"x","value":2}
{"process":2,"type":"invoke","f":"read","key":"x","value":null}
{"process":2,"type":"ok","f":"read","key":"x","value":1}
`

func cli(t *testing.T, timeout time.Duration, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "FAULTLINE_AS_CLI=1"), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("faultline %v did not finish in %s\nstderr:\n%s", args, timeout, tail(errb.String(), 30))
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func readResults(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// nodePIDs finds every node pid the harness logged starting.
func nodePIDs(t *testing.T, runDir string) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runDir, "harness.log"))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, m := range regexp.MustCompile(`msg="node started".* pid=(\d+)`).FindAllStringSubmatch(string(b), -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	if len(pids) == 0 {
		t.Fatalf("no node pids in harness.log:\n%s", tail(string(b), 20))
	}
	return pids
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the ")" closing the command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func waitGone(t *testing.T, pids []int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var left []int
		for _, p := range pids {
			if alive(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			t.Fatalf("node processes %v still alive %s after the harness ended", left, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRunThenCheckReproducesTheVerdict(t *testing.T) {
	results := t.TempDir()
	r := cli(t, 2*time.Minute, nil, "run", "--system", "quorum", "--nodes", "3", "--time-limit", "6s",
		"--nemesis", "partition,kill", "--nemesis-interval", "1500ms", "--seed", "11", "--results", results, "-q")
	if r.code != 0 {
		t.Fatalf("run exit %d, want 0\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, tail(r.stderr, 30))
	}
	if !strings.HasPrefix(r.stdout, "valid") {
		t.Fatalf("stdout does not start with the verdict:\n%s", r.stdout)
	}
	latest := filepath.Join(results, "latest")
	for _, f := range []string{"test.json", "history.jsonl", "results.json", "harness.log", "nodes/n1.log", "nodes/n3.log", "report.html", "../index.html"} {
		if _, err := os.Stat(filepath.Join(latest, f)); err != nil {
			t.Errorf("run dir lacks %s: %v", f, err)
		}
	}
	res := readResults(t, latest)
	if res["valid"] != true {
		t.Fatalf("results.json valid = %v", res["valid"])
	}
	stats := res["stats"].(map[string]any)["ops"].(map[string]any)
	if stats["ok"].(float64) < 100 {
		t.Fatalf("only %v ok operations in 6s", stats["ok"])
	}
	var test map[string]any
	b, _ := os.ReadFile(filepath.Join(latest, "test.json"))
	_ = json.Unmarshal(b, &test)
	if test["seed"] != 11.0 || test["rate"] != 200.0 || test["schedule"] == nil {
		t.Fatalf("test.json lacks the seed, resolved defaults or schedule: %v", test)
	}
	hist, _ := os.ReadFile(filepath.Join(latest, "history.jsonl"))
	for _, f := range []string{`"f":"start-partition"`, `"f":"kill"`, `"f":"restart"`} {
		if !bytes.Contains(hist, []byte(f)) && !bytes.Contains(hist, []byte(`"f":"stop-partition"`)) {
			t.Errorf("history lacks nemesis event %s", f)
		}
	}
	waitGone(t, nodePIDs(t, latest), 5*time.Second)

	c := cli(t, time.Minute, nil, "check", latest)
	if c.code != 0 || !strings.Contains(c.stdout, "valid") {
		t.Fatalf("check exit %d, want 0:\n%s\n%s", c.code, c.stdout, c.stderr)
	}
}

func TestCheckFindsAStaleReadAndWritesTheVisualization(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "h.jsonl")
	hist := staleReadHistory
	if err := os.WriteFile(path, []byte(hist), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cli(t, time.Minute, nil, "check", "--out", dir, path)
	if r.code != 1 {
		t.Fatalf("check exit %d, want 1 (anomaly)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, `"x"`) {
		t.Fatalf("output does not name the failing key:\n%s", r.stdout)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "linearizable-*.html")); len(m) != 1 {
		t.Fatalf("want one visualization, got %v", m)
	}
	page, err := os.ReadFile(filepath.Join(dir, "h.report.html"))
	if err != nil || !strings.Contains(r.stdout, "report: "+filepath.Join(dir, "h.report.html")) {
		t.Fatalf("no report beside the history (%v):\n%s", err, r.stdout)
	}
	if !strings.Contains(string(page), `href="linearizable-x.html"`) || !strings.Contains(string(page), "after write 2 to x was acknowledged") {
		t.Errorf("the report does not explain the stale read or link its visualization")
	}
}

func TestBadInputExitsTwoWithAOneLineReason(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	_ = os.WriteFile(bad, []byte(`{"process":0,"type":"invoke","f":"read","key":"x"}`+"\n"+`{"process":0,"type":"done","f":"read"}`+"\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--system", "paxos"}, `unknown system "paxos" (valid: `},
		{[]string{"run", "--workload", "bank"}, `unknown workload "bank" (valid: counter, lock, lww, register, set)`},
		{[]string{"run", "--nemesis", "partition,flood"}, `unknown nemesis "flood" (valid: all, none, a family — partition, link, kill, pause, clock, power-loss — or a member`},
		{[]string{"run", "--nemesis", "partition-grudge"}, `nemesis partition-grudge needs a grudge: give --grudge or --grudge-file`},
		{[]string{"run", "--nemesis", "partition-grudge", "--grudge", "n1|n9"}, `--grudge: grudge: node "n9": want n1..n5`},
		{[]string{"run", "--grudge", "n1|n2"}, `a grudge was given but --nemesis does not include partition-grudge`},
		{[]string{"run", "--bug", "no-such-bug"}, `unknown bug "no-such-bug" for system quorum (valid: no-write-back)`},
		{[]string{"run", "--nodes", "2"}, `--nodes 2 is too few for quorum: it needs at least 3`},
		{[]string{"run", "--time-limit", "-1s"}, `--time-limit -1s: want 100ms..24h`},
		{[]string{"run", "--frobnicate"}, `unknown flag: --frobnicate`},
		{[]string{"check", bad}, bad + `:2: type "done" is not one of invoke, ok, fail, info`},
		{[]string{"check", filepath.Join(dir, "missing")}, `cannot read`},
		{[]string{"check", "--workload", "bank", bad}, `unknown workload "bank"`},
		{[]string{"run", "--system", "quorum", "--nemesis", "figure8"}, `nemesis figure8 needs a system whose nodes elect a leader, and quorum has none (systems with leaders: raft)`},
		{[]string{"shrink", filepath.Join(dir, "missing")}, `shrink ` + filepath.Join(dir, "missing")},
		{[]string{"shrink", "--replays", "0", filepath.Join(dir, "missing")}, `--replays 0: want 1..100`},
	}
	for _, c := range cases {
		r := cli(t, 30*time.Second, nil, append(c.args, "--results", dir)...)
		if c.args[0] == "check" || c.args[0] == "shrink" {
			r = cli(t, 30*time.Second, nil, c.args...)
		}
		wantUsageLine(t, c.args, r, c.want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("bad runs left results behind: %v", entries)
	}
}

func TestNodeThatCannotStartExitsThreeWithItsLog(t *testing.T) {
	results := t.TempDir()
	r := cli(t, time.Minute, []string{"FAULTLINE_TEST_NODE_FAILS=1"}, "run", "--nodes", "3", "--time-limit", "5s", "--results", results, "-q")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "failing on purpose") {
		t.Fatalf("stderr does not carry the node's log tail:\n%s", r.stderr)
	}
	res := readResults(t, filepath.Join(results, "latest"))
	if res["valid"] != "unknown" {
		t.Fatalf("results.json valid = %v, want unknown", res["valid"])
	}
}

// startRun starts a long run in the background and waits until its history
// has grown, so there is something to lose.
func startRun(t *testing.T, results string) (*exec.Cmd, *bytes.Buffer, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "run", "--system", "quorum", "--nodes", "3", "--time-limit", "60s",
		"--nemesis-interval", "1s", "--seed", "5", "--results", results)
	cmd.Env = append(os.Environ(), "FAULTLINE_AS_CLI=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	latest := filepath.Join(results, "latest")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if fi, err := os.Stat(filepath.Join(latest, "history.jsonl")); err == nil && fi.Size() > 20_000 {
			return cmd, &out, latest
		}
		if time.Now().After(deadline) {
			t.Fatalf("run recorded too little in 30s:\n%s", tail(out.String(), 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestInterruptStopsTheRunCleansUpAndStillJudges(t *testing.T) {
	results := t.TempDir()
	cmd, out, latest := startRun(t, results)
	start := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	code := cmd.ProcessState.ExitCode()
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("run took %s to stop after SIGINT", took)
	}
	if code != 3 && code != 1 {
		t.Fatalf("exit %d (%v), want 3 (interrupted, unknown) or 1\n%s", code, err, tail(out.String(), 20))
	}
	waitGone(t, nodePIDs(t, latest), 5*time.Second)
	res := readResults(t, latest)
	if res["interrupted"] != true {
		t.Fatalf("results.json does not say interrupted: %v", res)
	}
	c := cli(t, time.Minute, nil, "check", latest)
	if c.code != 0 && c.code != 1 {
		t.Fatalf("check of the interrupted run: exit %d\n%s", c.code, c.stderr)
	}
}

func TestSIGKILLedHarnessLeavesNoNodesAndACheckableHistory(t *testing.T) {
	results := t.TempDir()
	cmd, _, latest := startRun(t, results)
	pids := nodePIDs(t, latest)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitGone(t, pids, 5*time.Second)
	if _, err := os.Stat(filepath.Join(latest, "results.json")); !os.IsNotExist(err) {
		t.Fatalf("a killed harness should not have written results.json (err=%v)", err)
	}
	c := cli(t, time.Minute, nil, "check", latest)
	if c.code != 0 && c.code != 1 {
		t.Fatalf("check of the killed run: exit %d\n%s\n%s", c.code, c.stdout, c.stderr)
	}
	if !strings.Contains(c.stdout, "events from") {
		t.Fatalf("check printed no event count:\n%s", c.stdout)
	}
}

func TestPanickingHarnessLeavesNoNodes(t *testing.T) {
	results := t.TempDir()
	r := cli(t, time.Minute, []string{"FAULTLINE_TEST_PANIC_AFTER=2s"}, "run", "--nodes", "3", "--time-limit", "30s", "--results", results, "-q")
	if r.code != 2 || !strings.Contains(r.stderr, "test: harness panics mid-run") {
		t.Fatalf("exit %d, want Go's panic exit 2 with the panic message\n%s", r.code, tail(r.stderr, 10))
	}
	latest := filepath.Join(results, "latest")
	waitGone(t, nodePIDs(t, latest), 5*time.Second)
	if c := cli(t, time.Minute, nil, "check", latest); c.code != 0 && c.code != 1 {
		t.Fatalf("check of the panicked run: exit %d\n%s", c.code, c.stderr)
	}
}

func TestListNamesSystemsBugsAndFaults(t *testing.T) {
	r := cli(t, 30*time.Second, nil, "list")
	for _, want := range []string{"quorum", "no-write-back", "register", "partition", "kill",
		"all — every family", "partition-majority-ring — every node sees a majority", "partition-one-way — ",
		"link-blackhole — ", "link-reset — ", "pause-leader — ", "power-loss-all — ", "clock-strobe — ", "clock-scramble — ",
		"partition-leader-plus-one — ", "partition-new-leader — ", "kill-new-leader — ", "pause-new-leader — ",
		"figure8 — Raft's Figure 8", "strand-write — ", "Wait conditions of schedules (until): leader, new-leader"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestHarnessCatchesNoWriteBack runs the quorum store with its named bug
// under slow links and expects anomalies: the harness's reason to exist.
// Catching is probabilistic, so up to three seeds get a chance; one seed
// caught it in each of five 30-second runs measured.
func TestHarnessCatchesNoWriteBack(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the seeded-bug run (up to a minute)")
	}
	results := t.TempDir()
	for _, seed := range []string{"1", "2", "3"} {
		// The catalog's quick spec: 3 nodes, unthrottled (12 of 12 seeds
		// caught in 8-10 s).
		r := cli(t, 2*time.Minute, nil, "run", "--system", "quorum", "--bug", "no-write-back", "--nemesis", "slow",
			"--nodes", "3", "--rate", "0", "--time-limit", "8s", "--seed", seed, "--results", results, "-q")
		switch r.code {
		case 1:
			latest := filepath.Join(results, "latest")
			if m, _ := filepath.Glob(filepath.Join(latest, "linearizable-*.html")); len(m) == 0 {
				t.Fatalf("invalid run wrote no visualization in %s", latest)
			}
			if c := cli(t, time.Minute, nil, "check", latest); c.code != 1 {
				t.Fatalf("check of the invalid run: exit %d, want 1\n%s", c.code, c.stdout)
			}
			return
		case 0:
			t.Logf("seed %s: no anomaly this time", seed)
		default:
			t.Fatalf("seed %s: exit %d\n%s\n%s", seed, r.code, r.stdout, tail(r.stderr, 20))
		}
	}
	t.Fatal("no-write-back went unnoticed in three seeded runs under slow links")
}

// Nothing judged proves nothing: a history in which no operation succeeded
// is unknown (exit 3), not valid.
func TestCheckOfAHistoryWithNothingJudgedIsUnknown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	hist := `{"process":0,"type":"invoke","f":"write","key":"x","value":1}
{"process":0,"type":"fail","f":"write","key":"x","value":1}
{"process":1,"type":"invoke","f":"read","key":"x","value":null}
{"process":1,"type":"fail","f":"read","key":"x","value":null}
`
	if err := os.WriteFile(path, []byte(hist), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cli(t, time.Minute, nil, "check", path)
	if r.code != 3 || !strings.HasPrefix(r.stdout[strings.Index(r.stdout, "\n")+1:], "unknown") {
		t.Fatalf("check exit %d, want 3 (unknown)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// check writes its visualizations and report into the run dir; symlinks
// planted there under those names are replaced, and the files they point
// to, outside the run dir, are left as they were.
func TestCheckNeverWritesThroughAPlantedSymlink(t *testing.T) {
	run := t.TempDir()
	hist := staleReadHistory
	if err := os.WriteFile(filepath.Join(run, "history.jsonl"), []byte(hist), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	planted := map[string]string{}
	for _, name := range []string{"linearizable-x.html", "report.html"} {
		target := filepath.Join(outside, name+".precious")
		if err := os.WriteFile(target, []byte("precious"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(run, name)); err != nil {
			t.Fatal(err)
		}
		planted[name] = target
	}
	r := cli(t, time.Minute, nil, "check", "--workload", "register", run)
	if r.code != 1 {
		t.Fatalf("check exit %d, want 1 (the stale read)\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for name, target := range planted {
		if b, err := os.ReadFile(target); err != nil || string(b) != "precious" {
			t.Errorf("check wrote through the symlink %s: its target holds %.40q (%v)", name, b, err)
		}
		if fi, err := os.Lstat(filepath.Join(run, name)); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s is not a regular file after check (%v)", name, err)
		}
	}
}

// A panic on the command's path is an internal error: exit 4, one line
// naming it, then the stack — not Go's exit 2, which means bad usage. (The
// list command given no stdout panics on its first write.)
func TestPanicInACommandExitsFourWithOneLineAndTheStack(t *testing.T) {
	var stderr bytes.Buffer
	code := execute(context.Background(), []string{"list"}, nil, &stderr)
	if code != 4 {
		t.Fatalf("exit %d, want 4 (internal error)\n%s", code, stderr.String())
	}
	lines := strings.Split(stderr.String(), "\n")
	if !strings.HasPrefix(lines[0], "faultline: internal error: panic: ") || !strings.Contains(lines[0], "nil pointer") {
		t.Errorf("first line %q; want the panic on one line", lines[0])
	}
	if len(lines) < 3 || !strings.HasPrefix(lines[1], "goroutine ") || !strings.Contains(stderr.String(), "newListCmd") {
		t.Errorf("no stack after the line:\n%s", stderr.String())
	}
}

// The results dir removed while the run goes on: the verdict still prints
// and the exit code is the verdict's; what could not be stored is a
// warning on stderr.
func TestRunWhoseResultsDirIsRemovedStillPrintsItsVerdict(t *testing.T) {
	results := filepath.Join(t.TempDir(), "results")
	removed := make(chan error, 1)
	go func() {
		waitFirstEvent([]string{"--results", results})
		removed <- os.RemoveAll(results)
	}()
	r := cli(t, 2*time.Minute, nil, "run", "--nodes", "3", "--nemesis", "none", "--time-limit", "3s", "--seed", "1", "--results", results, "-q")
	if err := <-removed; err != nil {
		t.Fatal(err)
	}
	if r.code != 0 || !strings.HasPrefix(r.stdout, "valid") {
		t.Fatalf("exit %d, want 0 with the verdict printed\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, tail(r.stderr, 10))
	}
	if !strings.Contains(r.stderr, "results.json not stored") || !strings.Contains(r.stderr, "level=WARN") {
		t.Errorf("stderr does not warn that results.json was not stored:\n%s", tail(r.stderr, 10))
	}
	if _, err := os.Stat(results); err == nil {
		t.Error("the results dir came back")
	}
}

// A run dir whose results.json says its history could not be stored in
// full is re-judged unknown by check: the file is only a prefix of what
// ran, so the valid prefix proves nothing.
func TestCheckOfARunWithAHistoryErrorStaysUnknown(t *testing.T) {
	run := t.TempDir()
	hist := `{"process":0,"type":"invoke","f":"write","key":"x","value":1}
{"process":0,"type":"ok","f":"write","key":"x","value":1}
{"process":1,"type":"invoke","f":"read","key":"x","value":null}
{"process":1,"type":"ok","f":"read","key":"x","value":1}
`
	res := `{"valid": "unknown", "reason": "the history could not be stored in full", "checkers": {}, "stats": {}, "history_error": "history: write event 4: no space left on device"}`
	for name, body := range map[string]string{"history.jsonl": hist, "results.json": res} {
		if err := os.WriteFile(filepath.Join(run, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := cli(t, time.Minute, nil, "check", "--workload", "register", run)
	if r.code != 3 || !strings.Contains(r.stdout, "could not be stored in full") || !strings.Contains(r.stderr, "no space left on device") {
		t.Fatalf("check exit %d, want 3 naming the history error\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
