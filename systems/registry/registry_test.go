package registry_test

import (
	"strings"
	"testing"

	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/raft"
	"github.com/faultline/faultline/systems/registry"
)

// named is a system value that is only a name, enough for the registry.
type named struct {
	systems.System
	name string
}

func (n named) Name() string { return n.name }

func TestRegistryHoldsSystemsByValue(t *testing.T) {
	if got := strings.Join(registry.Default().Names(), ","); got != "gossip,quorum,raft" {
		t.Errorf("built-ins %s", got)
	}
	r, err := registry.Default().With(named{name: "etcd"})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := r.Get("etcd"); err != nil || s.Name() != "etcd" {
		t.Errorf("Get(etcd) = %v, %v", s, err)
	}
	if _, err := r.Get("zab"); err == nil || !strings.Contains(err.Error(), "valid: etcd, gossip, quorum, raft") {
		t.Errorf("Get(zab) error %v, want the valid names", err)
	}
	if len(registry.Default().Names()) != 3 {
		t.Errorf("With changed the default registry")
	}
}

func TestRegistryRefusesTwoSystemsOfOneName(t *testing.T) {
	for _, c := range []struct {
		sys  []systems.System
		want string
	}{
		{[]systems.System{raft.New(), named{name: "raft"}}, `two systems are named "raft"`},
		{[]systems.System{named{name: ""}}, "empty name"},
		{[]systems.System{nil}, "system 1 is nil"},
	} {
		if _, err := registry.New(c.sys...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%v) error %v, want %q", c.sys, err, c.want)
		}
	}
}

// The built-ins run in-process and offer every optional part of the
// contract: probes and clocks through the admin endpoint, lazy storage.
func TestBuiltinsOfferTheWholeContract(t *testing.T) {
	for _, s := range registry.Builtins() {
		_, inproc := s.(systems.InProcess)
		_, probe := s.(systems.Prober)
		_, clock := s.(systems.ClockSetter)
		lazy, _ := s.(systems.LazyStorage)
		if !inproc || !probe || !clock || lazy == nil || !lazy.LazyStorage() {
			t.Errorf("%s: in-process %v, prober %v, clock setter %v, lazy storage %v", s.Name(), inproc, probe, clock, lazy != nil)
		}
		if systems.AddressingOf(s) != systems.PerLink {
			t.Errorf("%s: addressing %s", s.Name(), systems.AddressingOf(s))
		}
	}
}
