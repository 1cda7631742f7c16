package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/systems"
)

// probeSys is a foreign system whose node program is testdata/probe, with
// advertised peer addresses (as etcd's and NATS's).
type probeSys struct{ exe string }

func (p probeSys) Executable() (string, error)  { return p.exe, nil }
func (probeSys) Addressing() systems.Addressing { return systems.Advertised }
func (probeSys) Command(cfg systems.NodeConfig) (systems.Command, error) {
	return systems.Command{
		Args:  []string{cfg.ClientListen, cfg.PeerListen, "advertise=" + cfg.Advertise, "peer=" + cfg.Peers[3-cfg.ID]},
		Env:   []string{"PROBE_NODE=" + cfg.Name},
		Files: map[string][]byte{"conf/node.txt": []byte("I am " + cfg.Name)},
	}, nil
}

// buildProbe builds testdata/probe as a static Linux binary.
func buildProbe(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "probe")
	cmd := exec.Command("go", "build", "-o", bin, "./testdata/probe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build probe: %v\n%s", err, out)
	}
	return bin
}

// A foreign node program runs in a container of the node image, with its
// arguments, environment and files, in its data dir; it reaches a peer at
// the peer's one advertised address; a kill and a restart keep all of
// that; nothing is left after Close. (Cutting its links: sidecar tests.)
func TestForeignProgramRunsInContainers(t *testing.T) {
	needEngine(t)
	sys := probeSys{exe: buildProbe(t)}
	runDir := filepath.Join(t.TempDir(), fmt.Sprintf("run-docker-foreign-%d", os.Getpid()))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Spec{System: "probe", Nodes: 2, RunDir: runDir, Foreign: sys,
		Addressing: systems.Advertised, Admin: cluster.AdminOf(noSystem{}), ReadyTimeout: time.Minute}, New())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	ask := func(ep systems.Endpoint, query string) map[string]any {
		t.Helper()
		resp, err := http.Get("http://" + ep.Client + "/" + query)
		if err != nil {
			t.Fatalf("ask %s: %v", ep.Name, err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	eps := c.Nodes()
	got := ask(eps[0], "?dial="+advertisedAddr(2))
	args := fmt.Sprint(got["args"])
	if got["env"] != "n1" || got["file"] != "I am n1" || got["wd"] != "/data" ||
		!strings.Contains(args, "advertise="+advertisedAddr(1)) || !strings.Contains(args, "peer="+advertisedAddr(2)) || got["dial"] != true {
		t.Errorf("n1 started with %v", got)
	}
	if err := c.Kill(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if got := ask(eps[1], ""); got["env"] != "n2" || got["file"] != "I am n2" {
		t.Errorf("n2 restarted with %v", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if left := leftovers(t, filepath.Base(runDir)); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// A dynamically linked program cannot run in the FROM scratch image: the
// driver says so before it makes anything.
func TestForeignProgramMustBeStatic(t *testing.T) {
	needEngine(t)
	_, err := cluster.Start(context.Background(), cluster.Spec{System: "probe", Nodes: 1, RunDir: t.TempDir(),
		Foreign: probeSys{exe: "/bin/sh"}, Addressing: systems.Advertised}, New())
	if err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Fatalf("err = %v, want it to say the program is dynamically linked", err)
	}
}

// noSystem is a system with no probe: readiness is a TCP connect.
type noSystem struct{ systems.System }

func (noSystem) Name() string { return "probe" }
