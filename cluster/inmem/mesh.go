package inmem

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"

	"github.com/faultline/faultline/cluster"
)

// Mesh is an in-memory cluster.Mesh: it keeps the grudge and the link
// toxics it was given and reports them as the Toxiproxy mesh does, and
// Hears tells nodes whether a message would get through.
type Mesh struct {
	n int

	mu     sync.Mutex
	grudge map[link]bool                     // (from, to): to does not hear from
	toxics map[link]map[string]cluster.Toxic // by link and name
	closed bool
}

// link is a direction: bytes from -> to.
type link struct{ from, to int }

var _ cluster.Mesh = (*Mesh)(nil)

// NewMesh returns the mesh of an n-node cluster, healed.
func NewMesh(n int) *Mesh {
	return &Mesh{n: n, grudge: map[link]bool{}, toxics: map[link]map[string]cluster.Toxic{}}
}

// PeersOf names each link from node from ("n1->n2").
func (m *Mesh) PeersOf(from int) map[int]string {
	peers := map[int]string{}
	for to := 1; to <= m.n; to++ {
		if to != from {
			peers[to] = fmt.Sprintf("n%d->n%d", from, to)
		}
	}
	return peers
}

// check says what is wrong with the link from -> to, if anything.
func (m *Mesh) check(from, to int) error {
	if from == to || from < 1 || to < 1 || from > m.n || to > m.n {
		return fmt.Errorf("inmem mesh: no link n%d->n%d (nodes 1..%d)", from, to, m.n)
	}
	if m.closed {
		return errors.New("inmem mesh: closed")
	}
	return nil
}

// Partition replaces the grudge.
func (m *Mesh) Partition(g cluster.Grudge) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := map[link]bool{}
	for to, froms := range g {
		for _, from := range froms {
			if err := m.check(from, to); err != nil {
				return err
			}
			next[link{from, to}] = true
		}
	}
	m.grudge = next
	return nil
}

// SetLinkToxic records t on from -> to.
func (m *Mesh) SetLinkToxic(from, to int, t cluster.Toxic) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(from, to); err != nil {
		return err
	}
	if t.Name == "" || t.Name == "partition" {
		return fmt.Errorf("inmem mesh: bad toxic name %q", t.Name)
	}
	l := link{from, to}
	if m.toxics[l] == nil {
		m.toxics[l] = map[string]cluster.Toxic{}
	}
	m.toxics[l][t.Name] = t
	return nil
}

// RemoveLinkToxic removes the named toxic from from -> to.
func (m *Mesh) RemoveLinkToxic(from, to int, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(from, to); err != nil {
		return err
	}
	delete(m.toxics[link{from, to}], name)
	return nil
}

// Heal drops the grudge and every toxic.
func (m *Mesh) Heal() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("inmem mesh: closed")
	}
	m.grudge, m.toxics = map[link]bool{}, map[link]map[string]cluster.Toxic{}
	return nil
}

// Faults lists "partition n1->n2" per silenced direction and "toxic NAME
// n1->n2" per toxic, sorted.
func (m *Mesh) Faults() ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("inmem mesh: closed")
	}
	var out []string
	for l := range m.grudge {
		out = append(out, fmt.Sprintf("partition n%d->n%d", l.from, l.to))
	}
	for l, ts := range m.toxics {
		for name := range ts {
			out = append(out, fmt.Sprintf("toxic %s n%d->n%d", name, l.from, l.to))
		}
	}
	sort.Strings(out)
	return out, nil
}

// Hears reports whether node to hears node from now.
func (m *Mesh) Hears(to, from int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.grudge[link{from, to}]
}

// Toxics lists the names of the toxics on from -> to, sorted.
func (m *Mesh) Toxics(from, to int) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.toxics[link{from, to}]))
}

// Close closes the mesh; later calls do nothing.
func (m *Mesh) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
