// Package etcd is etcd (go.etcd.io/etcd, the version pinned in
// ../build/etcd/go.mod) as a faultline system: an example of the open
// system API, not a system faultline ships. Its nodes are etcd's own
// server program (built by `make etcd`), started from a command line
// built from each node's configuration; its client is the official
// clientv3.
//
// The register workload: a read is a linearizable Get (etcd's default),
// a write a Put, a cas a Txn comparing the key's value. The named mode
// serializable-reads reads with clientv3.WithSerializable() instead:
// etcd documents such reads as served by the member alone, possibly
// stale — a real-world anomaly for the harness to find.
package etcd

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"

	"github.com/faultline/faultline/examples/external"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// Version is the etcd release the build module pins.
const Version = "v3.6.16"

// BugSerializableReads is the client mode whose reads are serializable.
const BugSerializableReads = "serializable-reads"

// System is etcd. The zero value finds the binary with FindBinary.
type System struct {
	// Binary is the etcd program; empty: $FAULTLINE_ETCD, else bin/etcd
	// in the working directory or a parent.
	Binary string
}

var (
	_ systems.System  = System{}
	_ systems.Foreign = System{}
	_ systems.Prober  = System{}
)

// New returns etcd with its binary found as System's zero value does.
func New() System { return System{} }

func (System) Name() string { return "etcd" }

func (System) Summary() string {
	return "etcd " + Version + " (foreign program, official clientv3): linearizable KV; cas as a Txn"
}

func (System) Bugs() []systems.Bug {
	return []systems.Bug{{
		Name: BugSerializableReads,
		Description: "client mode: reads use clientv3.WithSerializable(), answered by the member alone " +
			"(documented as possibly stale); a member cut off from the leader serves old values under partitions",
	}}
}

func (System) Workloads() map[string][]history.Func {
	return map[string][]history.Func{"register": {history.OpRead, history.OpWrite, history.OpCAS}}
}

func (System) MinNodes() int { return 1 }

// Executable is the etcd binary.
func (s System) Executable() (string, error) {
	if s.Binary != "" {
		return s.Binary, nil
	}
	return external.FindBinary("FAULTLINE_ETCD", "etcd", "etcd")
}

// Addressing: every member has one advertised peer URL.
func (System) Addressing() systems.Addressing { return systems.Advertised }

// Command is etcd's flags for node cfg: its name, data dir, peer and
// client listeners, its advertised peer URL and the initial cluster
// (every member's advertised URL). A restarted member has a data dir and
// ignores the initial-cluster flags, as etcd documents. Metrics (and
// /health) are served on the admin address.
func (System) Command(cfg systems.NodeConfig) (systems.Command, error) {
	if cfg.Advertise == "" {
		return systems.Command{}, fmt.Errorf("etcd node %s: no advertised peer address", cfg.Name)
	}
	members := []string{cfg.Name + "=" + httpURL(cfg.Advertise)}
	for id, addr := range cfg.Peers {
		members = append(members, systems.NodeName(id)+"="+httpURL(addr))
	}
	sort.Strings(members)
	_, clientPort, err := net.SplitHostPort(cfg.ClientListen)
	if err != nil {
		return systems.Command{}, fmt.Errorf("etcd node %s: client address %q: %w", cfg.Name, cfg.ClientListen, err)
	}
	advHost, _, _ := net.SplitHostPort(cfg.Advertise)
	return systems.Command{Args: []string{
		"--name", cfg.Name,
		"--data-dir", cfg.DataDir + "/etcd",
		"--listen-peer-urls", httpURL(cfg.PeerListen),
		"--initial-advertise-peer-urls", httpURL(cfg.Advertise),
		"--listen-client-urls", httpURL(cfg.ClientListen),
		"--advertise-client-urls", httpURL(net.JoinHostPort(advHost, clientPort)),
		"--listen-metrics-urls", httpURL(cfg.AdminListen),
		"--initial-cluster", strings.Join(members, ","),
		"--initial-cluster-state", "new",
		"--initial-cluster-token", "faultline",
		"--log-level", "warn",
	}}, nil
}

func httpURL(hostport string) string { return (&url.URL{Scheme: "http", Host: hostport}).String() }

// NewClient returns a clientv3-backed client for the register workload.
func (System) NewClient(c systems.ClientConfig) (systems.Client, error) {
	if c.Workload != "register" {
		return nil, fmt.Errorf("etcd: unknown workload %q (supports register)", c.Workload)
	}
	return newClient(c.HasBug(BugSerializableReads)), nil
}

// Status asks the member itself (maintenance Status on its client port):
// ready once it knows a leader; role, leader name and term from the same
// answer.
func (System) Status(ctx context.Context, node systems.Endpoint) (systems.Status, error) {
	return memberStatus(ctx, node)
}
