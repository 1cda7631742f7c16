package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/cluster/docker"
)

// BenchmarkClusterStart measures, on each runtime, the time from asking
// for a 5-node quorum cluster to having every node report ready: what a
// run waits for before its clients start. The docker image is built (or
// found) before the clock starts, as on any run after the first. Closing
// each cluster is not timed.
//
//	go test -run '^$' -bench ClusterStart -benchtime 5x ./internal/runner
func BenchmarkClusterStart(b *testing.B) {
	// faultline-node beside faultline, as make build leaves them: the
	// docker image takes it from there.
	dir := b.TempDir()
	bin := filepath.Join(dir, "faultline")
	for _, pkg := range []string{"faultline", "faultline-node"} {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, pkg), "../../cmd/"+pkg)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}
	for _, name := range []string{"process", "docker"} {
		b.Run(name, func(b *testing.B) {
			if name == "docker" {
				if err := docker.Available(context.Background()); err != nil {
					b.Skipf("skipping: needs a Docker engine: %v", err)
				}
			}
			start := func() {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				defer cancel()
				c, err := startCluster(ctx, name, cluster.Spec{
					System: "quorum", Nodes: 5, RunDir: b.TempDir(),
					Command: []string{bin, "node", "--parent-watch"},
				})
				if err != nil {
					b.Fatalf("start: %v", err)
				}
				b.StopTimer()
				if err := c.Close(); err != nil {
					b.Fatalf("close: %v", err)
				}
				b.StartTimer()
			}
			start() // builds or finds the image; not counted
			b.ResetTimer()
			for range b.N {
				start()
			}
		})
	}
}
