package mesh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// SidecarMechanism is how a sidecar mesh cuts and slows links
// (test.json's link_mechanism).
const SidecarMechanism = "toxiproxy sidecar per node, one proxy per ordered pair; " +
	"each node's name resolution sends its peers' advertised names to its own sidecar"

// SidecarConfig lays out a mesh for nodes that dial one fixed,
// advertised address per peer (etcd's and NATS's peer URLs): a Toxiproxy
// server (Serve) beside each node, holding the proxies of that node's
// outgoing links. Node i resolves every peer's advertised host name to
// its own sidecar (the runtime arranges that, e.g. with per-container
// host entries), so when node i dials node j's advertised address it
// reaches its sidecar's proxy i -> j, which dials node j itself. Each
// node's advertised port is distinct, which is how a sidecar tells its
// proxies apart.
type SidecarConfig struct {
	// APIs maps node i to the API of its sidecar, as this process reaches
	// it ("127.0.0.1:32768").
	APIs map[int]string
	// Upstreams maps node j to its peer listener as a sidecar dials it,
	// bypassing the nodes' own resolution ("n2:7102" through the
	// network's DNS).
	Upstreams map[int]string
	// Listen is where sidecar i's proxy for link i -> j listens
	// ("0.0.0.0:7102", the port of j's advertised address).
	Listen func(i, j int) string
	// Dial is the address node i dials to reach node j: j's advertised
	// address, which i's name resolution sends to its own sidecar
	// ("n2:7102"). PeersOf hands these out.
	Dial func(i, j int) string
}

// ConnectSidecars builds the mesh on running sidecar servers (one per
// node, each started by Serve) through their HTTP APIs: sidecar i gets the
// proxies i -> j for every other j, each with its gates first, as
// Connect does on one server. Partitions and link toxics then behave
// exactly as in any other mesh.
func ConnectSidecars(ctx context.Context, logger *slog.Logger, cfg SidecarConfig) (*Mesh, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ids := sortedIDs(cfg.Upstreams)
	if cfg.Listen == nil || cfg.Dial == nil {
		return nil, errors.New("mesh: sidecar layout without Listen or Dial")
	}
	for _, id := range ids {
		if cfg.APIs[id] == "" {
			return nil, fmt.Errorf("mesh: no sidecar API for node %d", id)
		}
	}
	b := &sharded{shards: map[int]*remote{}}
	addrs := make(map[pair]string)
	for _, from := range ids {
		var out []pair
		for _, p := range pairs(ids) {
			if p.from == from {
				out = append(out, p)
				addrs[p] = cfg.Dial(p.from, p.to)
			}
		}
		r := newRemote(cfg.APIs[from])
		err := r.createProxies(ctx, out,
			func(p pair) string { return cfg.Listen(p.from, p.to) },
			func(p pair) string { return cfg.Upstreams[p.to] })
		if err != nil {
			return nil, errors.Join(err, b.close())
		}
		b.shards[from] = r
	}
	if _, err := b.closedGates(); err != nil {
		return nil, errors.Join(fmt.Errorf("mesh: %w", err), b.close())
	}
	logger.Debug("sidecar mesh connected", "nodes", len(ids), "proxies", len(addrs))
	return newMesh(logger, ids, addrs, b), nil
}

// sharded is a backend spread over several servers: the proxies of the
// links out of node i live on shards[i].
type sharded struct {
	shards map[int]*remote
}

func (b *sharded) shard(p pair) (*remote, error) {
	r := b.shards[p.from]
	if r == nil {
		return nil, fmt.Errorf("no sidecar for node %d", p.from)
	}
	return r, nil
}

func (b *sharded) setGates(closed map[streamID]bool) error {
	per := make(map[int]map[streamID]bool, len(b.shards))
	for id := range b.shards {
		per[id] = map[streamID]bool{}
	}
	for h, c := range closed {
		if per[h.proxy.from] == nil {
			return fmt.Errorf("no sidecar for node %d", h.proxy.from)
		}
		per[h.proxy.from][h] = c
	}
	var errs []error
	for id, r := range b.shards {
		if err := r.setGates(per[id]); err != nil {
			errs = append(errs, fmt.Errorf("sidecar of node %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

func (b *sharded) closedGates() ([]streamID, error) {
	var all []streamID
	for id, r := range b.shards {
		got, err := r.closedGates()
		if err != nil {
			return nil, fmt.Errorf("sidecar of node %d: %w", id, err)
		}
		all = append(all, got...)
	}
	return all, nil
}

func (b *sharded) addToxic(h streamID, name, typ string, toxicity float32, attrs map[string]any) error {
	r, err := b.shard(h.proxy)
	if err != nil {
		return err
	}
	return r.addToxic(h, name, typ, toxicity, attrs)
}

func (b *sharded) removeToxic(h streamID, name string) error {
	r, err := b.shard(h.proxy)
	if err != nil {
		return err
	}
	return r.removeToxic(h, name)
}

func (b *sharded) close() error {
	var errs []error
	for _, r := range b.shards {
		errs = append(errs, r.close())
	}
	return errors.Join(errs...)
}
