// Command benchbugs measures how well faultline catches each named bug:
// every catalogued bug (suites/catalog) runs over N seeds under the fault
// mix that exposes it, and the correct system runs the same scenarios and
// seeds. It writes a Markdown matrix — bug, system, faults, detection rate,
// median time from the run's start to the first anomalous operation, and
// the correct system's false-alarm rate — rewritten after every bug, so an
// interrupted bench still leaves what it measured.
//
//	go run ./suites/benchbugs -n 10 -out results/bug-matrix.md
//
// Runs are sequential: measurements of timing-sensitive bugs are worth
// little on a machine running several clusters at once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/suites/catalog"
)

func main() {
	faultline.RunNodeIfChild()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchbugs:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

type config struct {
	seeds     int
	firstSeed uint64
	timeLimit time.Duration // 0: each bug's own
	only      []string
	out       string
	results   string
	runtime   string
	perCheck  time.Duration
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	var c config
	var only string
	fs := flag.NewFlagSet("benchbugs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.seeds, "n", 10, "seeds per bug (and per correct-system scenario)")
	fs.Uint64Var(&c.firstSeed, "first-seed", 1, "first seed; runs use first-seed .. first-seed+n-1")
	fs.DurationVar(&c.timeLimit, "time-limit", 0, "client time limit of every run (default: each bug's own, from suites/catalog)")
	fs.StringVar(&only, "bugs", "", "comma-separated bug names to measure (default: all)")
	fs.StringVar(&c.out, "out", "results/bug-matrix.md", "where to write the matrix")
	fs.StringVar(&c.results, "results", "results", "directory runs are stored under")
	fs.StringVar(&c.runtime, "runtime", "process", "runtime of every run")
	fs.DurationVar(&c.perCheck, "first-anomaly-check", 30*time.Second, "time limit of each prefix check when locating the first anomaly")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if c.seeds < 1 {
		return usageError{fmt.Errorf("-n must be at least 1, got %d", c.seeds)}
	}
	if only != "" {
		c.only = strings.Split(only, ",")
		known := map[string]bool{}
		for _, b := range catalog.AllBugs() {
			known[b.Name] = true
		}
		for _, name := range c.only {
			if !known[name] {
				return usageError{fmt.Errorf("-bugs: unknown bug %q (catalogued: %s)", name, strings.Join(names(catalog.AllBugs()), ", "))}
			}
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b := &bench{c: c, log: log, correct: map[string]*tally{}, started: time.Now()}
	for _, bug := range catalog.AllBugs() {
		if len(c.only) > 0 && !slices.Contains(c.only, bug.Name) {
			continue
		}
		if bug.Length == catalog.Short {
			continue // the quick CI spec of a bug; the matrix measures its thorough entry
		}
		if c.timeLimit > 0 {
			bug.Time = c.timeLimit
		}
		row := b.measure(ctx, bug)
		b.rows = append(b.rows, row)
		if err := b.write(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted; partial matrix in %s", c.out)
		}
	}
	log.Info("matrix written", "path", c.out, "took", time.Since(b.started).Round(time.Second))
	return nil
}

func names(bs []catalog.Bug) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Name)
	}
	return out
}

type bench struct {
	c       config
	log     *slog.Logger
	rows    []row
	correct map[string]*tally // by scenario name: the correct system's runs
	started time.Time
}

// tally counts the verdicts of a set of runs.
type tally struct {
	runs, invalid, unknown, errors int
	firsts                         []time.Duration // time to the first anomaly, per caught run
}

type row struct {
	bug     catalog.Bug
	skipped string // why it was not measured
	withBug tally
	correct *tally
}

func (b *bench) measure(ctx context.Context, bug catalog.Bug) row {
	r := row{bug: bug}
	if err := bug.Resolve(); err != nil {
		r.skipped = err.Error()
		b.log.Warn("not measured", "bug", bug.Name, "why", err)
		return r
	}
	for i := range uint64(b.c.seeds) {
		if ctx.Err() != nil {
			break
		}
		b.runOnce(ctx, bug, b.c.firstSeed+i, []string{bug.Name}, &r.withBug)
	}
	key := bug.Scenario.Name()
	if t, ok := b.correct[key]; ok {
		r.correct = t
		return r
	}
	r.correct = &tally{}
	for i := range uint64(b.c.seeds) {
		if ctx.Err() != nil {
			break
		}
		b.runOnce(ctx, bug, b.c.firstSeed+i, nil, r.correct)
	}
	b.correct[key] = r.correct
	return r
}

func (b *bench) runOnce(ctx context.Context, bug catalog.Bug, seed uint64, bugs []string, t *tally) {
	test := bug.Test(seed, bugs, faultline.Runtime(b.c.runtime), faultline.ResultsDir(b.c.results))
	res, err := faultline.Run(ctx, test)
	t.runs++
	if err != nil {
		t.errors++
		b.log.Error("run gave no verdict", "bug", bug.Name, "with_bug", len(bugs) > 0, "seed", seed, "err", err)
		return
	}
	switch res.Verdict {
	case faultline.Invalid:
		t.invalid++
		if e, at, err := faultline.FirstAnomaly(ctx, res, b.c.perCheck); err == nil {
			t.firsts = append(t.firsts, at)
			b.log.Info("first anomalous operation", "seed", seed, "at", at.Round(time.Millisecond), "f", e.F, "key", e.Key, "index", e.Index)
		} else {
			b.log.Warn("first anomaly not located", "seed", seed, "err", err)
		}
	case faultline.Unknown:
		t.unknown++
	}
	b.log.Info("run", "bug", bug.Name, "with_bug", len(bugs) > 0, "seed", seed, "verdict", res.Verdict, "dir", res.RunDir)
}

func (b *bench) write() error {
	var s strings.Builder
	fmt.Fprintf(&s, "# Bug-detection matrix\n\n")
	fmt.Fprintf(&s, "Seeds %d..%d per bug, runtime %s, written %s after %s.\n",
		b.c.firstSeed, b.c.firstSeed+uint64(b.c.seeds)-1, b.c.runtime,
		time.Now().UTC().Format(time.RFC3339), time.Since(b.started).Round(time.Second))
	s.WriteString("Detection: runs with the bug judged invalid. First anomaly: median time from the run's start to the " +
		"completion of the first operation after which the history is no longer valid (caught runs only). " +
		"False alarms: runs of the correct system, same scenario and seeds, judged invalid.\n\n")
	s.WriteString("| bug | system | workload | faults | time limit | detected | median first anomaly | false alarms (correct system) | notes |\n")
	s.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range b.rows {
		faults := strings.Join(r.bug.Faults, ",")
		if r.bug.Interval > 0 {
			faults += " every " + r.bug.Interval.String()
		}
		if r.bug.Nodes > 0 {
			faults += fmt.Sprintf(", %d nodes", r.bug.Nodes)
		}
		if r.bug.Unthrottled {
			faults += ", unthrottled"
		}
		if r.skipped != "" {
			fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | not measured | | | %s |\n", r.bug.Name, r.bug.System, r.bug.Workload, faults, r.bug.Time, r.skipped)
			continue
		}
		notes := notesOf("with bug", r.withBug)
		if r.correct != nil {
			notes = append(notes, notesOf("correct", *r.correct)...)
		}
		if r.bug.Unreliable != "" {
			notes = append(notes, "suite: skipped as unreliable")
		}
		fa := "—"
		if r.correct != nil && r.correct.runs > 0 {
			fa = fmt.Sprintf("%d/%d", r.correct.invalid, r.correct.runs)
		}
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %d/%d | %s | %s | %s |\n", r.bug.Name, r.bug.System, r.bug.Workload,
			faults, r.bug.Time, r.withBug.invalid, r.withBug.runs, median(r.withBug.firsts), fa, strings.Join(notes, "; "))
	}
	if err := os.MkdirAll(filepath.Dir(b.c.out), 0o755); err != nil {
		return fmt.Errorf("write matrix: %w", err)
	}
	if err := os.WriteFile(b.c.out, []byte(s.String()), 0o644); err != nil {
		return fmt.Errorf("write matrix: %w", err)
	}
	return nil
}

func notesOf(what string, t tally) []string {
	var out []string
	if t.unknown > 0 {
		out = append(out, fmt.Sprintf("%s: %d unknown", what, t.unknown))
	}
	if t.errors > 0 {
		out = append(out, fmt.Sprintf("%s: %d without verdict", what, t.errors))
	}
	return out
}

func median(ds []time.Duration) string {
	if len(ds) == 0 {
		return "—"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return m.Round(100 * time.Millisecond).String()
}
