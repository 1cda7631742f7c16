package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/outcome"
)

// A huge history makes a page of bounded size: the timeline draws the
// first MaxTimelineOps operations and says so; the events passed in are
// used, not read again (the history file does not even exist).
func TestAHugeHistoryMakesABoundedPage(t *testing.T) {
	n := MaxTimelineOps + 1000
	events := make([]history.Event, 0, 2*n)
	for i := range n {
		events = append(events,
			history.Event{Index: 2 * i, Time: int64(2 * i), Process: i % 10, Type: history.Invoke, F: history.OpWrite, Key: "k", Value: i},
			history.Event{Index: 2*i + 1, Time: int64(2*i + 1), Process: i % 10, Type: history.OK, F: history.OpWrite, Key: "k", Value: i})
	}
	dir := t.TempDir()
	res := &outcome.Result{Checkers: checkers.Results{"x": {Verdict: checkers.Valid}}}
	res.Stats.Ops.OK = n
	res.Judge()
	out, err := Write(t.Context(), Input{History: filepath.Join(dir, "h.jsonl"), Events: events, Results: res})
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "the timeline draws the first 50000 of 51000 operations") {
		t.Error("the page does not say the timeline is cut")
	}
	if len(page) > 8<<20 {
		t.Errorf("page of %d bytes for %d operations", len(page), n)
	}
}
