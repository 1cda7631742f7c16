package systems

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/faultline/faultline/history"
)

// Failed is the completion of an op that certainly did not take effect.
func Failed(format string, args ...any) Completion {
	return Completion{Type: history.Fail, Error: fmt.Sprintf(format, args...)}
}

// Unsure is the completion of an op whose outcome is unknown (a timeout,
// a connection lost after sending): Info, for reads too. A read that timed
// out constrains nothing either way, and the checker drops it, but "fail"
// would claim it certainly did not happen, which nobody knows.
func Unsure(_ Op, msg string) Completion {
	return Completion{Type: history.Info, Error: msg}
}

// DecodeValue turns a JSON value into Go values with exact numbers
// (json.Number), as history.Read does, so values compare by ValueKey
// whichever way they came. Empty input is nil (absent).
func DecodeValue(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// NewHTTPClient returns the HTTP client a system's client library uses to
// reach nodes: never through a proxy from the environment (traffic goes
// only to loopback or the run's own networks), quick to fail a dial, and
// with enough idle connections per node for the run's workers.
func NewHTTPClient(idlePerHost int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
		MaxIdleConns:        4 * idlePerHost,
		MaxIdleConnsPerHost: idlePerHost,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}}
}

// Reply is the status line of a client API reply CallJSON decoded.
type Reply struct {
	Code   int    // e.g. 200
	Status string // e.g. "200 OK"
}

// CallJSON sends body (JSON; nil for none) to path on node's client API
// and decodes the JSON reply, at most limit bytes, into out. sent is false
// only when the request certainly never left (the dial failed), so the op
// did not happen; any other error leaves its outcome unknown.
func CallJSON(ctx context.Context, hc *http.Client, method string, node Endpoint, path string, body []byte, limit int64, out any) (r Reply, sent bool, err error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+node.Client+path, rd)
	if err != nil {
		return r, false, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		var opErr *net.OpError
		return r, !(errors.As(err, &opErr) && opErr.Op == "dial"), err
	}
	defer resp.Body.Close()
	r = Reply{Code: resp.StatusCode, Status: resp.Status}
	if err := json.NewDecoder(io.LimitReader(resp.Body, limit)).Decode(out); err != nil {
		return r, true, fmt.Errorf("%s, unreadable reply: %w", resp.Status, err)
	}
	return r, true, nil
}

// CallFailed is the completion of an op whose CallJSON to node failed:
// Fail when the request never left, Info otherwise.
func CallFailed(op Op, node Endpoint, sent bool, err error) Completion {
	if !sent {
		return Failed("not sent to %s: %v", node.Name, err)
	}
	return Unsure(op, fmt.Sprintf("%s: %v", node.Name, err))
}

// BoundContext bounds ctx by d unless the caller already gave it a
// deadline, so a client call never waits forever on a frozen node.
func BoundContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}
