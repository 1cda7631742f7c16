package nats

import (
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/examples/external"
	"github.com/faultline/faultline/examples/external/chaos"
	"github.com/faultline/faultline/suites/suitekit"
)

func TestMain(m *testing.M) {
	// Build nats-server once for every test here (a copy from the cache
	// when it was built before).
	if _, err := external.EnsureBinary("FAULTLINE_NATS_SERVER", "nats-server", "nats-server"); err != nil {
		fmt.Fprintln(os.Stderr, "nats tests:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// TestNATS runs the Ginkgo specs: only the short one unless a label
// filter says otherwise (`make chaos-nats`: --label-filter chaos).
func TestNATS(t *testing.T) {
	RegisterFailHandler(Fail)
	suiteConfig, reporterConfig := GinkgoConfiguration()
	RunSpecs(t, "nats", suitekit.ShortByDefault(suiteConfig), reporterConfig)
}

var (
	_ = chaos.Specs(chaos.Plan{
		System: New(), Nodes: 3, Seeds: []uint64{1, 2, 3, 4, 5}, Time: 60 * time.Second,
		Weak: BugDirectGet, WeakInvalid: 4,
	})
	_ = suitekit.Summary()
)
