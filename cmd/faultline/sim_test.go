package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/faultline/faultline/internal/exitcode"
)

func runSim(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(context.Background(), append([]string{"sim", "--results", t.TempDir()}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestSimExitCodes(t *testing.T) {
	if code, _, stderr := runSim(t, "--system", "etcd"); code != exitcode.Usage || !strings.Contains(stderr, "unknown system") {
		t.Errorf("unknown system: exit %d, %q; want %d naming it", code, stderr, exitcode.Usage)
	}
	if code, _, stderr := runSim(t, "--seed", "2", "--seeds", "3"); code != exitcode.Usage || !strings.Contains(stderr, "not both") {
		t.Errorf("--seed with --seeds: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runSim(t, "--faults", "clock"); code != exitcode.Usage || !strings.Contains(stderr, "unknown fault") {
		t.Errorf("unknown fault: exit %d, %q", code, stderr)
	}
	code, out, stderr := runSim(t, "--system", "quorum", "--steps", "100", "--seed", "3")
	if code != exitcode.Valid || !strings.Contains(out, "valid") || !strings.Contains(out, "results:") {
		t.Errorf("correct quorum: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = runSim(t, "--system", "raft", "--bug", "stale-local-read", "--steps", "300", "--seeds", "10", "--shrink-runs", "3")
	if code != exitcode.Invalid || !strings.Contains(out, "fails") || !strings.Contains(out, "replay: faultline sim --system raft") {
		t.Errorf("stale-local-read search: exit %d\n%s%s", code, out, stderr)
	}
}
