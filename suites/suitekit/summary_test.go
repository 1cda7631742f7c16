package suitekit

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func entry(t *testing.T, r Run) types.ReportEntry {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return types.ReportEntry{Name: entryName, Value: types.WrapEntryValue(string(b))}
}

func TestSummaryTable(t *testing.T) {
	rep := types.Report{SuiteDescription: "raft", SpecReports: types.SpecReports{
		{LeafNodeType: types.NodeTypeIt, LeafNodeText: "bug x is caught", State: types.SpecStatePassed,
			ReportEntries: types.ReportEntries{
				entry(t, Run{Seed: 1, Bugs: []string{"x"}, Verdict: "valid", RunDir: "/repo/results/r1"}),
				entry(t, Run{Seed: 2, Bugs: []string{"x"}, Verdict: "invalid", Reason: "anomalies found",
					RunDir: "/repo/results/r2", Report: "/repo/results/r2/report.html"}),
			}},
		{LeafNodeType: types.NodeTypeIt, LeafNodeText: "gossip | stays valid", State: types.SpecStateSkipped,
			Failure: types.Failure{Message: "not in this build: unknown system \"gossip\"\nmore"}},
		{LeafNodeType: types.NodeTypeIt, LeafNodeText: "filtered out", State: types.SpecStateSkipped},
		{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStatePassed},
	}}
	got := SummaryTable(rep, "/repo")
	for _, want := range []string{
		"## raft",
		"| bug x is caught | passed | valid | 1 | x | results/r1 |",
		"| bug x is caught | passed | invalid (anomalies found) | 2 | x | results/r2/report.html |",
		`| gossip \| stays valid | skipped | not in this build: unknown system "gossip" | | | |`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "filtered out") {
		t.Errorf("a spec filtered out by labels is in the summary:\n%s", got)
	}
	if empty := SummaryTable(types.Report{SuiteDescription: "none"}, ""); !strings.Contains(empty, "(no spec ran)") {
		t.Errorf("empty summary:\n%s", empty)
	}
}
