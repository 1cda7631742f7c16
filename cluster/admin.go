package cluster

import (
	"context"
	"net/http"
	"time"

	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/admin"
)

// statusTimeout bounds one admin request when the caller's context does
// not (a paused node never answers).
const statusTimeout = 5 * time.Second

// HTTPAdmin speaks the admin endpoint every included node serves
// (systems/nodekit/admin): GET /status and POST /clock on the node's
// admin address.
type HTTPAdmin struct{ http *http.Client }

var _ Admin = (*HTTPAdmin)(nil)

// NewHTTPAdmin returns an HTTPAdmin whose requests last 5s at most.
func NewHTTPAdmin() *HTTPAdmin {
	return &HTTPAdmin{http: &http.Client{
		Timeout: statusTimeout,
		// A killed node leaves dead keep-alive connections behind.
		Transport: &http.Transport{DisableKeepAlives: true},
	}}
}

// Status asks GET /status.
func (a *HTTPAdmin) Status(ctx context.Context, node systems.Endpoint) (systems.Status, error) {
	return admin.GetStatus(ctx, a.http, node.Admin)
}

// SetClock asks POST /clock.
func (a *HTTPAdmin) SetClock(ctx context.Context, node systems.Endpoint, offset time.Duration) error {
	return admin.SetClock(ctx, a.http, node.Admin, offset)
}
