// Package quorum_test is the chaos suite of the quorum system: one spec per
// workload and fault mix in suites/catalog, each expecting the correct
// system to stay valid. Labels: quorum, the workload, each fault, short or long.
package quorum_test

import (
	"os"
	"testing"

	"github.com/faultline/faultline"
	"github.com/faultline/faultline/suites/suitekit"
)

func TestMain(m *testing.M) {
	faultline.RunNodeIfChild() // nodes of the clusters these specs start are this binary
	os.Exit(m.Run())
}

func TestQuorum(t *testing.T) { suitekit.RunSpecs(t, "quorum") }

var (
	_ = suitekit.ScenarioSpecs("quorum")
	_ = suitekit.Summary()
)
