package mesh

import (
	"context"

	"github.com/faultline/faultline/cluster"
)

// Links is the link half of a cluster.Cluster (partitions, link toxics,
// heal) over a Mesh, for runtimes to embed: every runtime drives its mesh
// the same way, whichever backend it has.
type Links struct{ Mesh *Mesh }

// Partition replaces the current partition (see Mesh.Partition).
func (l Links) Partition(_ context.Context, g cluster.Grudge) error { return l.Mesh.Partition(g) }

// Heal removes every partition and link toxic.
func (l Links) Heal(context.Context) error { return l.Mesh.Heal() }

// SetLinkToxic puts t on the bytes from -> to (see Mesh.SetLinkToxic).
func (l Links) SetLinkToxic(_ context.Context, from, to int, t cluster.Toxic) error {
	return l.Mesh.SetLinkToxic(from, to, Toxic(t))
}

// RemoveLinkToxic removes the named toxic from the link from -> to.
func (l Links) RemoveLinkToxic(_ context.Context, from, to int, name string) error {
	return l.Mesh.RemoveLinkToxic(from, to, name)
}

// LinkFaults lists what still disturbs the mesh (see Mesh.Faults).
func (l Links) LinkFaults(context.Context) ([]string, error) { return l.Mesh.Faults() }
