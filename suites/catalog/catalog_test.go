package catalog

import (
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/internal/runner"
	"github.com/faultline/faultline/systems/registry"
)

// Every entry builds a test the harness accepts: an entry that does not
// resolve is an error here, never a skipped spec.
func TestEntriesResolve(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Scenarios {
		if seen[s.Name()] {
			t.Errorf("scenario %q listed twice", s.Name())
		}
		seen[s.Name()] = true
		if s.Length != Short && s.Length != Long {
			t.Errorf("%s: length %q, want short or long", s.Name(), s.Length)
		}
		if err := s.Resolve(); err != nil {
			t.Errorf("%s: %v", s.Name(), err)
		}
	}
	for _, b := range AllBugs() {
		if b.Seeds < 1 {
			t.Errorf("bug %s: %d seeds", b.Name, b.Seeds)
		}
		if err := b.Resolve(); err != nil {
			t.Errorf("bug %s: %v", b.Name, err)
		}
		if _, err := runner.Resolve(b.Test(1, []string{b.Name})); err != nil {
			t.Errorf("bug %s: %v", b.Name, err)
		}
	}
}

// The check above can fail: a misspelled fault, bug, workload or system
// does not resolve.
func TestMisspelledEntriesDoNotResolve(t *testing.T) {
	good := Scenario{System: "raft", Workload: "register", Faults: []string{"partition"}, Time: time.Second, Length: Short}
	if err := good.Resolve(); err != nil {
		t.Fatalf("the well-spelled entry: %v", err)
	}
	for name, s := range map[string]Scenario{
		"fault":    {System: "raft", Workload: "register", Faults: []string{"parition"}, Time: time.Second},
		"workload": {System: "raft", Workload: "registr", Faults: []string{"partition"}, Time: time.Second},
		"system":   {System: "rafft", Workload: "register", Faults: []string{"partition"}, Time: time.Second},
	} {
		if err := s.Resolve(); err == nil {
			t.Errorf("misspelled %s: %s resolves", name, s.Name())
		}
	}
	if err := (Bug{Name: "stale-local-read", Seeds: 1, Scenario: good}).Resolve(); err != nil {
		t.Fatalf("the well-spelled bug: %v", err)
	}
	err := (Bug{Name: "stale-local-reads", Seeds: 1, Scenario: good}).Resolve()
	if err == nil || !strings.Contains(err.Error(), "stale-local-reads") {
		t.Errorf("misspelled bug: err = %v", err)
	}
}

// make test and make ci-gate run one quick bug spec per system: each
// system with named bugs has a short entry of one seed.
func TestEverySystemHasAQuickBugSpec(t *testing.T) {
	reg := registry.Default()
	for _, name := range reg.Names() {
		sys, _ := reg.Get(name)
		if len(sys.Bugs()) == 0 {
			continue
		}
		quick := 0
		for _, b := range Bugs {
			if b.System == name && b.Length == Short {
				quick++
				if b.Seeds != 1 || b.Unreliable != "" || b.Time > 10*time.Second {
					t.Errorf("%s quick bug %s: %d seeds, %s, unreliable %q; want 1 reliable seed of at most 10 s",
						name, b.Name, b.Seeds, b.Time, b.Unreliable)
				}
			}
		}
		if quick != 1 {
			t.Errorf("system %s has %d quick (short) bug entries, want 1", name, quick)
		}
	}
}

// Ginkgo rejects labels with these characters.
func TestLabels(t *testing.T) {
	for _, s := range Scenarios {
		for _, l := range s.Labels() {
			if l == "" || strings.ContainsAny(l, "&|!,()/") {
				t.Errorf("%s: bad label %q", s.Name(), l)
			}
		}
	}
}

// A registered bug missing from Bugs still gets an entry, pending.
func TestAllBugsCoversRegistry(t *testing.T) {
	reg := registry.Default()
	all := AllBugs()
	for _, name := range reg.Names() {
		sys, _ := reg.Get(name)
		for _, b := range sys.Bugs() {
			found := false
			for _, e := range all {
				found = found || e.System == name && e.Name == b.Name
			}
			if !found {
				t.Errorf("%s bug %s has no entry", name, b.Name)
			}
		}
	}
	for _, e := range all {
		if e.Scenario.System == "raft" && e.Name == "stale-local-read" && e.Unreliable != "" {
			t.Errorf("stale-local-read is catalogued and reliable, got %q", e.Unreliable)
		}
	}
}
