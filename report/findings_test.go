package report

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/checkers/convergence"
	"github.com/faultline/faultline/checkers/counter"
	"github.com/faultline/faultline/checkers/lww"
	"github.com/faultline/faultline/checkers/membership"
	"github.com/faultline/faultline/checkers/set"
	"github.com/faultline/faultline/history"
)

// hist builds a history for these tests: events at given milliseconds,
// numbered in order.
type hist struct{ events []history.Event }

func (h *hist) add(e history.Event) int {
	e.Index = len(h.events)
	h.events = append(h.events, e)
	return e.Index
}

// op appends an operation and returns its completion's index.
func (h *hist) op(p int, node string, f history.Func, key string, in any, inv, done int, out any) int {
	h.add(history.Event{Time: ms(inv), Process: p, Type: history.Invoke, F: f, Key: key, Value: in, Node: node})
	if f == history.OpRead {
		in = out
	}
	return h.add(history.Event{Time: ms(done), Process: p, Type: history.OK, F: f, Key: key, Value: in, Node: node})
}

func (h *hist) nemesis(f history.Func, at int, node, label string) int {
	h.add(history.Event{Time: ms(at - 1), Process: history.NemesisProcess, Type: history.Invoke, F: f})
	return h.add(history.Event{Time: ms(at), Process: history.NemesisProcess, Type: history.Info, F: f, Node: node, Label: label})
}

func ms(n int) int64 { return int64(n) * 1e6 }

// page writes a run dir for h judged by cs and returns its report.
func (h *hist) page(t *testing.T, cs ...checkers.Checker) (string, map[string]checkers.Result) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "20261121T100000.000Z-gossip-set-s1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	res := judged(t, h.events, dir, cs...)
	writeRunDir(t, dir, h.events, res)
	path, err := Write(context.Background(), Input{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), res.Checkers
}

var findingRe = regexp.MustCompile(`(?s)<div class="finding" data-kind="([^"]+)">(.*?)</div>`)

// findings are the page's findings of a kind: each one's text, as the
// page shows it, and the events of the rows in its table.
func findings(page, kind string) (texts []string, rows [][]string) {
	cell := regexp.MustCompile(`<tr><td>(\d+)[–<]`)
	for _, m := range findingRe.FindAllStringSubmatch(page, -1) {
		if m[1] != kind {
			continue
		}
		texts = append(texts, html.UnescapeString(m[2]))
		var idx []string
		for _, c := range cell.FindAllStringSubmatch(m[2], -1) {
			idx = append(idx, c[1])
		}
		rows = append(rows, idx)
	}
	return texts, rows
}

// Every checker's anomalies come with the events they point at: the report
// shows each as a table of those operations and outlines them on the
// timeline, not only linearizability's.
func TestReportExplainsSetConvergenceAndMembershipFindings(t *testing.T) {
	var h hist
	for _, n := range []string{"n1", "n2", "n3"} {
		h.add(history.Event{Time: 0, Process: history.ObserverProcess, Type: history.Info, F: history.Membership, Node: n,
			Value: map[string]any{"n1": "alive", "n2": "alive", "n3": "alive"}})
	}
	add1 := h.op(0, "n1", history.OpAdd, "s", 1, 10, 15, nil) // 4
	h.op(1, "n2", history.OpAdd, "s", 2, 10, 15, nil)         // 6
	stale := h.op(2, "n2", history.OpRead, "s", nil, 20, 22, []any{2})
	suspect := h.add(history.Event{Time: ms(30), Process: history.ObserverProcess, Type: history.Info, F: history.Membership, Node: "n1",
		Value: map[string]any{"n1": "alive", "n2": "suspect", "n3": "alive"}})
	h.nemesis(history.Recover, 100, "", "")
	f1 := h.op(3, "n1", history.OpRead, "s", nil, 110, 111, []any{1, 2})
	f2 := h.op(4, "n2", history.OpRead, "s", nil, 110, 111, []any{2})
	f3 := h.op(5, "n3", history.OpRead, "s", nil, 110, 111, []any{1, 2})
	page, cs := h.page(t, set.New(), convergence.New(convergence.Options{Expect: set.Expect}), membership.New(membership.Options{}))

	texts, rows := findings(page, string(set.Lost))
	// Rows show each operation by its invoke: the add, the last read that
	// saw the element (n3's final read), the final read that lacks it.
	want := fmt.Sprint([]string{fmt.Sprint(add1 - 1), fmt.Sprint(f3 - 1), fmt.Sprint(f2 - 1)})
	if len(texts) != 1 || !strings.Contains(texts[0], "s: 1 acknowledged at 15ms") || fmt.Sprint(rows[0]) != want {
		t.Errorf("lost element: %q with rows %v, want its add, the last read that saw it and n2's final read %s\n%+v", texts, rows, want, cs["set"].Anomalies)
	}
	texts, rows = findings(page, string(set.Stale))
	if len(texts) != 1 || fmt.Sprint(rows[0]) != fmt.Sprint([]string{fmt.Sprint(add1 - 1), fmt.Sprint(stale - 1)}) {
		t.Errorf("stale note: %q with rows %v", texts, rows)
	}
	texts, rows = findings(page, string(convergence.Diverged))
	if len(texts) != 1 || !strings.Contains(texts[0], "s: nodes never agreed") || len(rows[0]) != 3 {
		t.Errorf("divergence: %q with rows %v, want each node's last final read (%d %d %d)", texts, rows, f1, f2, f3)
	}
	texts, rows = findings(page, string(membership.FalseSuspicion))
	if len(texts) != 1 || !strings.Contains(texts[0], "n1 marked n2 suspect") || fmt.Sprint(rows[0]) != fmt.Sprint([]string{fmt.Sprint(suspect)}) {
		t.Errorf("false suspicion: %q with rows %v, want the observation %d", texts, rows, suspect)
	}
	for _, want := range []string{`data-checker="set"`, `data-checker="convergence"`, `data-checker="membership"`, "show on the timeline"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The operations the anomalies point at are outlined on the timeline.
	var d struct {
		Marks []mark `json:"marks"`
	}
	block := regexp.MustCompile(`(?s)<script id="fl-data" type="application/json">(.*?)</script>`).FindStringSubmatch(page)
	if block == nil || json.Unmarshal([]byte(block[1]), &d) != nil || len(d.Marks) < 4 {
		t.Errorf("timeline marks %+v, want the lost element's add and reads and the final reads that differ", d.Marks)
	}
}

func TestReportExplainsCounterBoundsAndLostWrites(t *testing.T) {
	var c hist
	c.op(0, "n1", history.OpAdd, "c", 5, 0, 5, nil)
	low := c.op(1, "n1", history.OpRead, "c", nil, 10, 11, 0) // n1 acknowledged +5
	c.nemesis(history.Recover, 100, "", "")
	c.op(2, "n1", history.OpRead, "c", nil, 110, 111, 5)
	high := c.op(3, "n2", history.OpRead, "c", nil, 110, 111, 7)
	page, _ := c.page(t, counter.New())
	texts, rows := findings(page, string(counter.ReadOutOfBounds))
	if len(texts) != 1 || !strings.Contains(texts[0], "[5, 5]: at least 0 (negative deltas invoked before it ended) + 5 (positive deltas n1 had acknowledged before it began)") ||
		fmt.Sprint(rows[0]) != fmt.Sprint([]string{fmt.Sprint(low - 1)}) {
		t.Errorf("read out of bounds: %q with rows %v", texts, rows)
	}
	texts, rows = findings(page, string(counter.FinalOutOfBounds))
	if len(texts) != 1 || !strings.Contains(texts[0], "final read 7 on n2") || !strings.Contains(texts[0], "acknowledged deltas sum to 5") ||
		fmt.Sprint(rows[0]) != fmt.Sprint([]string{fmt.Sprint(high - 1)}) {
		t.Errorf("final read out of bounds: %q with rows %v", texts, rows)
	}
	if texts, _ := findings(page, string(counter.FinalDiverged)); len(texts) != 1 {
		t.Errorf("differing final reads: %q", texts)
	}

	var l hist
	l.op(0, "n1", history.OpWrite, "r", 1, 0, 5, nil)
	saw := l.op(1, "n2", history.OpRead, "r", nil, 10, 12, 1) // n2 sees 1 ...
	w2 := l.op(2, "n2", history.OpWrite, "r", 2, 20, 25, nil) // ... then writes 2
	l.nemesis(history.Kill, 30, "n3", "kill n3 (one)")
	l.nemesis(history.Restart, 40, "n3", "restart n3")
	l.nemesis(history.Recover, 100, "", "")
	final := l.op(3, "n1", history.OpRead, "r", nil, 110, 111, 1)
	page, _ = l.page(t, lww.New())
	texts, rows = findings(page, string(lww.LostWrite))
	want := fmt.Sprint([]string{fmt.Sprint(final - 1), fmt.Sprint(w2 - 1), fmt.Sprint(saw - 1)})
	if len(texts) != 1 || !strings.Contains(texts[0], "had read it at event") || fmt.Sprint(rows[0]) != want {
		t.Errorf("lost write: %q with rows %v, want the final read, the superseding write and the read before it %s", texts, rows, want)
	}
	if !strings.Contains(page, "kill n3 (one)") {
		t.Error("the fault's own label is not on the page")
	}
}
