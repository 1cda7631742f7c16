// Package external holds faultline's examples of the open system API:
// real systems nobody here wrote — etcd (./etcd) and NATS JetStream
// key-value (./nats) — tested through the same runs, faults and checkers
// as the included ones. Each is a systems.Foreign value whose nodes are
// the system's own server program, built from its pinned Go module by
// `make etcd` / `make nats-server` (./build, a module of its own each, so
// no server dependency reaches faultline's go.mod).
package external

import (
	"fmt"
	"os"
	"path/filepath"
)

// FindBinary finds a node program: the path in env when set, else
// bin/<name> in the working directory or the nearest parent that has one
// (a test runs in its package's directory, below the repository root).
// The error says how to build it.
func FindBinary(env, name, target string) (string, error) {
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", env, p, err)
		}
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find %s: %w", name, err)
	}
	for {
		p := filepath.Join(dir, "bin", name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s binary: run `make %s` in the faultline repository (it builds bin/%s), or set %s to one", name, target, name, env)
		}
		dir = parent
	}
}
