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
			if err := s.Available(); err != nil {
				ginkgo.Skip(err.Error())
			}
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
// any of the bug's seeds, next to the same scenario without the bug
// expecting a valid one. Bugs random faults cannot reliably expose are
// skipped with the reason (FAULTLINE_RUN_UNRELIABLE=1 runs them anyway).
func BugSpecs() bool {
	cfg, cfgErr := FromEnv()
	// Bugs that share a scenario share its correct-system run.
	var mu sync.Mutex
	correct := map[string]*faultline.Result{}
	for _, b := range catalog.AllBugs() {
		labels := append([]string{"bugs", b.Label()}, b.Scenario.System, b.Workload)
		labels = append(labels, b.Faults...)
		if b.Unreliable != "" {
			labels = append(labels, "unreliable")
		}
		ginkgo.Describe(fmt.Sprintf("%s bug %s", b.System, b.Name), ginkgo.Label(labels...), func() {
			rule := fmt.Sprintf("in any of seeds %d..%d", cfg.Seed, cfg.Seed+uint64(b.Seeds)-1)
			ginkgo.It(fmt.Sprintf("is caught under %s %s", b.Scenario.Name(), rule), budget(b.Scenario, b.Seeds), func(ctx ginkgo.SpecContext) {
				gomega.Expect(cfgErr).NotTo(gomega.HaveOccurred())
				if err := b.Available(); err != nil {
					ginkgo.Skip(err.Error())
				}
				if b.Unreliable != "" && !cfg.RunUnreliable {
					ginkgo.Skip("not reliably exposed by random faults: " + b.Unreliable)
				}
				var res *faultline.Result
				for i := range uint64(b.Seeds) {
					res = Chaos(ctx, b.Test(cfg.Seed+i, []string{b.Name}, cfg.options()...))
					if res.Verdict == faultline.Invalid {
						break
					}
				}
				gomega.Expect(res).To(matchers.BeInvalid(), "%s with bug %s was not caught %s", b.System, b.Name, rule)
			})
			ginkgo.It(fmt.Sprintf("is absent: the correct %s stays valid under the same scenario (seed %d)", b.System, cfg.Seed), budget(b.Scenario, 1), func(ctx ginkgo.SpecContext) {
				gomega.Expect(cfgErr).NotTo(gomega.HaveOccurred())
				if err := b.Scenario.Available(); err != nil {
					ginkgo.Skip(err.Error())
				}
				key := fmt.Sprintf("%s/seed %d", b.Scenario.Name(), cfg.Seed)
				mu.Lock()
				res, ok := correct[key]
				mu.Unlock()
				if ok {
					ginkgo.GinkgoWriter.Printf("faultline: same scenario as an earlier correct-system run: %s\n", res.RunDir)
					record(res, 0)
				} else {
					res = Chaos(ctx, b.Test(cfg.Seed, nil, cfg.options()...))
					mu.Lock()
					correct[key] = res
					mu.Unlock()
				}
				gomega.Expect(res).To(matchers.BeValid())
			})
		})
	}
	return true
}
