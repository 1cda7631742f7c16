package runner

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/cluster/docker"
	"github.com/faultline/faultline/cluster/process"
	"github.com/faultline/faultline/internal/exitcode"
)

// runtimes lists the runtimes faultline has, in the order help shows them.
// "auto" is resolved to one of the others before a run starts.
var runtimes = []string{"process", "docker", "auto"}

// newDriver returns a driver of the named runtime.
func newDriver(name string) (cluster.Driver, error) {
	switch name {
	case "process":
		return process.New(), nil
	case "docker":
		return docker.New(), nil
	}
	return nil, fmt.Errorf("unknown runtime %q", name)
}

// startCluster starts spec on the named runtime.
func startCluster(ctx context.Context, name string, spec cluster.Spec) (*cluster.Cluster, error) {
	d, err := newDriver(name)
	if err != nil {
		return nil, err
	}
	return cluster.Start(ctx, spec, d)
}

// resolveRuntime turns "auto" into docker when an engine answers, else
// process, and checks that docker has an engine; the error is a
// *exitcode.ClusterError saying how to start one.
func resolveRuntime(ctx context.Context, name string) (string, error) {
	switch name {
	case "auto":
		if docker.Available(ctx) == nil {
			return "docker", nil
		}
		return "process", nil
	case "docker":
		if err := docker.Available(ctx); err != nil {
			return "", &exitcode.ClusterError{Err: err}
		}
	}
	return name, nil
}
