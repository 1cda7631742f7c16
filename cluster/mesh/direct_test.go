package mesh

import (
	"errors"
	"testing"

	"github.com/faultline/faultline/cluster"
)

// A direct mesh hands every node its peers' advertised addresses and
// refuses, rather than pretends, any fault on a single link.
func TestDirectMeshHandsOutAdvertisedAddressesAndRefusesLinkFaults(t *testing.T) {
	d := NewDirect(map[int]string{1: "a:1", 2: "b:2", 3: "c:3"})
	if p := d.PeersOf(2); len(p) != 2 || p[1] != "a:1" || p[3] != "c:3" {
		t.Errorf("PeersOf(2) = %v", p)
	}
	if err := d.Partition(cluster.Grudge{1: {2}}); !errors.Is(err, ErrNoLinkFaults) {
		t.Errorf("Partition: %v, want ErrNoLinkFaults", err)
	}
	if err := d.SetLinkToxic(1, 2, cluster.Toxic{Name: "x", Type: "latency"}); !errors.Is(err, ErrNoLinkFaults) {
		t.Errorf("SetLinkToxic: %v, want ErrNoLinkFaults", err)
	}
	if err := d.Partition(cluster.Grudge{}); err != nil {
		t.Errorf("lifting no partition: %v", err)
	}
	if f, err := d.Faults(); len(f) != 0 || err != nil || d.Heal() != nil || d.Close() != nil {
		t.Errorf("Faults %v %v", f, err)
	}
}
