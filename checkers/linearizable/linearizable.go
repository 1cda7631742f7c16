// Package linearizable checks register histories (read, write, cas per key)
// for linearizability with Porcupine. Each key is an independent register,
// checked on its own; a history is linearizable iff every key is.
//
// Semantics of each operation and outcome are documented on Prepare; the
// model itself is step in model.go.
package linearizable

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

// Name is the checker's name in results.
const Name = "linearizable"

const (
	// DefaultTimeout bounds a whole check: linearizability checking is
	// NP-hard, and a run must end by itself.
	DefaultTimeout = 60 * time.Second
	// DefaultMaxFiles caps the visualizations written: each re-runs a
	// failing key, and a person reads the first few anyway.
	DefaultMaxFiles = 3
	// DefaultVisualizeTimeout bounds all visualization re-runs together, on
	// top of the check's own limit, so a failure found late still gets its
	// picture.
	DefaultVisualizeTimeout = 10 * time.Second
	// maxListedKeys caps the failing keys named in Details, so a history
	// where everything broke still gives a readable results.json. Anomalies
	// list every failing key.
	maxListedKeys = 20
)

// Options configure a Checker. Zero values mean the defaults.
type Options struct {
	// Timeout bounds the check of all keys together; past it, undecided
	// keys make the verdict Unknown.
	Timeout time.Duration
	// KeyTimeout bounds the check of one key; past it that key alone is
	// undecided and the others go on, so a few genuinely hard keys cannot
	// eat the whole Timeout. Default Timeout/10, at least 1 s (at most
	// Timeout).
	KeyTimeout time.Duration
	// Workers is how many keys are checked at once; default GOMAXPROCS.
	Workers int
	// MaxFiles caps the HTML visualizations made (artifacts); negative
	// makes none (a caller that keeps no files, or only wants a verdict).
	MaxFiles int
	// VisualizeTimeout bounds the verbose re-runs behind the visualizations.
	VisualizeTimeout time.Duration
	_                struct{}
}

// Checker judges register histories. It is safe for concurrent use.
type Checker struct {
	opts Options
}

var _ checkers.Checker = (*Checker)(nil)

// New returns a linearizability checker with opts' zero fields defaulted.
func New(opts Options) *Checker {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.KeyTimeout <= 0 {
		opts.KeyTimeout = min(max(opts.Timeout/10, time.Second), opts.Timeout)
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.MaxFiles == 0 {
		opts.MaxFiles = DefaultMaxFiles
	}
	if opts.VisualizeTimeout <= 0 {
		opts.VisualizeTimeout = DefaultVisualizeTimeout
	}
	return &Checker{opts: opts}
}

// Name implements checkers.Checker.
func (c *Checker) Name() string { return Name }

// NotLinearizable is the kind of anomaly this checker reports: a key
// whose history has no linearization.
const NotLinearizable checkers.Kind = "not-linearizable"

// Check implements checkers.Checker. A history Prepare rejects gets Unknown
// with the error as Reason; callers that must tell bad input apart (the CLI)
// call Prepare themselves and test errors.Is(err, ErrMalformed). Each
// failing key is one anomaly (its Key set); the first MaxFiles of them get
// Porcupine's visualization as an artifact named linearizable-<key>.html.
func (c *Checker) Check(ctx context.Context, events []history.Event) checkers.Result {
	start := time.Now()
	p, err := Prepare(events)
	if err != nil {
		return checkers.Result{
			Verdict: checkers.Unknown,
			Reason:  "cannot check: " + err.Error(),
			Details: map[string]any{"time_taken_ms": time.Since(start).Milliseconds()},
		}
	}
	return c.check(ctx, p, start)
}

// CheckPrepared judges a history already prepared.
func (c *Checker) CheckPrepared(ctx context.Context, p *Prepared) checkers.Result {
	return c.check(ctx, p, time.Now())
}

type keyVerdict uint8

const (
	undecided keyVerdict = iota // not checked, or gave up
	linearizable
	notLinearizable
)

func (c *Checker) check(ctx context.Context, p *Prepared, start time.Time) checkers.Result {
	verdicts, why := c.checkKeys(ctx, p)

	var failing []int
	unknown := 0
	for i, v := range verdicts {
		switch v {
		case notLinearizable:
			failing = append(failing, i)
		case undecided:
			unknown++
		}
	}
	res := checkers.Result{Verdict: checkers.Valid}
	res.Details = map[string]any{
		"keys_checked": len(p.keys),
		"ops_checked":  p.ops,
		"ops_dropped":  p.dropped,
	}
	if unknown > 0 {
		res.Details["keys_undecided"] = unknown
	}
	for _, i := range failing {
		res.Anomalies = append(res.Anomalies, anomaly(&p.keys[i]))
	}
	if len(failing) > 0 {
		names := make([]string, 0, min(len(failing), maxListedKeys))
		for _, i := range failing[:min(len(failing), maxListedKeys)] {
			names = append(names, p.keys[i].key)
		}
		res.Details["failing_keys"] = names
		res.Details["failing_key_count"] = len(failing)
	}

	switch {
	case len(failing) > 0:
		// A key proven non-linearizable is definite, even if others were
		// left undecided.
		res.Verdict = checkers.Invalid
		res.Reason = fmt.Sprintf("%d of %d keys have no linearization", len(failing), len(p.keys))
		if unknown > 0 {
			res.Reason += fmt.Sprintf(" (%d more undecided: %s)", unknown, why)
		}
		if c.opts.MaxFiles > 0 {
			c.visualize(ctx, p, failing, &res)
		}
	case unknown > 0:
		res.Verdict = checkers.Unknown
		res.Reason = fmt.Sprintf("gave up: %s, %d of %d keys undecided", why, unknown, len(p.keys))
	case p.ops == 0:
		// An empty history, or one where every operation failed, proves
		// nothing; calling it valid would let a broken run pass a CI gate.
		res.Verdict = checkers.Unknown
		res.Reason = fmt.Sprintf("nothing to check: no operation took effect or was observed (%d dropped)", p.dropped)
	default:
		res.Reason = fmt.Sprintf("%d operations on %d keys are linearizable", p.ops, len(p.keys))
	}
	res.Details["time_taken_ms"] = time.Since(start).Milliseconds()
	return res
}

// checkKeys checks every key, biggest first so the long ones start early,
// on opts.Workers goroutines. It returns each key's verdict and, when some
// stay undecided, why.
func (c *Checker) checkKeys(ctx context.Context, p *Prepared) ([]keyVerdict, string) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	var stop atomic.Bool
	defer context.AfterFunc(ctx, func() { stop.Store(true) })()
	// AfterFunc runs f in its own goroutine: a context already done must
	// stop the workers before they start.
	stop.Store(ctx.Err() != nil)
	model := newModel(p.values, &stop)

	order := make([]int, len(p.keys))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(p.keys[order[a]].ops) > len(p.keys[order[b]].ops) })

	verdicts := make([]keyVerdict, len(p.keys))
	var next, overBudget atomic.Int64
	keyBudget := c.opts.KeyTimeout
	if keyBudget >= c.opts.Timeout {
		keyBudget = 0 // the time limit alone governs
	}
	var wg sync.WaitGroup
	for range min(c.opts.Workers, len(order)) {
		wg.Go(func() {
			for !stop.Load() {
				n := int(next.Add(1)) - 1
				if n >= len(order) {
					return
				}
				i := order[n]
				res := porcupine.CheckOperationsTimeout(model, operations(&p.keys[i]), keyBudget)
				if stop.Load() {
					// The search may have been cut short by failing
					// steps: its answer means nothing.
					return
				}
				switch res {
				case porcupine.Unknown:
					overBudget.Add(1)
				case porcupine.Ok:
					verdicts[i] = linearizable
				case porcupine.Illegal:
					verdicts[i] = notLinearizable
				}
			}
		})
	}
	wg.Wait()

	var why []string
	if n := overBudget.Load(); n > 0 {
		why = append(why, fmt.Sprintf("%s over the per-key budget of %s", plural(int(n), "key"), c.opts.KeyTimeout))
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		why = append(why, fmt.Sprintf("time limit of %s reached", c.opts.Timeout))
	case ctx.Err() != nil:
		why = append(why, "check cancelled: "+ctx.Err().Error())
	}
	return verdicts, strings.Join(why, "; ")
}

func anomaly(kh *keyHistory) checkers.Anomaly {
	var notes []string
	if kh.infoWrites > 0 {
		notes = append(notes, plural(kh.infoWrites, "write")+" info")
	}
	if kh.infoCas > 0 {
		notes = append(notes, plural(kh.infoCas, "cas")+" info")
	}
	s := fmt.Sprintf("key %q: no linearization of %s", kh.key, plural(len(kh.ops), "operation"))
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, ", ") + ")"
	}
	return checkers.Anomaly{Kind: NotLinearizable, Key: kh.key, Text: s}
}

func plural(n int, noun string) string {
	if n == 1 || noun == "cas" {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// visualize makes Porcupine's HTML for the first few failing keys, each
// re-run verbosely on its own so the page holds one register only, and
// adds them to res as artifacts. Problems are noted in Details; they do
// not change the verdict.
func (c *Checker) visualize(ctx context.Context, p *Prepared, failing []int, res *checkers.Result) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.VisualizeTimeout)
	defer cancel()
	var stop atomic.Bool
	defer context.AfterFunc(ctx, func() { stop.Store(true) })()
	stop.Store(ctx.Err() != nil)
	model := newModel(p.values, &stop)
	plain := newModel(p.values, nil) // the replay inside Visualize must not be cut

	var problems []string
	used := map[string]bool{}
	for _, i := range failing[:min(len(failing), c.opts.MaxFiles)] {
		kh := &p.keys[i]
		result, info := porcupine.CheckOperationsVerbose(model, operations(kh), 0)
		if stop.Load() || result != porcupine.Illegal {
			problems = append(problems, fmt.Sprintf("key %q: visualization skipped, re-check did not finish in %s", kh.key, c.opts.VisualizeTimeout))
			break
		}
		var page bytes.Buffer
		if err := porcupine.Visualize(plain, info, &page); err != nil {
			problems = append(problems, fmt.Sprintf("key %q: visualization: %v", kh.key, err))
			continue
		}
		res.Artifacts = append(res.Artifacts, checkers.Artifact{Name: fileName(kh.key, used), Key: kh.key, Data: page.Bytes()})
	}
	if len(problems) > 0 {
		res.Details["visualization_errors"] = problems
	}
}

// fileName makes linearizable-<key>.html safe on any file system: only
// letters, digits, '.', '-' and '_' survive, the rest become '_', length is
// capped, and a name already used (k/1 and k_1 both give k_1) gets a suffix.
func fileName(key string, used map[string]bool) string {
	var b strings.Builder
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == '.' && b.Len() > 0: // no leading dot: no hidden files, no ".."
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	base := b.String()
	if base == "" {
		base = "empty-key"
	}
	name := "linearizable-" + base + ".html"
	for n := 2; used[name]; n++ {
		name = fmt.Sprintf("linearizable-%s-%d.html", base, n)
	}
	used[name] = true
	return name
}
