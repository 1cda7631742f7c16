package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/histgen"
)

// BenchmarkCheckMillion judges a valid 1,000,000-operation, 1,000-key
// register history through `faultline check` (read, validate, check,
// report), then through plain Porcupine on the same file (encoding/json,
// pairing, a key-partitioned register model), and reports each one's wall
// time and peak resident memory. `make bench` runs it; the issue's
// targets are 15 s and 1 GB for faultline.
func BenchmarkCheckMillion(b *testing.B) {
	ops := 1_000_000
	if s := os.Getenv("CHECK_MILLION_OPS"); s != "" { // a smaller run while working on it
		ops, _ = strconv.Atoi(s)
	}
	path := filepath.Join(b.TempDir(), "history.jsonl")
	if err := writeHistory(path, histgen.Registers(1, ops, 1000, 10)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		fl, flPeak := measurePeak(b, func() {
			if code := execute(context.Background(), []string{"check", "--workload", "register", path}, io.Discard, io.Discard); code != exitcode.Valid {
				b.Fatalf("faultline check exit %d, want 0 (valid)", code)
			}
		})
		pc, pcPeak := measurePeak(b, func() {
			if res := plainPorcupine(b, path); res != porcupine.Ok {
				b.Fatalf("plain porcupine: %v, want ok", res)
			}
		})
		b.ReportMetric(fl.Seconds(), "faultline-s")
		b.ReportMetric(flPeak, "faultline-peak-MB")
		b.ReportMetric(pc.Seconds(), "porcupine-s")
		b.ReportMetric(pcPeak, "porcupine-peak-MB")
	}
}

func writeHistory(path string, events []history.Event) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, e := range events {
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// measurePeak runs f and returns its wall time and the process's peak
// resident memory (VmHWM) during it, in MB: the peak is reset first
// (clear_refs 5), after the garbage of earlier work is returned to the OS.
func measurePeak(b *testing.B, f func()) (time.Duration, float64) {
	b.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset the peak resident memory (%v): the figure would be wrong", err)
	}
	start := time.Now()
	f()
	took := time.Since(start)
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")))
			if err != nil {
				b.Fatal(err)
			}
			return took, float64(n) / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0, 0
}

// plainPorcupine is what a user of Porcupine alone would write: decode
// each line, pair completions with invocations by process, and check a
// register model partitioned by key. Info operations never return; a
// failed one did not happen and is dropped.
func plainPorcupine(b *testing.B, path string) porcupine.CheckResult {
	b.Helper()
	type line struct {
		Process int             `json:"process"`
		Type    string          `json:"type"`
		F       string          `json:"f"`
		Key     string          `json:"key"`
		Value   json.RawMessage `json:"value"`
		Time    int64           `json:"time"`
	}
	type in struct{ f, key, v, expect string }
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var ops []porcupine.Operation
	open := map[int]int{}
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			b.Fatal(err)
		}
		if l.Process < 0 {
			continue
		}
		if l.Type == "invoke" {
			i := in{f: l.F, key: l.Key, v: string(l.Value)}
			if l.F == "cas" {
				var pair [2]json.RawMessage
				if err := json.Unmarshal(l.Value, &pair); err != nil {
					b.Fatal(err)
				}
				i.expect, i.v = string(pair[0]), string(pair[1])
			}
			open[l.Process] = len(ops)
			ops = append(ops, porcupine.Operation{ClientId: l.Process, Input: i, Call: l.Time, Return: math.MaxInt64})
			continue
		}
		j, ok := open[l.Process]
		if !ok {
			b.Fatalf("completion without invoke: %s", sc.Text())
		}
		delete(open, l.Process)
		switch l.Type {
		case "ok":
			ops[j].Return, ops[j].Output = l.Time, string(l.Value)
		case "fail":
			ops[j].Input = nil // did not happen: dropped below
		}
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	kept := ops[:0]
	for _, op := range ops {
		if op.Input != nil {
			kept = append(kept, op)
		}
	}
	model := porcupine.Model{
		Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
			byKey := map[string][]porcupine.Operation{}
			for _, op := range h {
				k := op.Input.(in).key
				byKey[k] = append(byKey[k], op)
			}
			out := make([][]porcupine.Operation, 0, len(byKey))
			for _, p := range byKey {
				out = append(out, p)
			}
			return out
		},
		Init: func() any { return "null" },
		Step: func(state, input, output any) (bool, any) {
			i, s := input.(in), state.(string)
			switch i.f {
			case "read":
				return output == nil || output.(string) == s, s
			case "write":
				return true, i.v
			case "cas":
				if s != i.expect { // an unknown (info) cas may not have happened
					return output == nil, s
				}
				return true, i.v
			}
			panic(fmt.Sprintf("unknown op %q", i.f))
		},
		Equal: func(a, b any) bool { return a == b },
	}
	return porcupine.CheckOperationsTimeout(model, kept, 0)
}

// A check that needs more heap than --memory-limit-mb gives it ends
// unknown (exit 3) and says why; the same history under the default limit
// is judged.
func TestCheckPastItsMemoryLimitIsUnknown(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: checks a 100,000-operation history twice")
	}
	path := filepath.Join(t.TempDir(), "history.jsonl")
	if err := writeHistory(path, histgen.Registers(1, 100_000, 100, 10)); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	code := execute(context.Background(), []string{"check", "--memory-limit-mb", "4", path}, &out, &errb)
	if code != exitcode.Unknown || !strings.Contains(out.String(), "memory limit exceeded") || !strings.Contains(out.String(), "--memory-limit-mb 4") {
		t.Fatalf("check under 4 MiB: exit %d, stdout %q, stderr %q; want exit 3 naming the memory limit", code, out.String(), errb.String())
	}
	out.Reset()
	if code := execute(context.Background(), []string{"check", path}, &out, io.Discard); code != exitcode.Valid {
		t.Fatalf("check under the default limit: exit %d\n%s", code, out.String())
	}
	if code := execute(context.Background(), []string{"check", "--memory-limit-mb", "-1", path}, io.Discard, io.Discard); code != exitcode.Usage {
		t.Fatalf("--memory-limit-mb -1: exit %d, want 2", code)
	}
}
