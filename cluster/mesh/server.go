package mesh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// gatesPath is the endpoint Serve adds to Toxiproxy's API: GET lists the
// closed gates, PUT closes exactly the gates it names and opens every other
// one (a gatesDoc either way).
const gatesPath = "/faultline/gates"

// gateRef names one stream's gate on the wire.
type gateRef struct {
	Proxy  string `json:"proxy"`
	Stream string `json:"stream"`
}

type gatesDoc struct {
	Closed []gateRef `json:"closed"`
}

// Serve runs a Toxiproxy server on ln until ctx ends: Toxiproxy's own HTTP
// API, with the partition gate toxic type (faultline_gate) known, plus the
// gates endpoint a remote mesh (Connect) flips gates through. Toxiproxy's
// errors and each gate change are logged to logw.
func Serve(ctx context.Context, ln net.Listener, logw io.Writer) error {
	if logw == nil {
		logw = io.Discard
	}
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.New(logw).Level(zerolog.ErrorLevel).With().Timestamp().Logger())
	gs := &gateServer{
		collection: api.Collection,
		logger:     slog.New(slog.NewTextHandler(logw, nil)),
		gates:      make(map[*toxiproxy.Proxy]map[string]*gate),
	}
	r := api.Routes()
	r.HandleFunc(gatesPath, gs.serveGet).Methods(http.MethodGet)
	r.HandleFunc(gatesPath, gs.servePut).Methods(http.MethodPut)
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		srv.Close()
		if err := api.Collection.Clear(); err != nil {
			gs.logger.Warn("stopping proxies", "err", err)
		}
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-stopped
		return nil
	}
	return fmt.Errorf("toxiproxy server: %w", err)
}

// ListenAndServe listens on addr and runs Serve there: what
// `faultline toxiproxy` and `faultline-node toxiproxy` (the docker
// runtime's proxy container) run.
func ListenAndServe(ctx context.Context, addr string, logw io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("toxiproxy server: %w", err)
	}
	return Serve(ctx, ln, logw)
}

// gateServer flips the gates of a Toxiproxy server's proxies.
type gateServer struct {
	collection *toxiproxy.ProxyCollection
	logger     *slog.Logger

	mu sync.Mutex
	// gates caches each proxy's gates by stream. Looking one up takes the
	// proxy's toxic lock, which a toxic being added holds while it waits
	// on a stuck receiver; a cached gate is flipped without that lock.
	gates map[*toxiproxy.Proxy]map[string]*gate
}

// all returns the gates of every proxy, by proxy name and stream; gs.mu is
// held. A proxy without gates is an error: it could not be partitioned.
func (gs *gateServer) all() (map[gateRef]*gate, error) {
	out := make(map[gateRef]*gate)
	for name, p := range gs.collection.Proxies() {
		byStream := gs.gates[p]
		if byStream == nil {
			byStream = make(map[string]*gate)
			for _, stream := range []string{upstream, downstream} {
				g := gateOf(p, stream)
				if g == nil {
					return nil, fmt.Errorf("proxy %s has no %s gate (toxic %s of type %s)", name, stream, partitionName(stream), gateType)
				}
				byStream[stream] = g
			}
			gs.gates[p] = byStream
		}
		for stream, g := range byStream {
			out[gateRef{name, stream}] = g
		}
	}
	return out, nil
}

func closedOf(gates map[gateRef]*gate) gatesDoc {
	doc := gatesDoc{Closed: []gateRef{}}
	for ref, g := range gates {
		if closed, _ := g.state(); closed {
			doc.Closed = append(doc.Closed, ref)
		}
	}
	sort.Slice(doc.Closed, func(i, j int) bool {
		a, b := doc.Closed[i], doc.Closed[j]
		return a.Proxy < b.Proxy || a.Proxy == b.Proxy && a.Stream < b.Stream
	})
	return doc
}

func (gs *gateServer) serveGet(w http.ResponseWriter, _ *http.Request) {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	gates, err := gs.all()
	if err != nil {
		httpError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, closedOf(gates))
}

func (gs *gateServer) servePut(w http.ResponseWriter, r *http.Request) {
	var doc gatesDoc
	if err := json.NewDecoder(r.Body).Decode(&doc); err != nil {
		httpError(w, http.StatusBadRequest, fmt.Errorf("bad gates document: %w", err))
		return
	}
	gs.mu.Lock()
	defer gs.mu.Unlock()
	gates, err := gs.all()
	if err != nil {
		httpError(w, http.StatusInternalServerError, err)
		return
	}
	want := make(map[gateRef]bool, len(doc.Closed))
	for _, ref := range doc.Closed {
		if gates[ref] == nil {
			httpError(w, http.StatusNotFound, fmt.Errorf("no gate on stream %q of proxy %q", ref.Stream, ref.Proxy))
			return
		}
		want[ref] = true
	}
	for ref, g := range gates {
		g.set(want[ref])
	}
	gs.logger.Info("gates set", "closed", len(want))
	writeJSON(w, closedOf(gates))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// httpError answers in Toxiproxy's error format.
func httpError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": err.Error(), "status": status})
}
