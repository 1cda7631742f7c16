package mesh

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"
)

// RemoteConfig says where a Toxiproxy server started by Serve runs and how
// the nodes and the server reach each other.
type RemoteConfig struct {
	// API is the server's HTTP API as this process reaches it
	// ("127.0.0.1:32768").
	API string
	// Upstreams maps a node ID to its peer listener as the server dials
	// it ("n2:7000").
	Upstreams map[int]string
	// ListenHost is the host the proxies listen on inside the server
	// ("0.0.0.0"); DialHost is the host nodes dial to reach the server
	// ("toxiproxy").
	ListenHost, DialHost string
	// Ports are the ports the proxies listen on, ProxyCount(nodes) of them.
	Ports []int
}

// ProxyCount is how many proxies (and ports) a mesh of n nodes has.
func ProxyCount(n int) int { return n * (n - 1) }

// apiTimeout bounds one request to a remote server's gates endpoint;
// Toxiproxy's client has its own 30 s.
const apiTimeout = 30 * time.Second

// Connect builds the mesh on a running Toxiproxy server started by Serve,
// through Toxiproxy's HTTP API client: one proxy per ordered pair of nodes,
// each created disabled, given its two gates and only then enabled, so the
// gates come first in every link's chain as in an embedded mesh.
func Connect(ctx context.Context, logger *slog.Logger, cfg RemoteConfig) (*Mesh, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	b := newRemote(cfg.API)
	ids := sortedIDs(cfg.Upstreams)
	if len(cfg.Ports) != ProxyCount(len(ids)) {
		return nil, fmt.Errorf("mesh: %d nodes need %d proxy ports, got %d", len(ids), ProxyCount(len(ids)), len(cfg.Ports))
	}
	addrs := make(map[pair]string)
	ps := pairs(ids)
	port := func(p pair) string { return strconv.Itoa(cfg.Ports[slices.Index(ps, p)]) }
	err := b.createProxies(ctx, ps,
		func(p pair) string { return net.JoinHostPort(cfg.ListenHost, port(p)) },
		func(p pair) string { return cfg.Upstreams[p.to] })
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		addrs[p] = net.JoinHostPort(cfg.DialHost, port(p))
	}
	// The first gates call makes the server find (and cache) every gate, and
	// proves each proxy has them.
	if _, err := b.closedGates(); err != nil {
		return nil, errors.Join(fmt.Errorf("mesh: %w", err), b.close())
	}
	logger.Debug("mesh connected", "api", cfg.API, "nodes", len(ids), "proxies", len(addrs))
	return newMesh(logger, ids, addrs, b), nil
}

// newRemote returns a backend driving the server whose API is at api.
func newRemote(api string) *remote {
	return &remote{
		client: toxiclient.NewClient(api),
		api:    "http://" + strings.TrimPrefix(api, "http://"),
		http:   &http.Client{Timeout: apiTimeout},
	}
}

// createProxies creates the proxy of each pair in ps, listening at
// listen(p) and dialling dial(p): created disabled, given its two
// gates, then enabled. On error it deletes what it created.
func (b *remote) createProxies(ctx context.Context, ps []pair, listen, dial func(pair) string) error {
	for _, p := range ps {
		if err := ctxErr(ctx); err != nil {
			return errors.Join(err, b.close())
		}
		proxy := b.client.NewProxy()
		proxy.Name = p.proxyName()
		proxy.Listen = listen(p)
		proxy.Upstream = dial(p)
		if err := proxy.Save(); err != nil {
			return errors.Join(fmt.Errorf("mesh: create proxy %s: %w", proxy.Name, err), b.close())
		}
		b.created = append(b.created, proxy)
		for _, stream := range []string{upstream, downstream} {
			if _, err := proxy.AddToxic(partitionName(stream), gateType, stream, 1, toxiclient.Attributes{}); err != nil {
				return errors.Join(fmt.Errorf("mesh: proxy %s: add gate on %s: %w", proxy.Name, stream, err), b.close())
			}
		}
		if err := proxy.Enable(); err != nil {
			return errors.Join(fmt.Errorf("mesh: enable proxy %s on %s: %w", proxy.Name, proxy.Listen, err), b.close())
		}
	}
	return nil
}

// remote drives a Toxiproxy server started by Serve over HTTP.
type remote struct {
	client  *toxiclient.Client
	api     string // base URL
	http    *http.Client
	created []*toxiclient.Proxy
}

func (b *remote) proxy(p pair) *toxiclient.Proxy {
	proxy := b.client.NewProxy()
	proxy.Name = p.proxyName()
	return proxy
}

func (b *remote) setGates(closed map[streamID]bool) error {
	doc := gatesDoc{Closed: []gateRef{}}
	for id, c := range closed {
		if c {
			doc.Closed = append(doc.Closed, gateRef{Proxy: id.proxy.proxyName(), Stream: id.stream})
		}
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode gates: %w", err)
	}
	_, err = b.gates(http.MethodPut, body)
	return err
}

func (b *remote) closedGates() ([]streamID, error) {
	doc, err := b.gates(http.MethodGet, nil)
	if err != nil {
		return nil, err
	}
	out := make([]streamID, 0, len(doc.Closed))
	for _, ref := range doc.Closed {
		var p pair
		if _, err := fmt.Sscanf(ref.Proxy, "n%d-n%d", &p.from, &p.to); err != nil {
			return nil, fmt.Errorf("gates: odd proxy name %q", ref.Proxy)
		}
		out = append(out, streamID{proxy: p, stream: ref.Stream})
	}
	return out, nil
}

// gates calls the gates endpoint.
func (b *remote) gates(method string, body []byte) (gatesDoc, error) {
	var doc gatesDoc
	req, err := http.NewRequest(method, b.api+gatesPath, bytes.NewReader(body))
	if err != nil {
		return doc, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.http.Do(req)
	if err != nil {
		return doc, fmt.Errorf("gates: %w", err)
	}
	defer resp.Body.Close()
	b2, err := io.ReadAll(resp.Body)
	if err != nil {
		return doc, fmt.Errorf("gates: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return doc, fmt.Errorf("gates: %s %s: %s: %s", method, gatesPath, resp.Status, bytes.TrimSpace(b2))
	}
	if err := json.Unmarshal(b2, &doc); err != nil {
		return doc, fmt.Errorf("gates: bad answer %q: %w", b2, err)
	}
	return doc, nil
}

func (b *remote) addToxic(h streamID, name, typ string, toxicity float32, attrs map[string]any) error {
	if _, err := b.proxy(h.proxy).AddToxic(name, typ, h.stream, toxicity, attrs); err != nil {
		return fmt.Errorf("add %s toxic %s: %w", typ, name, err)
	}
	return nil
}

func (b *remote) removeToxic(h streamID, name string) error {
	err := b.proxy(h.proxy).RemoveToxic(name)
	var apiErr *toxiclient.ApiError
	if err != nil && !(errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound) {
		return err
	}
	return nil
}

// close deletes every proxy it created, which closes their connections. A
// server that is gone already has nothing left to delete.
func (b *remote) close() error {
	var errs []error
	for _, p := range b.created {
		err := p.Delete()
		var apiErr *toxiclient.ApiError
		var netErr net.Error
		switch {
		case err == nil, errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound:
		case errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			return nil // the server is gone, and its proxies with it
		default:
			errs = append(errs, fmt.Errorf("delete proxy %s: %w", p.Name, err))
		}
	}
	b.created = nil
	return errors.Join(errs...)
}
