package cluster

import "context"

// Partition replaces the current partition: afterwards node i hears
// nothing from any node in g[i], on any connection. An empty grudge lifts
// the partition and leaves link toxics alone; Heal removes both.
func (c *Cluster) Partition(_ context.Context, g Grudge) error { return c.mesh.Partition(g) }

// Heal removes every partition and every link toxic.
func (c *Cluster) Heal(context.Context) error { return c.mesh.Heal() }

// SetLinkToxic puts a Toxiproxy toxic on every byte sent from node from to
// node to, on any connection, replacing a toxic of the same name on that
// link.
func (c *Cluster) SetLinkToxic(_ context.Context, from, to int, t Toxic) error {
	return c.mesh.SetLinkToxic(from, to, t)
}

// RemoveLinkToxic removes the named toxic from the link from -> to; a
// no-op when it is absent.
func (c *Cluster) RemoveLinkToxic(_ context.Context, from, to int, name string) error {
	return c.mesh.RemoveLinkToxic(from, to, name)
}

// LinkFaults lists the partitions and link toxics still in place, one line
// each; empty means every link is healed.
func (c *Cluster) LinkFaults(context.Context) ([]string, error) { return c.mesh.Faults() }
