// Package raft_test is the chaos suite of the raft system: one spec per
// workload and fault mix in suites/catalog, each expecting the correct
// system to stay valid. Labels: raft, the workload, each fault, short or long.
package raft_test

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

func TestRaft(t *testing.T) {
	RegisterFailHandler(Fail)
	suiteConfig, reporterConfig := GinkgoConfiguration()
	RunSpecs(t, "raft", suitekit.ShortByDefault(suiteConfig), reporterConfig)
}

var (
	_ = suitekit.ScenarioSpecs("raft")
	_ = suitekit.Summary()
)
