// Package bugs_test is the seeded-bug suite: for every named bug of every
// system, a spec running the fault mix that exposes it and expecting an
// invalid run, next to the same scenario without the bug expecting a valid
// one. Labels: bugs, bug:NAME, the system, the workload, each fault, and
// unreliable for bugs random faults do not reliably expose (skipped, with
// the reason, unless FAULTLINE_RUN_UNRELIABLE=1). The simulation specs
// (label sim) search each bug's simulation scenario for a failing seed.
package bugs_test

import (
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/suites/suitekit"
)

func TestMain(m *testing.M) {
	faultline.RunNodeIfChild()
	os.Exit(m.Run())
}

func TestBugs(t *testing.T) {
	RegisterFailHandler(Fail)
	suiteConfig, reporterConfig := GinkgoConfiguration()
	RunSpecs(t, "seeded bugs", suitekit.ShortByDefault(suiteConfig), reporterConfig)
}

var (
	_ = suitekit.BugSpecs()
	_ = suitekit.SimSpecs()
	_ = suitekit.Summary()
)
