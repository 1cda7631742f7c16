package suitekit

import (
	"fmt"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"github.com/faultline/faultline/sim"
	"github.com/faultline/faultline/suites/catalog"
)

// simWall bounds one simulation search: the 60 s on two cores.
const simWall = 60 * time.Second

// SimSpecs declares, for every named bug of a simulated system, a spec
// searching its simulation scenario (catalog.SimBugs) for a failing seed
// within simWall, and the correct system's twin staying valid on the
// seeds up to that one. Labels: bugs, sim, bug:NAME, the system. They are
// not short: `make chaos-bugs` runs them, a bare go test does not.
func SimSpecs() bool {
	for _, b := range catalog.AllSimBugs() {
		c := b.Config
		labels := []string{"bugs", "sim", b.Label(), c.System, c.Workload}
		ginkgo.Describe(fmt.Sprintf("simulated %s bug %s (%s, faults %v)", c.System, b.Name, c.Workload, c.Faults), ginkgo.Label(labels...), func() {
			var found *sim.Found
			ginkgo.It(fmt.Sprintf("is found in seeds 1..%d within %s", b.Seeds, simWall), ginkgo.NodeTimeout(3*simWall), func(ctx ginkgo.SpecContext) {
				if b.Unreachable != "" {
					ginkgo.Skip("not reachable in simulation: " + b.Unreachable)
				}
				bc := c
				bc.Bugs = []string{b.Name}
				f, err := sim.Search(ctx, bc, sim.SearchOptions{First: 1, Seeds: b.Seeds, Deadline: time.Now().Add(simWall)})
				gomega.Expect(err).NotTo(gomega.HaveOccurred())
				gomega.Expect(f.Failing).NotTo(gomega.BeNil(), "%s not found in %d seeds (%s)", b.Name, f.Tried, f.Wall)
				ginkgo.GinkgoWriter.Printf("faultline sim: %s found at seed %d after %d seeds in %s: %s\n",
					b.Name, f.Failing.Result.Config.Seed, f.Tried, f.Wall, f.Failing.Outcome.Reason)
				found = f
			})
			ginkgo.It("is absent: the correct system stays valid on the same seeds", ginkgo.NodeTimeout(3*simWall), func(ctx ginkgo.SpecContext) {
				if b.Unreachable != "" {
					ginkgo.Skip("its bug spec is skipped: " + b.Unreachable)
				}
				last := uint64(5)
				if found != nil && found.Failing != nil {
					last = min(found.Failing.Result.Config.Seed, 20)
				}
				f, err := sim.Search(ctx, c, sim.SearchOptions{First: 1, Seeds: last})
				gomega.Expect(err).NotTo(gomega.HaveOccurred())
				if f.Failing != nil {
					ginkgo.Fail(fmt.Sprintf("the correct %s failed at seed %d: %s", c.System, f.Failing.Result.Config.Seed, f.Failing.Outcome.Reason))
				}
				gomega.Expect(f.Unknown).To(gomega.BeZero(), "seeds no checker could decide")
				gomega.Expect(f.Tried).To(gomega.BeNumerically("==", last))
			})
		})
	}
	return true
}
