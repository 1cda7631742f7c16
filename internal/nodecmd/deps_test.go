package nodecmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// forbidden are what a node program must not link: the Docker client and
// testcontainers (the harness's docker runtime) and Porcupine (the
// checkers). A node carries what it serves, not the harness.
var forbidden = []string{"docker", "moby", "testcontainers", "porcupine"}

// TestNodeProgramsLinkNoHarness lists, with `go list -deps`, everything the
// node entry package and the node-only binary (cmd/faultline-node, what the
// docker image holds) import.
func TestNodeProgramsLinkNoHarness(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	for _, pkg := range []string{".", "../../cmd/faultline-node"} {
		cmd := exec.Command(goBin, "list", "-deps", pkg)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		// The listing is real: it holds the systems a node runs.
		if !slices.Contains(deps, "github.com/faultline/faultline/systems/raft") {
			t.Fatalf("go list -deps %s lists no raft system; the check would prove nothing:\n%s", pkg, out)
		}
		for _, dep := range deps {
			for _, bad := range forbidden {
				if strings.Contains(dep, bad) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
