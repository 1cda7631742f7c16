// Package admin serves the small admin API every included node has on its
// own port (never through the mesh): GET /status for readiness and role,
// POST /clock to set the node's clock offset. Client helpers for the
// harness side live here too, so every runtime speaks it the same way.
package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/clock"
)

// ClockRequest is the body of POST /clock.
type ClockRequest struct {
	OffsetNS int64 `json:"offset_ns"`
}

// Handler serves GET /status with whatever status reports at the moment
// (its ClockOffsetNS filled from clk), and POST /clock, which sets clk's
// offset.
func Handler(status func() systems.Status, clk *clock.Clock) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		st := status()
		st.ClockOffsetNS = int64(clk.Offset())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	mux.HandleFunc("POST /clock", func(w http.ResponseWriter, r *http.Request) {
		// JSON only: a web page can POST text/plain or a form cross-site
		// without a preflight, never application/json.
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			http.Error(w, "clock request: Content-Type must be application/json", http.StatusUnsupportedMediaType)
			return
		}
		offset, err := decodeClock(io.LimitReader(r.Body, 4096))
		if err != nil {
			http.Error(w, "bad clock request: want {\"offset_ns\": N}: "+err.Error(), http.StatusBadRequest)
			return
		}
		clk.SetOffset(offset)
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// decodeClock reads a clock request: one object whose offset_ns is given
// (an empty {} must not silently reset the clock) and nothing else.
func decodeClock(r io.Reader) (time.Duration, error) {
	var req struct {
		OffsetNS *int64 `json:"offset_ns"`
	}
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return 0, err
	}
	if dec.More() {
		return 0, fmt.Errorf("more than one JSON value")
	}
	if req.OffsetNS == nil {
		return 0, fmt.Errorf("offset_ns missing")
	}
	return time.Duration(*req.OffsetNS), nil
}

// GetStatus asks the admin endpoint at addr (host:port) for its status.
func GetStatus(ctx context.Context, hc *http.Client, addr string) (systems.Status, error) {
	var st systems.Status
	resp, err := do(ctx, hc, http.MethodGet, addr, "/status", nil)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("admin %s: decode status: %w", addr, err)
	}
	return st, nil
}

// SetClock sets the clock offset of the node whose admin endpoint is addr.
func SetClock(ctx context.Context, hc *http.Client, addr string, offset time.Duration) error {
	body, _ := json.Marshal(ClockRequest{OffsetNS: int64(offset)})
	resp, err := do(ctx, hc, http.MethodPost, addr, "/clock", strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func do(ctx context.Context, hc *http.Client, method, addr, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, body)
	if err != nil {
		return nil, fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("admin %s %s at %s: %s: %s", method, path, addr, resp.Status, strings.TrimSpace(string(msg)))
	}
	return resp, nil
}

// Endpoint is the harness's side of the admin API, for a system to embed:
// it makes the system a systems.Prober and systems.ClockSetter that ask
// its nodes' admin endpoints (Endpoint.Admin). Requests last 5 s at most
// (a paused node never answers) and keep no connection alive (a killed
// node leaves dead ones behind).
type Endpoint struct{}

var (
	_ systems.Prober      = Endpoint{}
	_ systems.ClockSetter = Endpoint{}
)

// client is shared by every Endpoint; it holds no per-call state.
var client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// Status asks GET /status.
func (Endpoint) Status(ctx context.Context, node systems.Endpoint) (systems.Status, error) {
	return GetStatus(ctx, client, node.Admin)
}

// SetClock asks POST /clock.
func (Endpoint) SetClock(ctx context.Context, node systems.Endpoint, offset time.Duration) error {
	return SetClock(ctx, client, node.Admin, offset)
}
