package mesh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
	zlog "github.com/rs/zerolog/log"
)

// Some Toxiproxy toxics (bandwidth) log every interrupted write at trace
// level through zerolog's global logger, whatever logger the server was
// given, and that logger writes to stderr: a bandwidth fault would flood
// the CLI's terminal. The global is the only handle there is.
func init() { zlog.Logger = zerolog.Nop() }

// New starts a proxy for every ordered pair of distinct nodes in upstreams,
// which maps a node ID to the address of its peer listener. Toxiproxy runs
// embedded in this process; each proxy listens on 127.0.0.1 on a port the
// kernel chooses.
func New(ctx context.Context, logger *slog.Logger, upstreams map[int]string) (*Mesh, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Toxiproxy logs through zerolog; we report what matters through slog.
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	b := &embedded{proxies: make(map[pair]*toxiproxy.Proxy), gates: make(map[streamID]*gate)}
	ids := sortedIDs(upstreams)
	addrs := make(map[pair]string)
	for _, p := range pairs(ids) {
		if err := ctxErr(ctx); err != nil {
			b.close()
			return nil, err
		}
		proxy := toxiproxy.NewProxy(server, p.proxyName(), "127.0.0.1:0", upstreams[p.to])
		// Gates go in before the proxy accepts anything, so they come
		// first in every link's chain, before any link toxic.
		for _, stream := range []string{upstream, downstream} {
			g, err := addGate(proxy, partitionName(stream), stream)
			if err != nil {
				b.close()
				return nil, fmt.Errorf("mesh: proxy %s: %w", p.proxyName(), err)
			}
			b.gates[streamID{p, stream}] = g
		}
		if err := proxy.Start(); err != nil {
			b.close()
			return nil, fmt.Errorf("mesh: start proxy %s to %s: %w", p.proxyName(), upstreams[p.to], err)
		}
		b.proxies[p] = proxy
		// Start has replaced ":0" with the address actually bound.
		addrs[p] = proxy.Listen
	}
	logger.Debug("mesh started", "nodes", len(ids), "proxies", len(b.proxies))
	return newMesh(logger, ids, addrs, b), nil
}

// embedded runs the proxies in this process and flips gates directly.
type embedded struct {
	proxies map[pair]*toxiproxy.Proxy
	gates   map[streamID]*gate
}

func (b *embedded) setGates(closed map[streamID]bool) error {
	for id, g := range b.gates {
		g.set(closed[id])
	}
	return nil
}

func (b *embedded) closedGates() ([]streamID, error) {
	var out []streamID
	for id, g := range b.gates {
		if closed, _ := g.state(); closed {
			out = append(out, id)
		}
	}
	return out, nil
}

func (b *embedded) addToxic(h streamID, name, typ string, toxicity float32, attrs map[string]any) error {
	body, err := json.Marshal(map[string]any{
		"name":       name,
		"type":       typ,
		"stream":     h.stream,
		"toxicity":   toxicity,
		"attributes": attrs,
	})
	if err != nil {
		return fmt.Errorf("encode toxic %s: %w", name, err)
	}
	if _, err := b.proxies[h.proxy].Toxics.AddToxicJson(bytes.NewReader(body)); err != nil {
		return fmt.Errorf("add %s toxic %s: %w", typ, name, err)
	}
	return nil
}

func (b *embedded) removeToxic(h streamID, name string) error {
	err := b.proxies[h.proxy].Toxics.RemoveToxic(context.Background(), name)
	if err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
		return err
	}
	return nil
}

func (b *embedded) close() error {
	for _, p := range b.proxies {
		p.Stop()
	}
	return nil
}
