// Package nats is NATS JetStream key-value (github.com/nats-io/nats-server/v2,
// the version pinned in ../build/nats-server/go.mod) as a faultline system:
// an example of the open system API, not a system faultline ships. Its
// nodes are the NATS server program (built by `make nats-server`), each
// started from a config file built from the node's configuration, with
// JetStream on and the nodes joined in one cluster; its client is nats.go's
// jetstream KV API on an R3 bucket (R1 below three nodes).
//
// The register workload: a read is a KV Get, a write a Put, a cas a Get of
// the expected value followed by Update at the revision read (so it
// succeeds only if nothing was written in between).
//
// The bucket's direct-get setting (AllowDirect) decides who answers a Get:
// off, the stream's leader, through the JetStream API; on (the named mode
// direct-get, which is nats.go's default for new buckets), any replica
// that holds the stream. What each gives under partitions is measured,
// not assumed: see the README.
package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/examples/external"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// Version is the nats-server release the build module pins.
const Version = "v2.15.2"

// BugDirectGet makes the bucket allow direct gets.
const BugDirectGet = "direct-get"

// Bucket is the KV bucket the register workload uses.
const Bucket = "faultline"

// System is NATS JetStream KV. The zero value finds the binary with
// FindBinary.
type System struct {
	// Binary is the nats-server program; empty: $FAULTLINE_NATS_SERVER,
	// else bin/nats-server in the working directory or a parent.
	Binary string
}

var (
	_ systems.System  = System{}
	_ systems.Foreign = System{}
	_ systems.Prober  = System{}
)

// New returns NATS with its binary found as System's zero value does.
func New() System { return System{} }

func (System) Name() string { return "nats" }

func (System) Summary() string {
	return "NATS JetStream KV " + Version + " (foreign program, nats.go): R3 bucket; cas as Update by revision"
}

func (System) Bugs() []systems.Bug {
	return []systems.Bug{{
		Name: BugDirectGet,
		Description: "bucket mode: AllowDirect on (nats.go's default), so any replica answers a Get, " +
			"not only the stream's leader",
	}}
}

func (System) Workloads() map[string][]history.Func {
	return map[string][]history.Func{"register": {history.OpRead, history.OpWrite, history.OpCAS}}
}

func (System) MinNodes() int { return 1 }

// Executable is the nats-server binary.
func (s System) Executable() (string, error) {
	if s.Binary != "" {
		return s.Binary, nil
	}
	return external.FindBinary("FAULTLINE_NATS_SERVER", "nats-server", "nats-server")
}

// Addressing: every server has one advertised route URL.
func (System) Addressing() systems.Addressing { return systems.Advertised }

// confFile is the server's config file, in its data dir.
const confFile = "nats.conf"

// Command runs nats-server with a config file written into the data dir:
// client listener, monitoring on the admin address, JetStream with its
// store in the data dir, and the cluster: its route listener, the route
// URL it advertises and a route to every other server's advertised URL.
func (System) Command(cfg systems.NodeConfig) (systems.Command, error) {
	if cfg.Advertise == "" {
		return systems.Command{}, fmt.Errorf("nats node %s: no advertised route address", cfg.Name)
	}
	httpHost, httpPort, err := net.SplitHostPort(cfg.AdminListen)
	if err != nil {
		return systems.Command{}, fmt.Errorf("nats node %s: admin address %q: %w", cfg.Name, cfg.AdminListen, err)
	}
	var routes []string
	for _, addr := range cfg.Peers {
		routes = append(routes, fmt.Sprintf("%q", "nats://"+addr))
	}
	sort.Strings(routes)
	conf := fmt.Sprintf(`server_name: %q
listen: %q
http: %q
jetstream {
  store_dir: %q
}
cluster {
  name: "faultline"
  listen: %q
  advertise: %q
  routes: [%s]
}
`, cfg.Name, cfg.ClientListen, net.JoinHostPort(httpHost, httpPort), cfg.DataDir+"/jetstream",
		cfg.PeerListen, cfg.Advertise, strings.Join(routes, ", "))
	return systems.Command{
		Args:  []string{"-c", cfg.DataDir + "/" + confFile},
		Files: map[string][]byte{confFile: []byte(conf)},
	}, nil
}

// NewClient returns a KV client for the register workload.
func (System) NewClient(c systems.ClientConfig) (systems.Client, error) {
	if c.Workload != "register" {
		return nil, fmt.Errorf("nats: unknown workload %q (supports register)", c.Workload)
	}
	return newClient(len(c.Nodes), c.HasBug(BugDirectGet)), nil
}

// Status asks the server's monitoring endpoint: ready when /healthz says
// JetStream is current; the meta leader from /jsz.
func (System) Status(ctx context.Context, node systems.Endpoint) (systems.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st := systems.Status{Node: node.Name}
	code, err := get(ctx, "http://"+node.Admin+"/healthz", nil)
	if err != nil {
		return st, fmt.Errorf("nats status of %s: %w", node.Name, err)
	}
	st.Ready = code == http.StatusOK
	var jsz struct {
		Meta struct {
			Leader string `json:"leader"`
		} `json:"meta_cluster"`
	}
	if _, err := get(ctx, "http://"+node.Admin+"/jsz", &jsz); err == nil {
		st.Leader = jsz.Meta.Leader
		st.Role = "follower"
		if st.Leader == node.Name {
			st.Role = "leader"
		}
	}
	return st, nil
}

// get fetches a monitoring endpoint (never through a proxy from the
// environment; no connection kept).
func get(ctx context.Context, url string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, err
		}
	}
	return resp.StatusCode, nil
}
