package external

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// EnsureBinary returns the node program FindBinary finds, first running
// `make target` in the faultline repository above the working directory
// when there is none (the make target builds it once per version and
// caches it). Tests call it from TestMain, so the build happens once per
// test binary, and only when no cached binary exists.
func EnsureBinary(env, name, target string) (string, error) {
	if p, err := FindBinary(env, name, target); err == nil {
		return p, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("make", "-C", root, target)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("make %s in %s: %w", target, root, err)
	}
	return FindBinary(env, name, target)
}

// repoRoot is the nearest directory at or above the working directory
// holding the Makefile with the build targets.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "examples", "external", "build")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "Makefile")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no faultline repository (Makefile, examples/external/build) above the working directory")
		}
		dir = parent
	}
}
