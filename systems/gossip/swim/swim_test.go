package swim

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// network runs machines in lockstep: each tick every live machine ticks,
// then messages are delivered (and their replies, in the same tick) until
// none are left. cut links and crashed members drop messages.
type network struct {
	t        *testing.T
	ms       map[string]*Machine
	names    []string
	crashed  map[string]bool
	cut      map[[2]string]bool
	tick     int
	suspects int // suspicions of members that were not crashed
}

func newNetwork(t *testing.T, n int) *network {
	nw := &network{t: t, ms: map[string]*Machine{}, crashed: map[string]bool{}, cut: map[[2]string]bool{}}
	for i := 1; i <= n; i++ {
		nw.names = append(nw.names, fmt.Sprintf("n%d", i))
	}
	for i, self := range nw.names {
		nw.ms[self] = nw.newMachine(self, uint64(i))
	}
	return nw
}

func (nw *network) newMachine(self string, seed uint64) *Machine {
	var peers []string
	for _, p := range nw.names {
		if p != self {
			peers = append(peers, p)
		}
	}
	m, err := New(DefaultConfig(self, peers), 0, rand.New(rand.NewPCG(seed, 7)))
	if err != nil {
		nw.t.Fatal(err)
	}
	return m
}

func (nw *network) isolate(a, b string) {
	nw.cut[[2]string{a, b}], nw.cut[[2]string{b, a}] = true, true
}
func (nw *network) heal() { nw.cut = map[[2]string]bool{} }

func (nw *network) run(ticks int) {
	for range ticks {
		nw.tick++
		var q []Message
		for _, n := range nw.names {
			if !nw.crashed[n] {
				q = append(q, nw.ms[n].Tick()...)
			}
		}
		for len(q) > 0 {
			msg := q[0]
			q = q[1:]
			if nw.crashed[msg.To] || nw.crashed[msg.From] || nw.cut[[2]string{msg.From, msg.To}] {
				continue
			}
			q = append(q, nw.ms[msg.To].Step(msg)...)
		}
		for _, n := range nw.names {
			if nw.crashed[n] {
				continue
			}
			for p, s := range nw.ms[n].Members() {
				if s != Alive && !nw.crashed[p] && len(nw.cut) == 0 {
					nw.suspects++
				}
			}
		}
	}
}

// until runs until cond holds, failing after limit ticks.
func (nw *network) until(limit int, what string, cond func() bool) int {
	nw.t.Helper()
	for i := 0; i < limit; i++ {
		if cond() {
			return i
		}
		nw.run(1)
	}
	nw.t.Fatalf("%s: not within %d ticks; views: %v", what, limit, nw.views())
	return 0
}

func (nw *network) views() map[string]map[string]State {
	out := map[string]map[string]State{}
	for _, n := range nw.names {
		if !nw.crashed[n] {
			out[n] = nw.ms[n].Members()
		}
	}
	return out
}

func (nw *network) allSee(node string, s State) bool {
	for _, n := range nw.names {
		if n != node && !nw.crashed[n] && nw.ms[n].Members()[node] != s {
			return false
		}
	}
	return true
}

func TestHealthyGroupSuspectsNobody(t *testing.T) {
	nw := newNetwork(t, 5)
	nw.run(2000)
	if nw.suspects != 0 {
		t.Fatalf("%d suspicions in a healthy group; views %v", nw.suspects, nw.views())
	}
}

func TestCrashedMemberIsDeclaredDeadEverywhere(t *testing.T) {
	nw := newNetwork(t, 5)
	nw.run(20)
	nw.crashed["n3"] = true
	cfg := DefaultConfig("n1", nil)
	// Someone probes n3 within a round of probes (4 peers), the probe
	// fails within a period, suspicion lasts its timeout, and the verdict
	// spreads within a few periods.
	bound := 4*cfg.ProbeInterval + cfg.ProbeInterval + cfg.SuspicionTimeout + 4*cfg.ProbeInterval
	took := nw.until(bound, "n3 dead in every view", func() bool { return nw.allSee("n3", Dead) })
	t.Logf("declared dead everywhere after %d ticks (bound %d)", took, bound)
	if nw.suspects != 0 {
		t.Fatalf("%d false suspicions of live members", nw.suspects)
	}
}

func TestIndirectProbeSavesAMemberBehindOneBadLink(t *testing.T) {
	nw := newNetwork(t, 5)
	nw.isolate("n1", "n2")
	nw.run(500)
	for _, n := range []string{"n1", "n2"} {
		for p, s := range nw.ms[n].Members() {
			if s != Alive {
				t.Fatalf("%s sees %s %s although others can reach it", n, p, s)
			}
		}
	}
}

func TestSuspectedMemberRefutesWithHigherIncarnation(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.run(10)
	m := nw.ms["n1"]
	m.apply(Update{Node: "n2", State: Suspect, Inc: 0})
	nw.until(50, "n2 alive again in n1's view", func() bool { return m.Members()["n2"] == Alive })
	if inc := nw.ms["n2"].Incarnation(); inc != 1 {
		t.Fatalf("n2 refuted at incarnation %d, want 1", inc)
	}
	if nw.ms["n3"].Members()["n2"] != Alive {
		t.Fatalf("n3 sees n2 %v after the refutation", nw.ms["n3"].Members()["n2"])
	}
}

func TestPartitionedMembersRejoinAfterHeal(t *testing.T) {
	nw := newNetwork(t, 5)
	nw.run(10)
	for _, a := range []string{"n1", "n2"} {
		for _, b := range []string{"n3", "n4", "n5"} {
			nw.isolate(a, b)
		}
	}
	nw.until(200, "each side declares the other dead", func() bool {
		return nw.ms["n1"].Members()["n4"] == Dead && nw.ms["n4"].Members()["n1"] == Dead
	})
	nw.heal()
	nw.until(200, "everyone alive everywhere", func() bool {
		for _, n := range nw.names {
			if !nw.allSee(n, Alive) {
				return false
			}
		}
		return true
	})
}

func TestRestartedMemberRejoins(t *testing.T) {
	nw := newNetwork(t, 4)
	nw.run(10)
	nw.crashed["n2"] = true
	nw.until(300, "n2 dead", func() bool { return nw.allSee("n2", Dead) })
	// A restart loses the machine's memory, incarnation included.
	nw.ms["n2"] = nw.newMachine("n2", 99)
	delete(nw.crashed, "n2")
	nw.until(100, "n2 alive again everywhere", func() bool { return nw.allSee("n2", Alive) })
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig("n1", []string{"n2"})
	c.AckTimeout = c.ProbeInterval
	if err := c.Validate(); err == nil {
		t.Fatal("AckTimeout == ProbeInterval accepted")
	}
	if _, err := New(DefaultConfig("n1", []string{"n1"}), 0, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Fatal("a member listing itself as a peer was accepted")
	}
}
