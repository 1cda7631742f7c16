package etcd

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline/examples/external/chaos"
	"github.com/faultline/faultline/suites/suitekit"
)

// TestEtcd runs the Ginkgo specs: only the short one unless a label
// filter says otherwise (`make chaos-etcd` runs the control and weak
// specs: --label-filter chaos).
func TestEtcd(t *testing.T) {
	RegisterFailHandler(Fail)
	suiteConfig, reporterConfig := GinkgoConfiguration()
	RunSpecs(t, "etcd", suitekit.ShortByDefault(suiteConfig), reporterConfig)
}

var (
	_ = chaos.Specs(chaos.Plan{
		System: New(), Nodes: 3, Seeds: []uint64{1, 2, 3, 4, 5}, Time: 60 * time.Second,
		Weak: BugSerializableReads, WeakInvalid: 4,
	})
	_ = suitekit.Summary()
)
