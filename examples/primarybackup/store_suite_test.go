package primarybackup_test

import (
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/faultline/faultline"
	. "github.com/faultline/faultline/suites/matchers"

	"example.com/primarybackup"
)

// TestMain lets this test binary run the store's nodes: faultline starts
// each node by running this binary again, which then serves one node and
// exits. Nothing is built or installed beside it.
func TestMain(m *testing.M) {
	faultline.RunNodeIfChild(primarybackup.New())
	os.Exit(m.Run())
}

func TestPrimaryBackup(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "primary-backup store under faults")
}

// chaos runs the store under partitions, kills and clock faults for a few
// seconds and returns the judged result. Its nodes are gone when the spec
// ends, whatever happens (DeferCleanup).
func chaos(ctx SpecContext, opts ...faultline.Option) *faultline.Result {
	GinkgoHelper()
	results := os.Getenv("FAULTLINE_RESULTS") // where to keep the runs; a temp dir otherwise
	if results == "" {
		results = GinkgoT().TempDir()
	}
	base := []faultline.Option{
		faultline.Nodes(3), faultline.Nemesis("partition", "kill", "clock"),
		faultline.NemesisInterval(700 * time.Millisecond), faultline.TimeLimit(3 * time.Second),
		faultline.Rate(200), faultline.Seed(1), faultline.ResultsDir(results),
	}
	run := faultline.Start(ctx, faultline.New(primarybackup.New(), append(base, opts...)...))
	DeferCleanup(run.Stop)
	res, err := run.Wait()
	Expect(err).NotTo(HaveOccurred(), "the run gave no verdict")
	GinkgoWriter.Printf("%s: %s\n", res.Verdict, res.ReportPath())
	return res
}

var _ = Describe("the primary-backup store", func() {
	It("stays linearizable through partitions and kills", func(ctx SpecContext) {
		res := chaos(ctx)
		Expect(res).To(BeValid()) // on failure: the checkers' verdicts, anomalies and the report's path
		// The store has no clock faultline can set: the clock faults were
		// skipped, with the reason, not faked.
		Expect(res.Test.Skipped).To(ContainElement(HaveField("Fault", "clock")))
		Expect(res.ReportPath()).To(BeAnExistingFile())
	}, NodeTimeout(2*time.Minute))

	It("is caught when backups serve reads from their own copy", func(ctx SpecContext) {
		res := chaos(ctx, faultline.Bugs(primarybackup.BugStaleBackupRead))
		Expect(res).To(BeInvalid())
		Expect(res).To(HaveAnomalyFrom("linearizable"))
	}, NodeTimeout(2*time.Minute))
})
