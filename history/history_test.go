package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRecorderWritesOneLinePerEventAndRoundTrips(t *testing.T) {
	var buf bytes.Buffer
	r := NewRecorder(&buf, time.Now())
	r.Record(Event{Process: 0, Type: Invoke, F: "write", Key: "k1", Value: 3, Node: "n1"})
	r.Record(Event{Process: 0, Type: OK, F: "write", Key: "k1", Value: 3, Node: "n1"})
	r.Record(Event{Process: 1, Type: Invoke, F: "cas", Key: "k1", Value: []any{3, 4}})
	r.Record(Event{Process: NemesisProcess, Type: Info, F: "kill", Value: []string{"n2"}})
	if got := strings.Count(buf.String(), "\n"); got != 4 {
		t.Fatalf("wrote %d lines, want 4", got)
	}
	events, err := Read(&buf, "mem")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 4 {
		t.Fatalf("read %d events, want 4", len(events))
	}
	for i, e := range events {
		if e.Index != i {
			t.Errorf("event %d has index %d", i, e.Index)
		}
		if i > 0 && e.Time < events[i-1].Time {
			t.Errorf("time goes backwards at %d", i)
		}
	}
	if ValueKey(events[1].Value) != ValueKey(3) {
		t.Errorf("value read back as %v (%T), want it to compare equal to 3", events[1].Value, events[1].Value)
	}
	if ValueKey(events[2].Value) != ValueKey([]any{3, 4}) {
		t.Errorf("cas value read back as %v", events[2].Value)
	}
	if events[0].Value != nil && events[0].F == "read" {
		t.Errorf("read invoke should carry null")
	}
}

func TestReadReportsFileAndLineOfABadLine(t *testing.T) {
	in := `{"index":0,"time":1,"process":0,"type":"invoke","f":"read","key":"a","value":null}
{"index":1,"time":2,"process":0,"type":"okay","f":"read","key":"a","value":1}
`
	_, err := Read(strings.NewReader(in), "h.jsonl")
	var le *LineError
	if !errors.As(err, &le) || le.File != "h.jsonl" || le.Line != 2 {
		t.Fatalf("err = %v, want a LineError at h.jsonl:2", err)
	}
	if !strings.Contains(err.Error(), "h.jsonl:2") || !strings.Contains(err.Error(), `"okay"`) {
		t.Fatalf("message %q should name h.jsonl:2 and the bad type", err)
	}
}

func TestReadRejectsMissingFieldsAndBadProcesses(t *testing.T) {
	for _, line := range []string{
		`{"type":"invoke","f":"read"}`,
		`{"process":-3,"type":"invoke","f":"read"}`,
		`{"process":0,"type":"invoke"}`,
		`not json`,
		`{"process":0,"type":"invoke","f":"read"} {"x":1}`,
	} {
		if _, err := Read(strings.NewReader(line+"\n"), "x"); err == nil {
			t.Errorf("line %s was accepted", line)
		}
	}
}

func TestReadToleratesATornLastLine(t *testing.T) {
	in := `{"process":0,"type":"invoke","f":"read","key":"a"}
{"process":0,"type":"ok","f":"read","key":"a","value":n`
	events, err := Read(strings.NewReader(in), "h")
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("err = %v, want ErrTruncated", err)
	}
	if len(events) != 1 {
		t.Fatalf("got %d events before the torn line, want 1", len(events))
	}
	// A foreign history without indexes is numbered by position.
	if events[0].Index != 0 {
		t.Fatalf("index = %d", events[0].Index)
	}
}

func TestPairMatchesCompletionsAndRejectsOverlap(t *testing.T) {
	ev := []Event{
		{Index: 0, Process: 0, Type: Invoke, F: "write", Key: "a", Value: 1},
		{Index: 1, Process: 1, Type: Invoke, F: "read", Key: "a"},
		{Index: 2, Process: NemesisProcess, Type: Invoke, F: "kill"},
		{Index: 3, Process: 0, Type: OK, F: "write", Key: "a", Value: 1},
	}
	ops, err := Pair(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || ops[0].Outcome() != OK || ops[1].Outcome() != Info {
		t.Fatalf("ops = %+v, want a completed write and an open (info) read", ops)
	}
	bad := append(ev, Event{Index: 4, Process: 1, Type: Invoke, F: "read", Key: "a"})
	if _, err := Pair(bad); err == nil || !strings.Contains(err.Error(), "process 1") {
		t.Fatalf("err = %v, want a complaint about process 1 invoking twice", err)
	}
	orphan := []Event{{Index: 0, Process: 5, Type: OK, F: "read"}}
	if _, err := Pair(orphan); err == nil {
		t.Fatal("a completion with no invoke was accepted")
	}
}

// TestRecorderSurvivesSIGKILL runs a child that records events to a file
// and is killed with SIGKILL mid-stream: every line it completed must read.
func TestRecorderSurvivesSIGKILL(t *testing.T) {
	if os.Getenv("FAULTLINE_HISTORY_CHILD") != "" {
		f, err := os.OpenFile(os.Getenv("FAULTLINE_HISTORY_CHILD"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			os.Exit(9)
		}
		r := NewRecorder(f, time.Now())
		for i := 0; ; i++ {
			r.Record(Event{Process: i % 4, Type: Invoke, F: "write", Key: "k", Value: i})
			r.Record(Event{Process: i % 4, Type: OK, F: "write", Key: "k", Value: i})
		}
	}
	path := filepath.Join(t.TempDir(), "history.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run=^TestRecorderSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), "FAULTLINE_HISTORY_CHILD="+path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if fi, err := os.Stat(path); err == nil && fi.Size() > 64<<10 {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("child wrote too little in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	events, err := ReadFile(path)
	if err != nil && !errors.Is(err, ErrTruncated) {
		t.Fatalf("reading a SIGKILLed history: %v", err)
	}
	if len(events) < 100 {
		t.Fatalf("only %d events survived", len(events))
	}
	if _, err := Pair(events); err != nil {
		t.Fatalf("surviving events do not pair: %v", err)
	}
	b, _ := json.Marshal(events[len(events)-1])
	t.Logf("%d events survived; last %s", len(events), b)
}

func TestObserverEventsAreReadAndSkippedByPair(t *testing.T) {
	in := `{"index":0,"time":1,"process":-2,"type":"info","f":"membership","node":"n1","value":{"n2":"dead"}}
{"index":1,"time":2,"process":0,"type":"invoke","f":"read","key":"a","value":null}
{"index":2,"time":3,"process":-2,"type":"info","f":"membership","node":"n2","value":{"n1":"alive"}}
{"index":3,"time":4,"process":0,"type":"ok","f":"read","key":"a","value":1}
`
	events, err := Read(strings.NewReader(in), "h")
	if err != nil {
		t.Fatal(err)
	}
	if events[0].Process != ObserverProcess || events[0].IsClient() {
		t.Fatalf("observer event read as %+v", events[0])
	}
	ops, err := Pair(events)
	if err != nil || len(ops) != 1 || ops[0].Complete == nil || ops[0].Complete.Index != 3 {
		t.Fatalf("Pair = %+v, %v; want one read completed by event 3", ops, err)
	}
}

func TestFaultOfPairsEveryFaultsStepsAndForeignOnes(t *testing.T) {
	for _, c := range []struct {
		f         Func
		name      string
		start, ok bool
		stop      Func
		effect    Effect
	}{
		{StartPartition, "partition", true, true, StopPartition, Network},
		{StopLink, "link", false, true, StopLink, Network},
		{Kill, "kill", true, true, Restart, NodesDown},
		{Resume, "pause", false, true, Resume, NodesDown},
		{PowerLoss, "power-loss", true, true, PowerRestore, NodesDown},
		{StopClock, "clock", false, true, StopClock, Clocks},
		{"start-slow", "slow", true, true, "stop-slow", Other},
		{Recover, "", false, false, "", Other},
		{OpRead, "", false, false, "", Other},
		{"start-", "", false, false, "", Other},
	} {
		fault, start, ok := FaultOf(c.f)
		if ok != c.ok || start != c.start || fault.Name != c.name || fault.Stop != c.stop || fault.Effect != c.effect {
			t.Errorf("FaultOf(%s) = %+v, start %v, ok %v", c.f, fault, start, ok)
		}
	}
	if got := (Event{Node: "n1, n3,,n5"}).Nodes(); strings.Join(got, " ") != "n1 n3 n5" {
		t.Errorf("Nodes() = %q", got)
	}
}

func TestLabelRoundTrips(t *testing.T) {
	var b bytes.Buffer
	rec := NewRecorder(&b, time.Now())
	rec.Record(Event{Process: NemesisProcess, Type: Info, F: Kill, Node: "n2", Label: "kill n2 (one)"})
	got, err := Read(&b, "h")
	if err != nil || len(got) != 1 || got[0].Label != "kill n2 (one)" || got[0].F != Kill {
		t.Fatalf("read back %+v, %v", got, err)
	}
}
