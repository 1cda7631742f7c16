package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/suites/catalog"
)

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"-n", "0"}, {"-bugs", "no-such-bug"}, {"-frobnicate"}} {
		err := run(context.Background(), args, io.Discard)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
}

func TestMedian(t *testing.T) {
	s := time.Second
	for _, c := range []struct {
		in   []time.Duration
		want string
	}{{nil, "—"}, {[]time.Duration{3 * s}, "3s"}, {[]time.Duration{5 * s, 1 * s, 3 * s}, "3s"}, {[]time.Duration{4 * s, 1 * s}, "2.5s"}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestMatrix(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.md")
	b := &bench{c: config{seeds: 3, firstSeed: 1, runtime: "process", out: out}, started: time.Now()}
	correct := &tally{runs: 3, invalid: 1}
	b.rows = []row{
		{bug: catalog.Bug{Name: "x", Scenario: catalog.Scenario{System: "raft", Workload: "register", Faults: []string{"partition", "kill"},
			Interval: 2 * time.Second, Time: time.Minute, Nodes: 3}},
			withBug: tally{runs: 3, invalid: 2, unknown: 1, firsts: []time.Duration{4 * time.Second, 6 * time.Second}}, correct: correct},
		{bug: catalog.Bug{Name: "y", Scenario: catalog.Scenario{System: "gossip", Workload: "set", Faults: []string{"clock"}, Time: time.Minute}},
			skipped: "not in this build"},
	}
	if err := b.write(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	for _, want := range []string{"Seeds 1..3 per bug",
		"| x | raft | register | partition,kill every 2s, 3 nodes | 1m0s | 2/3 | 5s | 1/3 | with bug: 1 unknown |",
		"| y | gossip | set | clock | 1m0s | not measured | | | not in this build |"} {
		if !strings.Contains(string(got), want) {
			t.Errorf("matrix lacks %q:\n%s", want, got)
		}
	}
}
