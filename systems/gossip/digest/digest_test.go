package digest

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
)

func state(s string) Hash { return sha256.Sum256([]byte(s)) }

func TestDiffFindsExactlyTheBucketsOfDifferingKeys(t *testing.T) {
	a := map[string]Hash{}
	for i := range 500 {
		a[fmt.Sprintf("k%d", i)] = state(fmt.Sprint(i))
	}
	b := map[string]Hash{}
	for k, v := range a {
		b[k] = v
	}
	if d := Diff(Build(a), Build(b)); d != nil {
		t.Fatalf("equal replicas differ in buckets %v", d)
	}
	b["k7"] = state("changed")
	delete(b, "k42")
	b["new"] = state("x")
	want := []int{Bucket("k7"), Bucket("k42"), Bucket("new")}
	slices.Sort(want)
	want = slices.Compact(want)
	if got := Diff(Build(a), Build(b)); !slices.Equal(got, want) {
		t.Fatalf("diff buckets %v, want %v", got, want)
	}
}

func TestEmptyAndNonEmptyDiffer(t *testing.T) {
	if Diff(Build(nil), Build(map[string]Hash{"k": state("")})) == nil {
		t.Fatal("an empty replica and one with a key have the same root")
	}
}
