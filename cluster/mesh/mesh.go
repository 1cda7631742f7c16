// Package mesh puts one Toxiproxy proxy on every ordered pair of nodes, so
// that a one-way partition or a slow link is one call.
//
// Toxiproxy runs either embedded in the harness process (New: no HTTP API,
// no extra process) or as a server elsewhere, e.g. in a container (Serve
// runs one; Connect drives it through Toxiproxy's HTTP API client). Both
// behave the same, as described here; the tests run against both. Node i
// reaches node j only by dialling Addr(i, j), the proxy for
// the ordered pair (i -> j), which forwards to j's peer listener. A TCP
// connection carries bytes both ways, so bytes travelling from j to i flow
// through two proxies: the upstream stream of proxy (j -> i), on connections
// j opened, and the downstream stream of proxy (i -> j), the responses on
// connections i opened. Partition and SetLinkToxic act on both, so a fault on
// "j -> i" holds on every connection between the two nodes.
//
// How partitions behave (the tests pin each point):
//   - They act on live connections as well as new ones, and new connections
//     are still accepted (the proxy accepts and dials the upstream); they
//     just carry nothing across the partition.
//   - A partitioned stream drops bytes but keeps its connections open.
//   - When a stream heals, every connection that lost bytes to the partition
//     is closed; the others carry on. A receiver thus only ever sees a prefix
//     of what was sent, never a stream with a gap in it, and nodes reconnect
//     as after a real outage.
//   - A connection close (FIN) still crosses a partition: if j dies or closes
//     a connection, i sees it end.
//
// Why not Toxiproxy's own `timeout` toxic for partitions: adding any toxic
// interrupts each live link on its stream, and a link blocked writing to a
// receiver that does not read (a paused node whose socket buffers filled)
// cannot be interrupted, so the call hangs until the node reads again
// (tested: ~7 MB in flight was enough). Removing a `timeout` toxic also
// closes every connection on the stream, gap or not. So each stream gets a
// "gate" toxic when the mesh starts, and Partition only flips gates: it
// never waits on a link. Updating a toxic's attributes through Toxiproxy's
// API interrupts links just as adding one does, so a remote mesh flips its
// gates through one extra endpoint that Serve adds to the API
// (PUT /faultline/gates), not through toxic attributes. Link toxics
// (SetLinkToxic) are ordinary Toxiproxy toxics and do have that wait when a
// receiver is stuck.
package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"

	"github.com/faultline/faultline/cluster"
)

var _ cluster.Mesh = (*Mesh)(nil)

// Stream names a direction of a Toxiproxy proxy: upstream carries bytes from
// the dialling node to the listening one, downstream carries the replies.
const (
	upstream   = "upstream"
	downstream = "downstream"
)

// partitionToxic names the gate toxic on each stream. Link toxics may not
// use it.
const partitionToxic = "partition"

// partitionName is the gate toxic's name on one stream: Toxiproxy wants
// names unique across both streams of a proxy.
func partitionName(stream string) string { return partitionToxic + "-" + stream }

// Mesh is the set of proxies between the nodes of one cluster. Methods are
// safe for concurrent use.
//
// It is the cluster.Mesh both runtimes use, with different backends.
type Mesh struct {
	logger *slog.Logger
	ids    []int           // sorted node IDs
	addrs  map[pair]string // address nodes dial for each proxy, fixed at start
	b      backend

	mu sync.Mutex
	// linkToxics are the toxics SetLinkToxic has put on, by link and name.
	linkToxics map[linkToxic]bool
	closed     bool
}

// backend is where the proxies run: embedded in this process or behind a
// Toxiproxy server's HTTP API. Mesh holds its lock around every call.
type backend interface {
	// setGates closes the gate of every stream in closed and opens every
	// other one, without waiting on any link.
	setGates(closed map[streamID]bool) error
	// closedGates lists the streams whose gate is closed.
	closedGates() ([]streamID, error)
	// addToxic puts a Toxiproxy toxic on one stream, after the gate.
	addToxic(h streamID, name, typ string, toxicity float32, attrs map[string]any) error
	// removeToxic removes a toxic from one stream; an absent one is no error.
	removeToxic(h streamID, name string) error
	// close stops every proxy and closes every connection through them.
	close() error
}

// pair is an ordered pair of nodes: the proxy node from dials to reach to.
type pair struct{ from, to int }

// proxyName is the Toxiproxy name of p's proxy; it needs no escaping in a
// URL path.
func (p pair) proxyName() string { return fmt.Sprintf("n%d-n%d", p.from, p.to) }

// streamID names one stream of one proxy.
type streamID struct {
	proxy  pair
	stream string
}

type linkToxic struct {
	link pair // bytes travelling link.from -> link.to
	name string
}

// pairs lists every ordered pair of distinct nodes in ids.
func pairs(ids []int) []pair {
	var ps []pair
	for _, from := range ids {
		for _, to := range ids {
			if from != to {
				ps = append(ps, pair{from, to})
			}
		}
	}
	return ps
}

func sortedIDs(upstreams map[int]string) []int {
	ids := make([]int, 0, len(upstreams))
	for id := range upstreams {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

func newMesh(logger *slog.Logger, ids []int, addrs map[pair]string, b backend) *Mesh {
	return &Mesh{logger: logger, ids: ids, addrs: addrs, b: b, linkToxics: make(map[linkToxic]bool)}
}

// Addr is the address node from dials to reach node to, or "" when there is
// no such proxy.
func (m *Mesh) Addr(from, to int) string { return m.addrs[pair{from, to}] }

// PeersOf maps every other node to the address node from dials to reach it:
// what goes into that node's NodeConfig.Peers.
func (m *Mesh) PeersOf(from int) map[int]string {
	peers := make(map[int]string, len(m.ids))
	for _, to := range m.ids {
		if to != from {
			peers[to] = m.addrs[pair{from, to}]
		}
	}
	return peers
}

// Partition replaces the current partition with g: afterwards node i hears
// nothing from any node in g[i], on any connection, while every stream g
// does not name flows. A grudge is one-way: g = {2: [1]} silences 1 -> 2
// only. Streams that heal close the connections that lost bytes (see the
// package comment). Partition never waits for the nodes.
func (m *Mesh) Partition(g cluster.Grudge) error {
	want := make(map[streamID]bool)
	for i, from := range g {
		for _, j := range from {
			if i == j {
				return fmt.Errorf("mesh: partition: node %d cannot hold a grudge against itself", i)
			}
			if _, ok := m.addrs[pair{i, j}]; !ok {
				return fmt.Errorf("mesh: partition: no link between nodes %d and %d (nodes: %v)", i, j, m.ids)
			}
			for _, id := range streamsCarrying(j, i) {
				want[id] = true
			}
		}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("mesh: partition: mesh is closed")
	}
	if err := m.b.setGates(want); err != nil {
		return fmt.Errorf("mesh: partition: %w", err)
	}
	m.logger.Info("mesh partitioned", "grudge", g, "streams", len(want))
	return nil
}

// Heal removes every partition and every link toxic.
func (m *Mesh) Heal() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("mesh: heal: mesh is closed")
	}
	var errs []error
	if err := m.b.setGates(nil); err != nil {
		errs = append(errs, fmt.Errorf("mesh: heal: %w", err))
	}
	for key := range m.linkToxics {
		errs = append(errs, m.removeLinkToxic(key))
	}
	m.logger.Info("mesh healed")
	return errors.Join(errs...)
}

// Faults lists what still disturbs the mesh: each partitioned stream as
// "partition n1->n2 upstream" and each link toxic as "toxic NAME n1->n2",
// sorted. Empty means every link is healed.
func (m *Mesh) Faults() ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("mesh: faults: mesh is closed")
	}
	closed, err := m.b.closedGates()
	if err != nil {
		return nil, fmt.Errorf("mesh: faults: %w", err)
	}
	var out []string
	for _, id := range closed {
		out = append(out, fmt.Sprintf("partition n%d->n%d %s", id.proxy.from, id.proxy.to, id.stream))
	}
	for key := range m.linkToxics {
		out = append(out, fmt.Sprintf("toxic %s n%d->n%d", key.name, key.link.from, key.link.to))
	}
	sort.Strings(out)
	return out, nil
}

// SetLinkToxic puts t on every byte travelling from node from to node to,
// on any connection between them (the upstream stream of proxy from -> to
// and the downstream stream of proxy to -> from). It replaces a toxic of the
// same name on that link; the name "partition" is reserved. Toxiproxy
// draws a toxic's toxicity per connection, again each time the link's
// toxics change.
func (m *Mesh) SetLinkToxic(from, to int, t cluster.Toxic) error {
	if t.Name == "" || t.Name == partitionToxic {
		return fmt.Errorf("mesh: link toxic n%d->n%d: bad name %q", from, to, t.Name)
	}
	if _, ok := m.addrs[pair{from, to}]; !ok {
		return fmt.Errorf("mesh: link toxic: no link between nodes %d and %d (nodes: %v)", from, to, m.ids)
	}
	toxicity := t.Toxicity
	if toxicity == 0 {
		toxicity = 1
	}
	attrs := t.Attributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("mesh: link toxic: mesh is closed")
	}
	key := linkToxic{pair{from, to}, t.Name}
	if m.linkToxics[key] {
		if err := m.removeLinkToxic(key); err != nil {
			return err
		}
	}
	for _, h := range streamsCarrying(from, to) {
		if err := m.b.addToxic(h, toxicName(key), t.Type, toxicity, attrs); err != nil {
			// Do not leave the link half-poisoned.
			m.linkToxics[key] = true
			return errors.Join(fmt.Errorf("mesh: link toxic %q n%d->n%d: %w", t.Name, from, to, err), m.removeLinkToxic(key))
		}
	}
	m.linkToxics[key] = true
	m.logger.Info("mesh link toxic set", "from", from, "to", to, "name", t.Name, "type", t.Type, "attributes", t.Attributes)
	return nil
}

// RemoveLinkToxic removes the named toxic from the link from -> to. Removing
// a toxic that is not there is a no-op.
func (m *Mesh) RemoveLinkToxic(from, to int, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("mesh: remove link toxic: mesh is closed")
	}
	key := linkToxic{pair{from, to}, name}
	if !m.linkToxics[key] {
		return nil
	}
	return m.removeLinkToxic(key)
}

// removeLinkToxic removes key from both streams that carry it; m.mu is held.
func (m *Mesh) removeLinkToxic(key linkToxic) error {
	var errs []error
	for _, h := range streamsCarrying(key.link.from, key.link.to) {
		if err := m.b.removeToxic(h, toxicName(key)); err != nil {
			errs = append(errs, fmt.Errorf("mesh: remove link toxic %q n%d->n%d: %w", key.name, key.link.from, key.link.to, err))
		}
	}
	delete(m.linkToxics, key)
	return errors.Join(errs...)
}

// toxicName keeps link toxics apart from the partition toxic and from each
// other: a proxy's downstream stream carries link to->from's toxics. It
// needs no escaping in a URL path.
func toxicName(key linkToxic) string {
	return fmt.Sprintf("link-n%d-n%d-%s", key.link.from, key.link.to, key.name)
}

// streamsCarrying are the two proxy streams that carry bytes from node src
// to node dst: requests on connections src opened, replies on connections
// dst opened.
func streamsCarrying(src, dst int) []streamID {
	return []streamID{
		{proxy: pair{src, dst}, stream: upstream},
		{proxy: pair{dst, src}, stream: downstream},
	}
}

// Close stops every proxy and closes every connection through them. It is
// safe to call more than once.
func (m *Mesh) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	err := m.b.close()
	m.logger.Debug("mesh closed")
	return err
}

// Nodes returns the IDs of the nodes the mesh connects, sorted.
func (m *Mesh) Nodes() []int { return slices.Clone(m.ids) }

// ctxErr wraps a cancelled start.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	return nil
}
