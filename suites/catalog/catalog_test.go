package catalog

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/internal/runner"
	"github.com/faultline/faultline/systems/registry"
)

// Every available entry builds a test the harness accepts; every
// unavailable one says why.
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
		if err := s.Available(); err != nil {
			t.Logf("%s: %v", s.Name(), err)
			continue
		}
		if _, err := runner.Resolve(s.Test(1, nil)); err != nil {
			t.Errorf("%s: %v", s.Name(), err)
		}
	}
	for _, b := range AllBugs() {
		if b.Seeds < 1 {
			t.Errorf("bug %s: %d seeds", b.Name, b.Seeds)
		}
		if err := b.Available(); err != nil {
			t.Logf("bug %s: %v", b.Name, err)
			continue
		}
		if _, err := runner.Resolve(b.Test(1, []string{b.Name})); err != nil {
			t.Errorf("bug %s: %v", b.Name, err)
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
