package harness

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/harness/runtime"
	"github.com/faultline/faultline/harness/runtime/process"
)

// runtimes lists the runtimes faultline has, in the order help shows them.
var runtimes = []string{"process"}

// startCluster starts spec on the named runtime.
func startCluster(ctx context.Context, name string, spec runtime.Spec) (runtime.Cluster, error) {
	switch name {
	case "process":
		return process.Start(ctx, spec)
	}
	return nil, fmt.Errorf("unknown runtime %q", name)
}
