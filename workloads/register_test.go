package workloads

import (
	"reflect"
	"slices"
	"testing"

	"github.com/faultline/faultline/history"
)

func TestRegisterGeneratorRetiresKeysAndKeepsValuesUnique(t *testing.T) {
	g := Register{}.NewGenerator(Options{Seed: 3, Concurrency: 10, Functions: []history.Func{history.OpRead, history.OpWrite, history.OpCAS}})
	rg := g.(*registerGen)
	perKey := map[string]int{}
	written := map[string]map[string]bool{}
	sawCAS := false
	var retiredOrder []string // keys in the order they retired
	revisits := 0
	const total = 20000
	for range total {
		active := map[string]bool{}
		for _, k := range rg.active {
			active[k.name] = true
		}
		op := g.Next()
		if !active[op.Key] {
			// A revisit: a read of one of the last few retired keys.
			revisits++
			if op.F != history.OpRead {
				t.Fatalf("%s of retired key %s; revisits must be reads", op.F, op.Key)
			}
			i := slices.Index(retiredOrder, op.Key)
			if i < 0 || i < len(retiredOrder)-registerRevisitWindow {
				t.Fatalf("revisit of %s, which is not among the last %d retired keys", op.Key, registerRevisitWindow)
			}
			continue
		}
		perKey[op.Key]++
		for _, k := range rg.active {
			delete(active, k.name)
		}
		for k := range active {
			retiredOrder = append(retiredOrder, k)
		}
		switch op.F {
		case "write":
			v := history.ValueKey(op.Value)
			if written[op.Key] == nil {
				written[op.Key] = map[string]bool{}
			}
			if written[op.Key][v] {
				t.Fatalf("value %s written twice to %s", v, op.Key)
			}
			written[op.Key][v] = true
		case "cas":
			sawCAS = true
			pair, ok := op.Value.([]any)
			if !ok || len(pair) != 2 {
				t.Fatalf("cas value %v is not [expected, new]", op.Value)
			}
			nv := history.ValueKey(pair[1])
			if written[op.Key] == nil {
				written[op.Key] = map[string]bool{}
			}
			if written[op.Key][nv] {
				t.Fatalf("cas new value %s reused on %s", nv, op.Key)
			}
			written[op.Key][nv] = true
		case "read":
			if op.Value != nil {
				t.Fatalf("read carries value %v", op.Value)
			}
		default:
			t.Fatalf("unexpected f %q", op.F)
		}
	}
	if !sawCAS {
		t.Fatal("no cas generated although the system offers it")
	}
	// 5% of 20,000, less the revisits impossible before the first key retired.
	if lo, hi := total*(registerRevisitPercent-1)/100, total*(registerRevisitPercent+1)/100; revisits < lo || revisits > hi {
		t.Fatalf("%d revisits of retired keys in %d operations, want %d..%d", revisits, total, lo, hi)
	}
	if len(g.Keys()) != len(perKey) {
		t.Fatalf("Keys() lists %d keys, %d were used", len(g.Keys()), len(perKey))
	}
	active := ActiveKeys(10)
	retired := 0
	for k, n := range perKey {
		if n > registerMaxOpsPerKey {
			t.Fatalf("key %s got %d ops, more than %d", k, n, registerMaxOpsPerKey)
		}
		if n >= registerMinOpsPerKey {
			retired++
		}
	}
	if retired < len(perKey)-active {
		t.Fatalf("only %d of %d keys reached their op budget; all but the %d active ones should", retired, len(perKey), active)
	}
}

func TestRegisterGeneratorIsSeededAndHonoursFunctions(t *testing.T) {
	ops := func(seed uint64) []any {
		g := Register{}.NewGenerator(Options{Seed: seed, Concurrency: 4, Functions: []history.Func{history.OpRead, history.OpWrite}})
		var out []any
		for range 500 {
			op := g.Next()
			if op.F == "cas" {
				t.Fatal("cas generated for a system without it")
			}
			out = append(out, op)
		}
		return out
	}
	if !reflect.DeepEqual(ops(1), ops(1)) {
		t.Fatal("same seed, different operations")
	}
	if reflect.DeepEqual(ops(1), ops(2)) {
		t.Fatal("different seeds, same operations")
	}
}

func TestRegistryNamesValidWorkloads(t *testing.T) {
	if _, err := Default().Get("bank"); err == nil || err.Error() != `unknown workload "bank" (valid: counter, lock, lww, register, set)` {
		t.Fatalf("err = %v", err)
	}
}
