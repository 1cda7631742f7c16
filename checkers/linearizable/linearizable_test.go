package linearizable

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

// ev builds one event on key "x"; see evk for other keys.
func ev(p int, t history.Type, f history.Func, v any) history.Event {
	return evk(p, t, f, "x", v)
}

func evk(p int, t history.Type, f history.Func, key string, v any) history.Event {
	return history.Event{Process: p, Type: t, F: f, Key: key, Value: v}
}

// op is a complete operation on key "x" that no other overlaps.
func op(p int, f history.Func, in any, t history.Type, out any) []history.Event {
	return []history.Event{ev(p, history.Invoke, f, in), ev(p, t, f, out)}
}

func seq(parts ...[]history.Event) []history.Event {
	var out []history.Event
	for _, p := range parts {
		out = append(out, p...)
	}
	for i := range out {
		out[i].Index = i
		out[i].Time = int64(i) * 1000
	}
	return out
}

func one(e history.Event) []history.Event { return []history.Event{e} }

const (
	inv  = history.Invoke
	ok   = history.OK
	fail = history.Fail
	info = history.Info
)

// roundTrip writes events as JSON lines and reads them back, so every
// number becomes a json.Number, as in a stored history.
func roundTrip(t *testing.T, events []history.Event) []history.Event {
	t.Helper()
	var buf bytes.Buffer
	if err := history.Write(&buf, events); err != nil {
		t.Fatal(err)
	}
	out, err := history.Read(&buf, "roundtrip")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		events []history.Event
		want   checkers.Verdict
	}{
		// An empty history proves nothing: unknown, so a dead run cannot pass.
		{"empty history", nil, checkers.Unknown},
		{"only failed operations", seq(op(0, "write", 1, fail, 1), op(1, "read", nil, fail, nil)), checkers.Unknown},
		{"sequential", seq(
			op(0, "read", nil, ok, nil),
			op(0, "write", 1, ok, 1),
			op(1, "read", nil, ok, 1),
			op(1, "write", 2, ok, 2),
			op(0, "read", nil, ok, 2),
		), checkers.Valid},
		{"sequential read of a value never written", seq(
			op(0, "write", 1, ok, 1),
			op(1, "read", nil, ok, 7),
		), checkers.Invalid},
		{"reads during a write see new then old", seq(
			one(ev(0, inv, "write", 1)),
			op(1, "read", nil, ok, 1),
			op(2, "read", nil, ok, nil), // after p1 saw 1: new then old
			one(ev(0, ok, "write", 1)),
		), checkers.Invalid},
		{"concurrent reads old then new during a write", seq(
			one(ev(0, inv, "write", 1)),
			op(2, "read", nil, ok, nil),
			op(1, "read", nil, ok, 1),
			one(ev(0, ok, "write", 1)),
		), checkers.Valid},
		{"overlapping writes, read sees either order", seq(
			one(ev(0, inv, "write", 1)),
			one(ev(1, inv, "write", 2)),
			one(ev(0, ok, "write", 1)),
			one(ev(1, ok, "write", 2)),
			op(2, "read", nil, ok, 1),
			op(2, "read", nil, ok, 1),
		), checkers.Valid},
		{"stale read", seq(
			op(0, "write", 1, ok, 1),
			op(1, "write", 2, ok, 2),
			op(2, "read", nil, ok, 1),
		), checkers.Invalid},
		{"info write that later shows up", seq(
			op(0, "write", 1, info, 1),
			op(1, "read", nil, ok, nil),
			op(1, "read", nil, ok, 1),
			op(2, "read", nil, ok, 1),
		), checkers.Valid},
		{"info write never seen", seq(
			op(0, "write", 1, info, 1),
			op(1, "read", nil, ok, nil),
			op(2, "read", nil, ok, nil),
		), checkers.Valid},
		{"info write cannot take effect twice", seq(
			op(0, "write", 1, info, 1),
			op(1, "read", nil, ok, 1),
			op(1, "read", nil, ok, nil),
		), checkers.Invalid},
		{"info write cannot take effect before its invoke", seq(
			op(1, "read", nil, ok, 1),
			op(0, "write", 1, info, 1),
		), checkers.Invalid},
		{"open invoke at end is info", seq(
			op(1, "write", 2, ok, 2),
			one(ev(0, inv, "write", 1)),
			op(1, "read", nil, ok, 1),
			one(ev(2, inv, "read", nil)),
		), checkers.Valid},
		{"open invoke at end is info, not ok", seq(
			op(1, "write", 2, ok, 2),
			one(ev(0, inv, "write", 1)),
			op(1, "read", nil, ok, 1),
			op(1, "read", nil, ok, 2),
		), checkers.Invalid},
		{"cas ok when matching", seq(
			op(0, "write", 1, ok, 1),
			op(1, "cas", []any{1, 2}, ok, []any{1, 2}),
			op(2, "read", nil, ok, 2),
		), checkers.Valid},
		{"cas ok when not matching", seq(
			op(0, "write", 1, ok, 1),
			op(1, "cas", []any{3, 4}, ok, []any{3, 4}),
		), checkers.Invalid},
		{"cas fail when not matching leaves the state", seq(
			op(0, "write", 1, ok, 1),
			op(1, "cas", []any{3, 4}, fail, []any{3, 4}),
			op(2, "read", nil, ok, 1),
		), checkers.Valid},
		// A failed cas did not happen, whatever the reason (a mismatch, or
		// never sent): it constrains nothing, even when it "should" have
		// matched.
		{"cas fail is dropped even when it would have matched", seq(
			op(0, "write", 1, ok, 1),
			op(1, "cas", []any{1, 2}, fail, []any{1, 2}),
			op(2, "read", nil, ok, 1),
		), checkers.Valid},
		{"cas fail did not write", seq(
			op(0, "write", 1, ok, 1),
			op(1, "cas", []any{3, 4}, fail, []any{3, 4}),
			op(2, "read", nil, ok, 4),
		), checkers.Invalid},
		{"cas on absent key expects nil", seq(
			op(1, "cas", []any{nil, 4}, ok, nil),
			op(2, "read", nil, ok, 4),
		), checkers.Valid},
		{"cas with a Go int slice", seq(
			op(0, "write", 1, ok, 1),
			op(1, "cas", []int{1, 2}, ok, nil),
			op(2, "read", nil, ok, 2),
		), checkers.Valid},
		{"info cas took effect", seq(
			op(0, "write", 1, ok, 1),
			op(1, "cas", []any{1, 2}, info, nil),
			op(2, "read", nil, ok, 2),
		), checkers.Valid},
		{"info cas did not take effect", seq(
			op(0, "write", 1, ok, 1),
			op(1, "cas", []any{1, 2}, info, nil),
			op(2, "read", nil, ok, 1),
			op(2, "read", nil, ok, 1),
		), checkers.Valid},
		{"info cas took effect later", seq(
			op(0, "write", 1, ok, 1),
			op(1, "cas", []any{1, 2}, info, nil),
			op(2, "read", nil, ok, 1),
			op(2, "read", nil, ok, 2),
		), checkers.Valid},
		{"info cas takes effect at most once", seq(
			op(0, "write", 1, ok, 1),
			op(1, "cas", []any{1, 2}, info, nil),
			op(2, "read", nil, ok, 2),
			op(2, "read", nil, ok, 1),
		), checkers.Invalid},
		{"info cas cannot write when not matching", seq(
			op(0, "write", 1, ok, 1),
			op(1, "cas", []any{5, 2}, info, nil),
			op(2, "read", nil, ok, 2),
		), checkers.Invalid},
		{"info cas matches a state set later", seq(
			op(1, "cas", []any{1, 2}, info, nil),
			op(0, "write", 1, ok, 1),
			op(2, "read", nil, ok, 2),
		), checkers.Valid},
		{"fail ops are ignored", seq(
			op(0, "write", 1, ok, 1),
			op(1, "write", 2, fail, 2),
			op(2, "read", nil, fail, 99),
			op(2, "read", nil, ok, 1),
		), checkers.Valid},
		{"a failed write did not happen", seq(
			op(0, "write", 1, ok, 1),
			op(1, "write", 2, fail, 2),
			op(2, "read", nil, ok, 2),
		), checkers.Invalid},
		{"info read constrains nothing", seq(
			op(0, "write", 1, ok, 1),
			op(2, "read", nil, info, 99),
		), checkers.Valid},
		{"writing nil makes the key absent", seq(
			op(0, "write", 1, ok, 1),
			op(0, "write", nil, ok, nil),
			op(2, "read", nil, ok, nil),
		), checkers.Valid},
		{"strings and numbers differ", seq(
			op(0, "write", 1, ok, 1),
			op(2, "read", nil, ok, "1"),
		), checkers.Invalid},
		{"nemesis events are ignored", seq(
			one(history.Event{Process: history.NemesisProcess, Type: info, F: "partition", Value: "majority"}),
			op(0, "write", 1, ok, 1),
			one(history.Event{Process: history.NemesisProcess, Type: info, F: "heal"}),
			op(2, "read", nil, ok, 1),
		), checkers.Valid},
		{"empty key is a register like any", seq(
			one(evk(0, inv, "write", "", 1)),
			one(evk(0, ok, "write", "", 1)),
			one(evk(1, inv, "read", "", nil)),
			one(evk(1, ok, "read", "", 1)),
		), checkers.Valid},
		{"keys are independent", seq(
			one(evk(0, inv, "write", "a", 1)),
			one(evk(0, ok, "write", "a", 1)),
			one(evk(1, inv, "read", "b", nil)),
			one(evk(1, ok, "read", "b", nil)),
		), checkers.Valid},
	}
	c := New(Options{Timeout: 10 * time.Second})
	for _, tt := range tests {
		for _, encoding := range []string{"go", "json"} {
			t.Run(tt.name+"/"+encoding, func(t *testing.T) {
				events := tt.events
				if encoding == "json" {
					events = roundTrip(t, events)
				}
				res := c.Check(t.Context(), events)
				if res.Verdict != tt.want {
					t.Fatalf("verdict %v, want %v (reason %q, anomalies %q)", res.Verdict, tt.want, res.Reason, res.Anomalies)
				}
				if tt.want == checkers.Invalid && len(res.Anomalies) == 0 {
					t.Errorf("invalid with no anomalies")
				}
				if tt.want == checkers.Valid && len(res.Anomalies) != 0 {
					t.Errorf("valid with anomalies %q", res.Anomalies)
				}
			})
		}
	}
}

// A value written as a Go int and read back as a json.Number (or float64,
// as encoding/json gives without UseNumber) is the same value.
func TestValueTypesCompareEqual(t *testing.T) {
	for _, read := range []any{json.Number("3"), float64(3), int64(3), 3} {
		events := seq(
			op(0, "write", 3, ok, 3),
			op(1, "read", nil, ok, read),
			op(0, "cas", []any{json.Number("3"), int8(4)}, ok, nil),
			op(1, "read", nil, ok, json.Number("4")),
		)
		if res := New(Options{}).Check(t.Context(), events); res.Verdict != checkers.Valid {
			t.Errorf("read %T: verdict %v (%q)", read, res.Verdict, res.Anomalies)
		}
	}
}

func TestMultipleKeysOneBad(t *testing.T) {
	var parts [][]history.Event
	for _, k := range []string{"k1", "k12", "k3/../x"} {
		parts = append(parts,
			one(evk(0, inv, "write", k, 1)), one(evk(0, ok, "write", k, 1)),
			one(evk(1, inv, "write", k, 2)), one(evk(1, ok, "write", k, 2)),
		)
	}
	// k12 and the awkwardly named key read stale values; k1 reads well.
	parts = append(parts,
		one(evk(3, inv, "write", "k12", 5)), one(evk(3, info, "write", "k12", 5)),
		one(evk(2, inv, "read", "k12", nil)), one(evk(2, ok, "read", "k12", 1)),
		one(evk(2, inv, "read", "k1", nil)), one(evk(2, ok, "read", "k1", 2)),
		one(evk(2, inv, "read", "k3/../x", nil)), one(evk(2, ok, "read", "k3/../x", 1)),
	)
	events := seq(parts...)
	res := New(Options{}).Check(t.Context(), events)

	if res.Verdict != checkers.Invalid {
		t.Fatalf("verdict %v, want invalid (%s)", res.Verdict, res.Reason)
	}
	wantAnomalies := []string{
		`key "k12": no linearization of 4 operations (1 write info)`,
		`key "k3/../x": no linearization of 3 operations`,
	}
	var got []string
	for _, a := range res.Anomalies {
		got = append(got, a.Text)
		if a.Kind != NotLinearizable || !strings.Contains(a.Text, `"`+a.Key+`"`) {
			t.Errorf("anomaly %+v: want kind %s and its key", a, NotLinearizable)
		}
	}
	if strings.Join(got, "\n") != strings.Join(wantAnomalies, "\n") {
		t.Errorf("anomalies\n%q\nwant\n%q", got, wantAnomalies)
	}
	if got := res.Details["failing_keys"]; !equalStrings(got, []string{"k12", "k3/../x"}) {
		t.Errorf("failing_keys %v", got)
	}
	if res.Details["keys_checked"] != 3 || res.Details["ops_checked"] != 10 || res.Details["failing_key_count"] != 2 {
		t.Errorf("details %v", res.Details)
	}
	// Visualizations come back as data, one per failing key, named safely.
	if len(res.Artifacts) != 2 {
		t.Fatalf("artifacts %+v, want one per failing key (details %v)", res.Artifacts, res.Details)
	}
	for i, want := range []checkers.Artifact{{Name: "linearizable-k12.html", Key: "k12"}, {Name: "linearizable-k3_.._x.html", Key: "k3/../x"}} {
		if a := res.Artifacts[i]; a.Name != want.Name || a.Key != want.Key || len(a.Data) == 0 {
			t.Errorf("artifact %d: %s for %q (%d bytes), want %s for %q", i, a.Name, a.Key, len(a.Data), want.Name, want.Key)
		}
	}
	// The page holds only the failing key's operations, described by the model.
	for _, want := range []string{"read → 1", "write 5 (info)", "write 2"} {
		if !bytes.Contains(res.Artifacts[0].Data, []byte(want)) {
			t.Errorf("visualization lacks %q", want)
		}
	}
}

func TestNoVisualizationWhenValidOrNoneWanted(t *testing.T) {
	bad := seq(op(0, "write", 1, ok, 1), op(1, "read", nil, ok, 2))
	if res := New(Options{}).Check(t.Context(), bad); len(res.Artifacts) != 1 {
		t.Errorf("artifacts %+v for one failing key, want one", res.Artifacts)
	}
	good := seq(op(0, "write", 1, ok, 1), op(1, "read", nil, ok, 1))
	if res := New(Options{}).Check(t.Context(), good); len(res.Artifacts) != 0 {
		t.Errorf("artifacts %+v for a valid history", res.Artifacts)
	}
	if res := New(Options{MaxFiles: -1}).Check(t.Context(), bad); len(res.Artifacts) != 0 {
		t.Errorf("artifacts %+v with MaxFiles < 0", res.Artifacts)
	}
}

func TestVisualizationCap(t *testing.T) {
	var parts [][]history.Event
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		parts = append(parts,
			one(evk(0, inv, "write", k, 1)), one(evk(0, ok, "write", k, 1)),
			one(evk(1, inv, "read", k, nil)), one(evk(1, ok, "read", k, 2)))
	}
	res := New(Options{MaxFiles: 2}).Check(t.Context(), seq(parts...))
	if len(res.Anomalies) != 5 || len(res.Artifacts) != 2 {
		t.Errorf("%d anomalies, %d artifacts; want 5 and 2", len(res.Anomalies), len(res.Artifacts))
	}
}

// hardInvalid is n overlapping writes, then two reads that see the state
// change after every write has returned. It is not linearizable, but proving
// so means trying every order of the writes: about n·2^n search states.
func hardInvalid(n int) []history.Event {
	var parts [][]history.Event
	for p := range n {
		parts = append(parts, one(ev(p, inv, "write", p)))
	}
	for p := range n {
		parts = append(parts, one(ev(p, ok, "write", p)))
	}
	parts = append(parts, op(n, "read", nil, ok, 0), op(n, "read", nil, ok, 1))
	return seq(parts...)
}

func TestHardHistoryIsInvalid(t *testing.T) {
	if res := New(Options{}).Check(t.Context(), hardInvalid(6)); res.Verdict != checkers.Invalid {
		t.Fatalf("verdict %v, want invalid", res.Verdict)
	}
}

func TestTimeoutIsUnknown(t *testing.T) {
	start := time.Now()
	res := New(Options{Timeout: 50 * time.Millisecond}).Check(t.Context(), hardInvalid(24))
	if res.Verdict != checkers.Unknown {
		t.Fatalf("verdict %v, want unknown (%s)", res.Verdict, res.Reason)
	}
	if !strings.Contains(res.Reason, "time limit of 50ms reached") {
		t.Errorf("reason %q does not say the time ran out", res.Reason)
	}
	if len(res.Artifacts) != 0 || len(res.Anomalies) != 0 {
		t.Errorf("unknown verdict with artifacts %+v, anomalies %+v", res.Artifacts, res.Anomalies)
	}
	// The search must stop soon after the deadline, not run to its end.
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("check took %s with a 50ms limit", took)
	}
}

func TestCancelledContextIsUnknown(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res := New(Options{}).Check(ctx, seq(op(0, "write", 1, ok, 1)))
	if res.Verdict != checkers.Unknown || !strings.Contains(res.Reason, "cancelled") {
		t.Fatalf("verdict %v, reason %q; want unknown, cancelled", res.Verdict, res.Reason)
	}
}

func TestInputErrors(t *testing.T) {
	tests := []struct {
		name   string
		events []history.Event
		want   error
		reason string
	}{
		{"unknown f", seq(
			op(0, "write", 1, ok, 1),
			op(1, "add", 1, ok, nil),
			op(1, "add", 2, ok, nil),
		), ErrUnsupported, `"add" (2 ops)`},
		{"completion without invoke", seq(
			one(ev(0, ok, "write", 1)),
		), ErrMalformed, "no open invoke"},
		{"invoke while busy", seq(
			one(ev(0, inv, "write", 1)),
			one(ev(0, inv, "write", 2)),
		), ErrMalformed, "invokes again"},
		{"cas value not a pair", seq(
			op(0, "cas", 3, ok, nil),
		), ErrMalformed, "cas value 3 is not [expected, new]"},
		{"cas value of three", seq(
			op(0, "cas", []any{1, 2, 3}, ok, nil),
		), ErrMalformed, "[1,2,3]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Prepare(tt.events)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Prepare error %v, want %v", err, tt.want)
			}
			res := New(Options{}).Check(t.Context(), tt.events)
			if res.Verdict != checkers.Unknown {
				t.Errorf("verdict %v, want unknown", res.Verdict)
			}
			if !strings.Contains(res.Reason, tt.reason) {
				t.Errorf("reason %q lacks %q", res.Reason, tt.reason)
			}
		})
	}
}

func TestPrepareCounts(t *testing.T) {
	p, err := Prepare(seq(
		op(0, "write", 1, ok, 1),
		op(0, "write", 2, fail, 2),
		op(1, "read", nil, info, nil),
		op(1, "read", nil, fail, nil),
		one(evk(2, inv, "cas", "y", []any{1, 2})),
	))
	if err != nil {
		t.Fatal(err)
	}
	if p.Keys() != 2 || p.Ops() != 2 || p.dropped != 3 {
		t.Errorf("keys %d ops %d dropped %d; want 2, 2, 3", p.Keys(), p.Ops(), p.dropped)
	}
	if y := p.keys[1]; y.key != "y" || y.infoCas != 1 || y.ops[0].ret != infinity || y.ops[0].completeIndex != -1 {
		t.Errorf("open cas on y prepared as %+v", y)
	}
}

func TestFileName(t *testing.T) {
	used := map[string]bool{}
	for _, c := range []struct{ key, want string }{
		{"k12", "linearizable-k12.html"},
		{"", "linearizable-empty-key.html"},
		{"../etc/passwd", "linearizable-_._etc_passwd.html"},
		{"k/1", "linearizable-k_1.html"},
		{"k_1", "linearizable-k_1-2.html"},
		{"ключ", "linearizable-____.html"},
		{strings.Repeat("a", 200), "linearizable-" + strings.Repeat("a", 64) + ".html"},
	} {
		if got := fileName(c.key, used); got != c.want {
			t.Errorf("fileName(%q) = %q, want %q", c.key, got, c.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	m := newModel([]string{"", "3", "4"}, nil)
	for _, c := range []struct {
		in   opInput
		out  opOutput
		want string
	}{
		{opInput{kind: kindRead}, opOutput{value: 1}, "read → 3"},
		{opInput{kind: kindRead}, opOutput{value: absent}, "read → absent"},
		{opInput{kind: kindWrite, value: 2}, opOutput{}, "write 4"},
		{opInput{kind: kindWrite, value: 2}, opOutput{ret: retInfo}, "write 4 (info)"},
		{opInput{kind: kindCas, expected: 1, value: 2}, opOutput{}, "cas 3→4"},
		{opInput{kind: kindCas, expected: 1, value: 2}, opOutput{ret: retInfo}, "cas 3→4 (info)"},
	} {
		if got := m.DescribeOperation(&c.in, &c.out); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	if got := m.DescribeState(absent); got != "absent" {
		t.Errorf("state %q", got)
	}
}

func equalStrings(got any, want []string) bool {
	g, ok := got.([]string)
	if !ok || len(g) != len(want) {
		return false
	}
	for i := range g {
		if g[i] != want[i] {
			return false
		}
	}
	return true
}
