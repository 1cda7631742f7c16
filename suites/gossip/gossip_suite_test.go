// Package gossip_test is the chaos suite of the gossip system: one spec per
// workload and fault mix in suites/catalog, each expecting the correct
// system to stay valid. Labels: gossip, the workload, each fault, short or long.
package gossip_test

import (
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/suites/suitekit"
)

func TestMain(m *testing.M) {
	faultline.RunNodeIfChild() // nodes of the clusters these specs start are this binary
	os.Exit(m.Run())
}

func TestGossip(t *testing.T) {
	RegisterFailHandler(Fail)
	suiteConfig, reporterConfig := GinkgoConfiguration()
	RunSpecs(t, "gossip", suitekit.ShortByDefault(suiteConfig), reporterConfig)
}

var (
	_ = suitekit.ScenarioSpecs("gossip")
	_ = suitekit.Summary()
)
