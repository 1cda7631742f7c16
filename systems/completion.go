package systems

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/faultline/faultline/harness/history"
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
