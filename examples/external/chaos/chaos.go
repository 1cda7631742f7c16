// Package chaos declares the Ginkgo specs every real system in
// examples/external gets, on the docker runtime (the only runtime that
// cuts single links of a system whose peers dial one advertised address):
//
//   - short (in `make test`): one short run under partitions, expected
//     valid;
//   - control (`make chaos-etcd`, `make chaos-nats`): the system as it
//     ships, under partition,kill for 60 s, expected valid for each of
//     seeds 1–5 — the negative control;
//   - weak: the system with a named weak mode switched on, same faults
//     and seeds, expected invalid in at least a stated number of them.
//
// The expectations are the measured verdicts the README states; a
// target exits 0 exactly when every verdict is the stated one.
package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/suites/matchers"
	"github.com/faultline/faultline/suites/suitekit"
)

// Plan is what one system's specs expect.
type Plan struct {
	System faultline.System
	// Nodes is the cluster size (3: an R3 bucket, a 3-member etcd).
	Nodes int
	// Weak is the named weak mode; WeakInvalid how many of Seeds it must
	// be invalid in (0: it must be valid in every seed, as measured).
	Weak        string
	WeakInvalid int
	// Seeds of the control and weak specs (1–5).
	Seeds []uint64
	// Time is each control and weak run's time limit (60 s).
	Time time.Duration
}

// faults of the control and weak specs.
var faults = []string{"partition", "kill"}

func (p Plan) test(cfg suitekit.Config, seed uint64, limit time.Duration, faults []string, bugs ...string) faultline.Test {
	return faultline.New(p.System,
		faultline.Runtime("docker"), faultline.ResultsDir(cfg.ResultsDir),
		faultline.Nodes(p.Nodes), faultline.Workload("register"), faultline.Nemesis(faults...),
		faultline.TimeLimit(limit), faultline.Seed(seed), faultline.Bugs(bugs...),
		faultline.StartTimeout(2*time.Minute),
		// Room for the linearizability search on a busy two-core machine:
		// a run with many unknown-outcome writes (timeouts under
		// partitions) can need more than the default two minutes. The
		// verdict rules are untouched.
		faultline.CheckTimeout(10*time.Minute))
}

// Specs declares the system's specs; call it at the top level of a suite.
func Specs(p Plan) bool {
	name := p.System.Name()
	return ginkgo.Describe(name+" on docker", ginkgo.Label(name, "docker"), func() {
		var cfg suitekit.Config
		ginkgo.BeforeEach(func() {
			var err error
			cfg, err = suitekit.FromEnv()
			gomega.Expect(err).NotTo(gomega.HaveOccurred())
		})
		ginkgo.It("stays valid through partitions (short)", ginkgo.Label("short", "partition"), func(ctx context.Context) {
			res := suitekit.Chaos(ctx, p.test(cfg, 1, 15*time.Second, []string{"partition"}))
			gomega.Expect(res).To(matchers.BeValid())
			gomega.Expect(res.Test.LinkMechanism).NotTo(gomega.BeEmpty(), "test.json records how links were cut")
		}, ginkgo.NodeTimeout(6*time.Minute))
		for _, seed := range p.Seeds {
			ginkgo.It(fmt.Sprintf("negative control: valid under partition,kill (seed %d)", seed),
				ginkgo.Label("chaos", "control", "partition", "kill"), func(ctx context.Context) {
					gomega.Expect(suitekit.Chaos(ctx, p.test(cfg, seed, p.Time, faults))).To(matchers.BeValid())
				}, ginkgo.NodeTimeout(p.Time+15*time.Minute))
		}
		want := fmt.Sprintf("invalid in at least %d of %d seeds", p.WeakInvalid, len(p.Seeds))
		if p.WeakInvalid == 0 {
			want = "valid in every seed (as measured)"
		}
		ginkgo.It(fmt.Sprintf("%s: %s under partition,kill", p.Weak, want),
			ginkgo.Label("chaos", "weak", "bug:"+p.Weak, "partition", "kill"), func(ctx context.Context) {
				invalid, valid := 0, 0
				for _, seed := range p.Seeds {
					res := suitekit.Chaos(ctx, p.test(cfg, seed, p.Time, faults, p.Weak))
					switch res.Verdict {
					case faultline.Invalid:
						invalid++
					case faultline.Valid:
						valid++
					}
					ginkgo.GinkgoWriter.Printf("seed %d: %s (%s)\n", seed, res.Verdict, res.Reason)
				}
				if p.WeakInvalid == 0 {
					gomega.Expect(valid).To(gomega.Equal(len(p.Seeds)), "%s: every seed valid", p.Weak)
					return
				}
				gomega.Expect(invalid).To(gomega.BeNumerically(">=", p.WeakInvalid), "%s: invalid seeds", p.Weak)
			}, ginkgo.NodeTimeout(time.Duration(len(p.Seeds))*(p.Time+15*time.Minute)))
	})
}
