package docker

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/faultline/faultline/cluster/mesh"
	"github.com/faultline/faultline/systems"
)

// Sidecars: how single links of a system whose peers dial one fixed,
// advertised address per node (etcd's and NATS's peer URLs) are cut and
// slowed, still through Toxiproxy.
//
// Every node gets a sidecar container px-n<i> running the Toxiproxy
// server. Node j advertises n<j>:<7100+j> — a port of its own, so a
// sidecar can tell its links apart by port. Node i's container is
// created with host entries (/etc/hosts, which name resolution reads
// before the network's DNS) mapping every other n<j> to px-n<i>'s
// address, so when node i dials n<j>:<7100+j> it reaches its own
// sidecar's proxy i -> j, which dials n<j>:<7100+j> through the
// network's DNS, reaching node j itself. The sidecars have no such
// entries, and node i's own name resolves to itself. The proxies carry
// the same gates and toxics as the one-container mesh, so the fault
// vocabulary, the history and the report do not change; test.json's
// link_mechanism says which mechanism ran (mesh.SidecarMechanism).
//
// A sidecar lives in a network namespace of its own, not the node's: a
// killed node's namespace goes with it, and the sidecar must outlive
// every restart. Nodes keep their host entries across restarts (the same
// container starts again), and the sidecars dial nodes by name per
// connection, so a restarted node with a new address is found.

// sidecarPortBase + id is node id's peer port under sidecars.
const sidecarPortBase = 7100

func advertisedPort(id int) int { return sidecarPortBase + id }

// advertisedAddr is node id's advertised peer address under sidecars.
func advertisedAddr(id int) string {
	return net.JoinHostPort(systems.NodeName(id), strconv.Itoa(advertisedPort(id)))
}

// sidecarAlias is the alias of node id's sidecar on the run's network.
func sidecarAlias(id int) string { return "px-" + systems.NodeName(id) }

// startSidecars starts one sidecar per node (their APIs published at
// apis[i-1]), records each node's host entries, and builds the mesh on
// the sidecars.
func (d *Driver) startSidecars(ctx context.Context, n int, apis []string) (*mesh.Mesh, error) {
	byNode := make(map[int]string, n)
	d.hosts = make(map[string][]string, n)
	for id := 1; id <= n; id++ {
		b, err := d.startToxiproxy(ctx, sidecarAlias(id), "sidecar", apis[id-1])
		if b != nil {
			d.mu.Lock()
			d.sidecars = append(d.sidecars, b)
			d.mu.Unlock()
		}
		if err != nil {
			return nil, err
		}
		ip, err := d.ipOf(ctx, b.c.GetContainerID())
		if err != nil {
			return nil, fmt.Errorf("sidecar of %s: %w", systems.NodeName(id), err)
		}
		byNode[id] = apis[id-1]
		for j := 1; j <= n; j++ {
			if j != id {
				d.hosts[systems.NodeName(id)] = append(d.hosts[systems.NodeName(id)], systems.NodeName(j)+":"+ip)
			}
		}
	}
	upstreams := make(map[int]string, n)
	for id := 1; id <= n; id++ {
		upstreams[id] = advertisedAddr(id)
	}
	return mesh.ConnectSidecars(ctx, d.logger, mesh.SidecarConfig{
		APIs:      byNode,
		Upstreams: upstreams,
		Listen:    func(_, j int) string { return net.JoinHostPort("0.0.0.0", strconv.Itoa(advertisedPort(j))) },
		Dial:      func(_, j int) string { return advertisedAddr(j) },
	})
}

// ipOf is a container's address on the run's network.
func (d *Driver) ipOf(ctx context.Context, id string) (string, error) {
	info, err := d.cli.ContainerInspect(ctx, id)
	if err != nil {
		return "", fmt.Errorf("inspect: %w", err)
	}
	if info.NetworkSettings != nil {
		if ep := info.NetworkSettings.Networks[d.net.Name]; ep != nil && ep.IPAddress != "" {
			return ep.IPAddress, nil
		}
	}
	return "", fmt.Errorf("no address on network %s", d.net.Name)
}
