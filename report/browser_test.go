package report

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/outcome"
)

// browser starts headless Chromium for one test. It skips only where
// Chromium is not installed (.ci/run installs Debian's chromium).
func browser(t *testing.T) (context.Context, *atomic.Int32) {
	t.Helper()
	var exe string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			exe = p
			break
		}
	}
	if exe == "" {
		t.Skip("SKIP: Chromium is not installed (apt-get install -y chromium; .ci/run installs it), so the report is not checked in a browser")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1400, 1000))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	// Any alert, confirm or prompt means a value ran as script: count it
	// and dismiss it so the page goes on.
	var dialogs atomic.Int32
	chromedp.ListenTarget(bctx, func(ev any) {
		switch ev := ev.(type) {
		case *cdppage.EventJavascriptDialogOpening:
			dialogs.Add(1)
			go chromedp.Run(bctx, cdppage.HandleJavaScriptDialog(false))
		case *runtime.EventExceptionThrown:
			// A script error leaves charts half drawn: fail the test.
			t.Errorf("script error on the page: %s", ev.ExceptionDetails.Error())
		}
	})
	if err := chromedp.Run(bctx); err != nil {
		t.Fatalf("start Chromium %s: %v", exe, err)
	}
	return bctx, &dialogs
}

func TestReportOfARunWithNoHistoryInChromium(t *testing.T) {
	ctx, _ := browser(t)
	dir := filepath.Join(t.TempDir(), "20261121T100000.000Z-quorum-register-s1")
	writeRunDir(t, dir, nil, outcome.Result{Reason: "cluster did not come up: n2 exited", Checkers: checkers.Results{}})
	if err := os.Remove(filepath.Join(dir, "history.jsonl")); err != nil {
		t.Fatal(err)
	}
	path, err := Write(context.Background(), Input{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var verdict, text string
	if err := chromedp.Run(ctx, chromedp.Navigate("file://"+path),
		chromedp.WaitVisible(`body[data-rendered="yes"]`, chromedp.ByQuery),
		chromedp.Text("#verdict", &verdict, chromedp.ByQuery),
		chromedp.Evaluate(`document.body.innerText`, &text)); err != nil {
		t.Fatal(err)
	}
	if strings.ToLower(verdict) != "unknown" || !strings.Contains(text, "cluster did not come up: n2 exited") || !strings.Contains(text, "no history") {
		t.Errorf("verdict %q; page does not give the reason and say the history is missing:\n%.800s", verdict, text)
	}
}

func TestReportInChromium(t *testing.T) {
	ctx, dialogs := browser(t)
	dir, _ := smallRun(t)
	var (
		verdict, reason, bodyText string
		checkersList              []string
		bands, labels, marks      int
		labelText                 []string
		imgs                      int
		timelineW                 int
		shot                      []byte
	)
	err := chromedp.Run(ctx,
		chromedp.Navigate("file://"+filepath.Join(dir, File)),
		// The script sets data-rendered when it has drawn: proof that the
		// CSP's hash admits it.
		chromedp.WaitVisible(`body[data-rendered="yes"]`, chromedp.ByQuery),
		chromedp.Text(`#verdict`, &verdict, chromedp.ByQuery),
		chromedp.Text(`#reason`, &reason, chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#checkers li')).map(li => li.getAttribute('data-checker') + '=' + li.getAttribute('data-verdict'))`, &checkersList),
		chromedp.Evaluate(`document.querySelectorAll('#fl-timeline svg rect.nemesis').length`, &bands),
		chromedp.Evaluate(`document.querySelectorAll('#fl-latency svg .nemesis, #fl-throughput svg .nemesis, #fl-availability svg .nemesis').length`, &labels),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#fl-timeline .nemesis-label')).map(e => e.textContent)`, &labelText),
		chromedp.Evaluate(`document.querySelectorAll('img').length`, &imgs),
		chromedp.Evaluate(`document.querySelectorAll('#fl-timeline svg rect.anomaly-mark').length`, &marks),
		chromedp.Evaluate(`document.querySelector('#fl-timeline canvas').width`, &timelineW),
		chromedp.Evaluate(`document.body.innerText`, &bodyText),
		chromedp.FullScreenshot(&shot, 100),
	)
	if err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(t.TempDir(), "report.png")
	if err := os.WriteFile(png, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", png, len(shot))
	if keep := os.Getenv("FAULTLINE_SCREENSHOT_DIR"); keep != "" {
		_ = os.WriteFile(filepath.Join(keep, "report.png"), shot, 0o644)
	}

	if strings.ToLower(strings.TrimSpace(verdict)) != "invalid" || !strings.Contains(reason, "anomalies found") {
		t.Errorf("verdict %q (%q), want INVALID: anomalies found", verdict, reason)
	}
	if len(checkersList) != 1 || checkersList[0] != "linearizable=invalid" {
		t.Errorf("checker list %v, want [linearizable=invalid]", checkersList)
	}
	if bands < 4 {
		t.Errorf("%d nemesis bands on the timeline, want one per fault (at least 4)", bands)
	}
	if labels < 3*bands {
		t.Errorf("%d nemesis bands on the other charts, want %d (the same shading on each)", labels, 3*bands)
	}
	joined := strings.Join(labelText, "\n")
	if !strings.Contains(joined, "isolate: n") || !strings.Contains(joined, "kill n") {
		t.Errorf("nemesis labels %q do not name the partition shape and the killed node", joined)
	}
	if timelineW == 0 {
		t.Error("the timeline canvas was not drawn")
	}
	if marks < 2 {
		t.Errorf("%d operations outlined on the timeline, want the witness of each of the two failing keys", marks)
	}
	// Escaping: the hostile values are on the page as text and ran as nothing.
	for _, want := range []string{evilValue, evilKey} {
		if !strings.Contains(bodyText, want) {
			t.Errorf("page text lacks %q", want)
		}
	}
	if imgs != 0 {
		t.Errorf("%d <img> elements: a value was parsed as markup", imgs)
	}
	var logText string
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(`Array.from(document.querySelectorAll('details.nodelog pre')).map(p => p.textContent).join('\n')`, &logText),
	); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logText, "<script>alert(3)</script>") {
		t.Errorf("the node log's line is not shown as text: %q", logText)
	}
	if n := dialogs.Load(); n != 0 {
		t.Errorf("%d JavaScript dialogs opened: a value from the history or a log ran as script", n)
	}
	// Hovering the longest operation in the first lane shows its details.
	var at struct {
		X, Y float64
		Key  string
		P    int
	}
	var tip string
	err = chromedp.Run(ctx,
		chromedp.Evaluate(`(() => {
			const D = JSON.parse(document.getElementById('fl-data').textContent);
			let best = -1;
			for (let i = 0; i < D.s.length; i++) if (D.lane[i] === 0 && D.d[i] >= 0 && (best < 0 || D.d[i] > D.d[best])) best = i;
			const box = document.getElementById('fl-timeline').getBoundingClientRect();
			const laneH = Math.max(3, Math.min(16, Math.floor(420 / D.lanes.length)));
			const mid = D.s[best] + D.d[best] / 2;
			// One row of fault labels above the lanes: synth's faults never overlap.
			return {X: box.left + 56 + mid / D.end * (box.width - 68), Y: box.top + 6 + 12 + laneH / 2, Key: D.strs[D.k[best]], P: D.p[best]};
		})()`, &at))
	if err == nil { // the mouse goes where the first step found the operation
		err = chromedp.Run(ctx, chromedp.MouseEvent(input.MouseMoved, at.X, at.Y),
			chromedp.Evaluate(`document.getElementById('tip').textContent`, &tip))
	}
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tip, fmt.Sprintf("process %d: ", at.P)) || !strings.Contains(tip, " "+at.Key+" ") {
		t.Errorf("hovering process %d's operation on %s shows %q", at.P, at.Key, tip)
	}

	// Dragging across the latency chart zooms every chart into that span.
	var box struct{ L, T, W float64 }
	var before, after string
	var lines int
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(`(() => { const e = document.getElementById('fl-latency'); e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect(); return {L: r.left, T: r.top, W: r.width}; })()`, &box),
		chromedp.Text("#fl-range", &before, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	y, x1, x2 := box.T+50, box.L+56+(box.W-68)*0.25, box.L+56+(box.W-68)*0.5
	if err := chromedp.Run(ctx,
		chromedp.MouseEvent(input.MousePressed, x1, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.MouseMoved, x2, y, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.MouseReleased, x2, y, chromedp.ButtonLeft),
		chromedp.Text("#fl-range", &after, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll('#fl-throughput .axis text').length`, &lines)); err != nil {
		t.Fatal(err)
	}
	var a0, a1, b0, b1 float64
	fmt.Sscanf(before, "%f s – %f s", &b0, &b1)
	fmt.Sscanf(after, "%f s – %f s", &a0, &a1)
	if !(a0 > b0 && a1 < b1 && a1-a0 < 0.3*(b1-b0)) || lines == 0 {
		var dbg string
		chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf(`(() => { const e = document.elementFromPoint(%f, %f); return (e ? e.tagName + '#' + e.id + ' in ' + (e.closest('.chart')||{}).id : 'none') + ' inner ' + window.innerWidth + 'x' + window.innerHeight + ' scroll ' + window.scrollY; })()`, x1, y), &dbg))
		t.Errorf("dragging over a quarter of the chart turned the view %q into %q, want about that quarter (box %+v, at %s)", before, after, box, dbg)
	}

	// The detector itself: a page that does call alert is seen.
	if err := chromedp.Run(ctx, chromedp.Navigate("about:blank"),
		chromedp.Evaluate(`setTimeout(() => alert('probe'), 0); true`, nil)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); dialogs.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if dialogs.Load() != 1 {
		t.Error("the dialog detector missed a real alert(): the escaping check above proves nothing")
	}
}

func TestIndexInChromiumFiltersRuns(t *testing.T) {
	ctx, dialogs := browser(t)
	results := t.TempDir()
	mk := func(id, system string, v checkers.Verdict) {
		dir := filepath.Join(results, id)
		res := outcome.Result{Verdict: v, Reason: "r " + evilValue, Checkers: checkers.Results{}}
		writeRunDir(t, dir, nil, res)
		b, _ := os.ReadFile(filepath.Join(dir, "test.json"))
		b = []byte(strings.Replace(string(b), `"system":"quorum"`, `"system":"`+system+`"`, 1))
		if err := os.WriteFile(filepath.Join(dir, "test.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk("20261121T100000.000Z-quorum-register-s1", "quorum", checkers.Valid)
	mk("20261121T110000.000Z-raft-register-s2", "raft", checkers.Invalid)
	mk("20261121T120000.000Z-raft-register-s3", "raft", checkers.Valid)
	path, err := WriteIndex(results)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	var visibleRaft, visibleInvalidRaft int
	err = chromedp.Run(ctx,
		chromedp.Navigate("file://"+path),
		chromedp.WaitVisible(`#runs`, chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('tr.run td:last-child a')).map(a => a.textContent)`, &order),
		chromedp.SetValue(`#f-system`, "raft", chromedp.ByQuery),
		chromedp.Evaluate(`document.getElementById('f-system').dispatchEvent(new Event('change')); Array.from(document.querySelectorAll('tr.run')).filter(r => r.style.display !== 'none').length`, &visibleRaft),
		chromedp.SetValue(`#f-verdict`, "invalid", chromedp.ByQuery),
		chromedp.Evaluate(`document.getElementById('f-verdict').dispatchEvent(new Event('change')); Array.from(document.querySelectorAll('tr.run')).filter(r => r.style.display !== 'none').length`, &visibleInvalidRaft),
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(order) != 3 || !strings.Contains(order[0], "s3") || !strings.Contains(order[2], "s1") {
		t.Errorf("runs in order %v, want newest (s3) first", order)
	}
	if visibleRaft != 2 || visibleInvalidRaft != 1 {
		t.Errorf("filters show %d raft runs and %d invalid raft runs, want 2 and 1", visibleRaft, visibleInvalidRaft)
	}
	if n := dialogs.Load(); n != 0 {
		t.Errorf("%d JavaScript dialogs opened on the index", n)
	}
}
