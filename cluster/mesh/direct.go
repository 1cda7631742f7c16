package mesh

import (
	"errors"
	"maps"

	"github.com/faultline/faultline/cluster"
)

// ErrNoLinkFaults is wrapped by the errors of a Direct mesh's link faults.
var ErrNoLinkFaults = errors.New("no proxy stands on single links of this cluster")

// Direct is the mesh of a system whose peers dial one advertised address
// per node (systems.Advertised), on a runtime that puts nothing between
// them: PeersOf hands out the advertised addresses, and partitions and
// link toxics are refused (the runner skips those faults beforehand, with
// the reason, so a refusal here is a bug). It is safe for concurrent use:
// it never changes.
type Direct struct{ advertised map[int]string }

var _ cluster.Mesh = (*Direct)(nil)

// NewDirect returns the mesh of nodes reached at advertised (id -> address).
func NewDirect(advertised map[int]string) *Direct {
	return &Direct{advertised: maps.Clone(advertised)}
}

// PeersOf maps every node but from to its advertised address.
func (d *Direct) PeersOf(from int) map[int]string {
	out := make(map[int]string, len(d.advertised))
	for id, a := range d.advertised {
		if id != from {
			out[id] = a
		}
	}
	return out
}

// Partition lifts nothing and refuses every grudge that cuts something.
func (d *Direct) Partition(g cluster.Grudge) error {
	for _, from := range g {
		if len(from) > 0 {
			return ErrNoLinkFaults
		}
	}
	return nil
}

// SetLinkToxic is refused.
func (d *Direct) SetLinkToxic(int, int, cluster.Toxic) error { return ErrNoLinkFaults }

// RemoveLinkToxic has nothing to remove.
func (d *Direct) RemoveLinkToxic(int, int, string) error { return nil }

// Heal has nothing to heal.
func (d *Direct) Heal() error { return nil }

// Faults is empty: nothing can disturb a link.
func (d *Direct) Faults() ([]string, error) { return nil, nil }

// Close has nothing to stop.
func (d *Direct) Close() error { return nil }
