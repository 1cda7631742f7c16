// Package httpserve runs a node's HTTP servers (peer, client, admin) as one
// group: all ports are bound before any serves, so a node either listens on
// every port or fails to start, and they stop together.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server is one HTTP server of a node.
type Server struct {
	Name    string // for errors and logs: "peer", "client", "admin"
	Addr    string
	Handler http.Handler
}

// Group is a set of running servers.
type Group struct {
	srvs  []*http.Server
	addrs []string
	errc  chan error
}

// Start binds every server's address, then serves them all. Requests get
// ctx as their base context, so they end with the node. A bind failure
// releases the ports already bound.
func Start(ctx context.Context, lg *slog.Logger, servers []Server) (*Group, error) {
	var lns []net.Listener
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			return nil, fmt.Errorf("listen %s on %s: %w", s.Name, s.Addr, err)
		}
		lns = append(lns, ln)
	}
	g := &Group{errc: make(chan error, len(servers))}
	for i, s := range servers {
		srv := &http.Server{
			Handler:           s.Handler,
			ReadHeaderTimeout: 5 * time.Second,
			IdleTimeout:       60 * time.Second,
			ErrorLog:          slog.NewLogLogger(lg.Handler(), slog.LevelDebug),
			BaseContext:       func(net.Listener) context.Context { return ctx },
		}
		g.srvs = append(g.srvs, srv)
		g.addrs = append(g.addrs, lns[i].Addr().String())
		go func() {
			if err := srv.Serve(lns[i]); !errors.Is(err, http.ErrServerClosed) {
				g.errc <- fmt.Errorf("%s server: %w", s.Name, err)
			}
		}()
	}
	return g, nil
}

// Addrs are the bound addresses, in the order the servers were given.
func (g *Group) Addrs() []string { return g.addrs }

// Failed delivers the first server that stopped on its own.
func (g *Group) Failed() <-chan error { return g.errc }

// Shutdown stops every server, waiting up to timeout for requests in
// flight, then closing what is left.
func (g *Group) Shutdown(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, srv := range g.srvs {
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
	}
}
