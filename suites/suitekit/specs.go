package suitekit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/suites/catalog"
	"github.com/faultline/faultline/suites/matchers"
)

// entryName names the report entries that carry one run into the summary.
const entryName = "faultline-run"

// Run is one run as the summary table shows it.
type Run struct {
	Seed      uint64   `json:"seed"`
	Bugs      []string `json:"bugs,omitempty"`
	Verdict   string   `json:"verdict"`
	Reason    string   `json:"reason,omitempty"`
	Anomalies int      `json:"anomalies"`
	RunDir    string   `json:"run_dir"`
	Report    string   `json:"report,omitempty"`
	Seconds   float64  `json:"seconds"`
}

// Chaos runs t to the end and returns its result. The run's cluster is
// registered with DeferCleanup, so a spec that fails, times out or is
// interrupted never leaves a node behind; the run is added to the spec's
// report for the summary table. A run that yields no verdict (bad test,
// cluster would not start) fails the spec.
func Chaos(ctx context.Context, t faultline.Test) *faultline.Result {
	ginkgo.GinkgoHelper()
	start := time.Now()
	ginkgo.GinkgoWriter.Printf("faultline: %s %s under %s, bugs %v, seed %d, runtime %s\n",
		t.System, t.Workload, strings.Join(t.Nemesis, ","), t.Bugs, t.Seed, t.Runtime)
	running := faultline.Start(ctx, t)
	ginkgo.DeferCleanup(running.Stop)
	res, err := running.Wait()
	gomega.Expect(err).NotTo(gomega.HaveOccurred(), "faultline run of %s (seed %d) gave no verdict", t.System, t.Seed)
	record(res, time.Since(start))
	ginkgo.GinkgoWriter.Printf("faultline: %s — %s\n", res.Verdict, where(res))
	return res
}

// record adds res to the current spec's report, for the summary table.
func record(res *faultline.Result, took time.Duration) {
	entry := Run{Seed: res.Test.Seed, Bugs: res.Test.Bugs, Verdict: res.Verdict.String(), Reason: res.Reason,
		Anomalies: len(res.Anomalies()), RunDir: res.RunDir, Report: res.ReportPath(),
		Seconds: took.Round(100 * time.Millisecond).Seconds()}
	b, _ := json.Marshal(entry)
	ginkgo.AddReportEntry(entryName, string(b), ginkgo.ReportEntryVisibilityNever)
}

func where(r *faultline.Result) string {
	if p := r.ReportPath(); p != "" {
		return p
	}
	return r.RunDir
}

// budget is a spec's time limit: runs of the scenario, each with room to
// start, recover, read and check.
func budget(s catalog.Scenario, runs int) ginkgo.NodeTimeout {
	return ginkgo.NodeTimeout(time.Duration(runs) * (s.Time + 3*time.Minute))
}

func (c Config) options() []faultline.Option {
	return []faultline.Option{faultline.Runtime(c.Runtime), faultline.ResultsDir(c.ResultsDir)}
}

// ScenarioSpecs declares one spec per catalogued scenario of system: the
// correct system (no bug) under that workload and fault mix must be valid.
// Call it at the top level of a suite: var _ = suitekit.ScenarioSpecs("raft").
func ScenarioSpecs(system string) bool {
	cfg, cfgErr := FromEnv()
	scenarios := catalog.ForSystem(system)
	if len(scenarios) == 0 {
		ginkgo.It("has scenarios in the catalog", ginkgo.Label(system, string(catalog.Short)), func() {
			ginkgo.Fail(fmt.Sprintf("suites/catalog lists no scenarios for system %s", system))
		})
	}
	for _, s := range scenarios {
		ginkgo.It(s.Name()+" stays valid", ginkgo.Label(s.Labels()...), budget(s, 1), func(ctx ginkgo.SpecContext) {
			gomega.Expect(cfgErr).NotTo(gomega.HaveOccurred())
			gomega.Expect(s.Resolve()).To(gomega.Succeed(), "fix the entry in suites/catalog")
			var bugs []string
			if cfg.GateSystem == system {
				// Only for proving the gate: a correct-system spec with a bug on must fail.
				bugs = []string{cfg.GateBug}
				ginkgo.GinkgoWriter.Printf("FAULTLINE_GATE_BUG: switching on %s in this spec\n", cfg.GateBug)
			}
			res := Chaos(ctx, s.Test(cfg.Seed, bugs, cfg.options()...))
			gomega.Expect(res).To(matchers.BeValid())
		})
	}
	return true
}

// BugSpecs declares, for every named bug of every system (catalog.AllBugs),
// a spec that runs the fault mix exposing it and expects an invalid run in
// any of the bug's seeds, next to a twin running the same scenario and the
// same seeds without the bug, expecting every one valid. An entry that does
// not resolve (a misspelled bug or fault) fails its specs; only bugs random
// faults cannot reliably expose are skipped, with the reason
// (FAULTLINE_RUN_UNRELIABLE=1 runs them anyway). Short entries carry the
// label short, so a bare go test and make ci-gate run them.
func BugSpecs() bool {
	cfg, cfgErr := FromEnv()
	// Bugs that share a scenario share its correct-system runs.
	var mu sync.Mutex
	correct := map[string]*faultline.Result{}
	for _, b := range catalog.AllBugs() {
		labels := append([]string{"bugs", b.Label()}, b.Scenario.Labels()...)
		if b.Unreliable != "" {
			labels = append(labels, "unreliable")
		}
		seeds := b.SeedList(cfg.Seed)
		rule := fmt.Sprintf("seed %d", cfg.Seed)
		if len(seeds) > 1 {
			rule = fmt.Sprintf("seeds %d..%d", seeds[0], seeds[len(seeds)-1])
		}
		ginkgo.Describe(fmt.Sprintf("%s bug %s under %s", b.System, b.Name, b.Scenario.Name()), ginkgo.Label(labels...), func() {
			ginkgo.It("is caught in any of "+rule, budget(b.Scenario, b.Seeds), func(ctx ginkgo.SpecContext) {
				gomega.Expect(cfgErr).NotTo(gomega.HaveOccurred())
				gomega.Expect(b.Resolve()).To(gomega.Succeed(), "fix the entry in suites/catalog")
				if b.Unreliable != "" && !cfg.RunUnreliable {
					ginkgo.Skip("not reliably exposed by random faults: " + b.Unreliable)
				}
				var res *faultline.Result
				for _, seed := range seeds {
					res = Chaos(ctx, b.Test(seed, []string{b.Name}, cfg.options()...))
					if res.Verdict == faultline.Invalid {
						break
					}
				}
				gomega.Expect(res).To(matchers.BeInvalid(), "%s with bug %s was not caught in %s", b.System, b.Name, rule)
			})
			ginkgo.It(fmt.Sprintf("is absent: the correct %s stays valid in %s", b.System, rule), budget(b.Scenario, b.Seeds), func(ctx ginkgo.SpecContext) {
				gomega.Expect(cfgErr).NotTo(gomega.HaveOccurred())
				gomega.Expect(b.Scenario.Resolve()).To(gomega.Succeed(), "fix the entry in suites/catalog")
				if b.Unreliable != "" && !cfg.RunUnreliable {
					ginkgo.Skip("its bug spec is skipped: " + b.Unreliable)
				}
				for _, seed := range seeds {
					key := fmt.Sprintf("%s/seed %d", b.Scenario.Name(), seed)
					mu.Lock()
					res, ok := correct[key]
					mu.Unlock()
					if ok {
						ginkgo.GinkgoWriter.Printf("faultline: same scenario and seed as an earlier correct-system run: %s\n", res.RunDir)
						record(res, 0)
					} else {
						res = Chaos(ctx, b.Test(seed, nil, cfg.options()...))
						mu.Lock()
						correct[key] = res
						mu.Unlock()
					}
					gomega.Expect(res).To(matchers.BeValid(), "the correct %s, seed %d", b.System, seed)
				}
			})
		})
	}
	return true
}
