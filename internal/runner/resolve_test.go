package runner

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/registry"
)

// foreignSys is a foreign system as a user would declare one, with no
// probe, clock or lazy storage, and one fault it says means nothing.
type foreignSys struct{ addressing systems.Addressing }

func (foreignSys) Name() string        { return "ext" }
func (foreignSys) Summary() string     { return "a foreign test system" }
func (foreignSys) Bugs() []systems.Bug { return nil }
func (foreignSys) MinNodes() int       { return 1 }
func (foreignSys) Workloads() map[string][]history.Func {
	return map[string][]history.Func{"register": {history.OpRead, history.OpWrite}}
}
func (foreignSys) NewClient(systems.ClientConfig) (systems.Client, error) { return nil, nil }
func (foreignSys) Executable() (string, error)                            { return "/bin/true", nil }
func (foreignSys) Command(systems.NodeConfig) (systems.Command, error)    { return systems.Command{}, nil }
func (f foreignSys) Addressing() systems.Addressing                       { return f.addressing }
func (foreignSys) UnsupportedFaults() map[string]string {
	return map[string]string{"pause": "its nodes time out clients while frozen, by design"}
}

func extTest(sys systems.System, faults ...string) Test {
	t := DefaultTest()
	t.System, t.Impl, t.Nemesis, t.Nodes = sys.Name(), sys, faults, 3
	return t
}

func skippedOf(t Test) map[string]string {
	m := map[string]string{}
	for _, s := range t.Skipped {
		m[s.Fault] = s.Reason
	}
	return m
}

// A fault that means nothing for the system is skipped with the reason,
// never run as something else: clock without a clock setter, power loss
// without lazy storage, what the system declares, and links the runtime
// cannot cut for its addressing.
func TestResolveSkipsFaultsThatMeanNothingWithTheReason(t *testing.T) {
	res, err := Resolve(extTest(foreignSys{systems.Advertised}, "all"))
	if err != nil {
		t.Fatal(err)
	}
	sk := skippedOf(res.Test)
	for fault, want := range map[string]string{
		"clock":      "ClockSetter",
		"power-loss": "LazyStorage",
		"pause":      "by design",
		"partition":  "advertised peer address",
		"link":       "advertised peer address",
	} {
		if !strings.Contains(sk[fault], want) {
			t.Errorf("skipped %s: %q, want a reason containing %q", fault, sk[fault], want)
		}
	}
	if len(res.Faults) != 1 || res.Faults[0].Name() != "kill" {
		t.Errorf("faults kept: %v, want only kill", res.Faults)
	}
	if res.Test.LinkMechanism != "" {
		t.Errorf("link mechanism %q with no link fault kept", res.Test.LinkMechanism)
	}
	// Per-link addressing keeps the link faults, through the mesh.
	res, err = Resolve(extTest(foreignSys{systems.PerLink}, "partition", "slow", "clock"))
	if err != nil {
		t.Fatal(err)
	}
	if sk := skippedOf(res.Test); len(sk) != 1 || sk["clock"] == "" {
		t.Errorf("skipped %v, want only clock", sk)
	}
	if !strings.Contains(res.Test.LinkMechanism, "toxiproxy") {
		t.Errorf("link mechanism %q, want the toxiproxy mesh", res.Test.LinkMechanism)
	}
	// The built-ins take every fault.
	raft := extTest(mustBuiltin(t, "raft"), "all")
	if res, err := Resolve(raft); err != nil || len(res.Test.Skipped) != 0 {
		t.Errorf("raft under all: skipped %v, err %v; want none", res.Test.Skipped, err)
	}
}

// Asking only for faults that mean nothing is refused: the run would pass
// for nothing.
func TestResolveRefusesATestWhoseEveryFaultIsSkipped(t *testing.T) {
	_, err := Resolve(extTest(foreignSys{systems.Advertised}, "clock", "partition-halves"))
	var ce *exitcode.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "clock:") || !strings.Contains(err.Error(), "partition-halves:") {
		t.Fatalf("err = %v, want a config error naming each skipped fault", err)
	}
	if _, err := Resolve(extTest(foreignSys{systems.Advertised}, "none")); err != nil {
		t.Errorf("no faults at all is a fine test: %v", err)
	}
}

// twoWays says both how its nodes run in-process and as a program.
type twoWays struct{ foreignSys }

func (twoWays) RunNode(context.Context, systems.NodeConfig) error { return nil }

// noWay says neither.
type noWay struct{ systems.System }

func TestResolveWantsExactlyOneWayToRunNodes(t *testing.T) {
	for _, sys := range []systems.System{twoWays{}, noWay{foreignSys{}}} {
		_, err := Resolve(extTest(sys, "kill"))
		if err == nil || !strings.Contains(err.Error(), "exactly one of systems.InProcess") {
			t.Errorf("%T: err = %v, want it to say how nodes may run", sys, err)
		}
	}
}

// inprocSys is a user's in-process system: faultline-node in the docker
// image does not hold it.
type inprocSys struct{ foreignSys }

func (inprocSys) Name() string                                      { return "mine" }
func (inprocSys) RunNode(context.Context, systems.NodeConfig) error { return nil }

type inproc struct {
	systems.System
	systems.InProcess
}

func TestResolveRefusesAUsersInProcessSystemOnDocker(t *testing.T) {
	sys := inproc{System: noWay{foreignSys{}}, InProcess: inprocSys{}}
	tt := extTest(sys, "kill")
	tt.Runtime = "docker"
	_, err := Resolve(tt)
	if err == nil || !strings.Contains(err.Error(), "use the process runtime") {
		t.Fatalf("err = %v, want a refusal naming the process runtime", err)
	}
	tt.Runtime = "process"
	if _, err := Resolve(tt); err != nil {
		t.Fatalf("on the process runtime: %v", err)
	}
}

func TestResolveNamesTheMissingSystem(t *testing.T) {
	tt := DefaultTest()
	tt.System = ""
	if _, err := Resolve(tt); err == nil || !strings.Contains(err.Error(), "no system to test") || !strings.Contains(err.Error(), "raft") {
		t.Fatalf("err = %v, want one naming the built-ins", err)
	}
	tt.System, tt.Impl = "raft", foreignSys{}
	if _, err := Resolve(tt); err == nil || !strings.Contains(err.Error(), `"ext"`) {
		t.Fatalf("err = %v, want the name mismatch", err)
	}
}

func mustBuiltin(t *testing.T, name string) systems.System {
	t.Helper()
	s, err := registry.Default().Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A named sequence is one schedule: a fault of it that would be skipped
// makes the test refused, not a sequence with a hole.
func TestResolveRefusesASequenceWithASkippedFault(t *testing.T) {
	_, err := Resolve(extTest(foreignSys{systems.Advertised}, "figure8"))
	if err == nil || !strings.Contains(err.Error(), "nemesis figure8 needs partition") {
		t.Fatalf("err = %v, want the sequence and the skipped fault named", err)
	}
}

// The Go API refuses what the CLI refuses: the bounds of internal/bounds
// hold for a Test however it was made, and a refused test writes nothing.
func TestResolveEnforcesTheFlagBounds(t *testing.T) {
	for _, tc := range []struct {
		mut  func(*Test)
		want string
	}{
		{func(t *Test) { t.Rate = math.NaN() }, "--rate NaN"},
		{func(t *Test) { t.Rate = math.Inf(1) }, "--rate +Inf"},
		{func(t *Test) { t.Concurrency = math.MaxInt32 }, "--concurrency 2147483647: want 1..1000"},
		{func(t *Test) { t.NemesisInterval = 1 }, "--nemesis-interval 1ns: want 100ms..1h"},
		{func(t *Test) { t.TimeLimit = Duration(time.Hour); t.NemesisInterval = Duration(time.Second) }, "3600 fault episodes: want at most 1000"},
		{func(t *Test) { t.CheckTimeout = 0 }, "--check-timeout 0s"},
		{func(t *Test) { t.StartTimeout = Duration(2 * time.Hour) }, "--start-timeout 2h0m0s: want 0 (the default, 60s) or 1s..1h"},
		{func(t *Test) { t.Nodes = 99 }, "--nodes 99: want 1..15"},
	} {
		tt := DefaultTest()
		tt.ResultsDir = filepath.Join(t.TempDir(), "results")
		tc.mut(&tt)
		_, err := Run(context.Background(), tt, Options{NodeCommand: []string{"/bin/false"}})
		var ce *exitcode.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want a *ConfigError containing %q", err, tc.want)
		}
		if _, err := os.Stat(tt.ResultsDir); err == nil {
			t.Errorf("%q: a refused test wrote %s", tc.want, tt.ResultsDir)
		}
	}
	// With no faults the interval does not matter.
	tt := DefaultTest()
	tt.Nemesis, tt.NemesisInterval = []string{"none"}, 1
	if _, err := Resolve(tt); err != nil {
		t.Errorf("a test without faults with a 1ns interval: %v", err)
	}
}
