package raft

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

func lockCmd(t *testing.T, f, key, value string) *command {
	t.Helper()
	c, err := lockCommand(f, key, json.RawMessage(value))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAGrantIsFencedByItsIndexAndRefusedWhileHeld(t *testing.T) {
	s := newLockState()
	res := s.apply(lockCmd(t, opAcquire, "L", `{"owner":"a","ttl_ms":100}`), 7)
	if res.Outcome != outcomeOK || string(res.Value) != `{"token":7}` {
		t.Fatalf("first acquire: %+v", res)
	}
	if res := s.apply(lockCmd(t, opAcquire, "L", `{"owner":"b","ttl_ms":100}`), 8); res.Outcome != outcomeFail || !strings.Contains(res.Error, "held by a (token 7)") {
		t.Fatalf("acquire while held, not judged expired: %+v", res)
	}
	// The leader judged stamp 7 expired: b is granted with token 9.
	c := lockCmd(t, opAcquire, "L", `{"owner":"b","ttl_ms":100}`)
	c.Expired = 7
	if res := s.apply(c, 9); res.Outcome != outcomeOK || string(res.Value) != `{"token":9}` {
		t.Fatalf("acquire of an expired lease: %+v", res)
	}
}

func TestARenewalBetweenJudgementAndApplyWins(t *testing.T) {
	s := newLockState()
	s.apply(lockCmd(t, opAcquire, "L", `{"owner":"a","ttl_ms":100}`), 7)
	if res := s.apply(lockCmd(t, opRenew, "L", `{"owner":"a","token":7,"ttl_ms":100}`), 8); res.Outcome != outcomeOK {
		t.Fatalf("renew: %+v", res)
	}
	c := lockCmd(t, opAcquire, "L", `{"owner":"b","ttl_ms":100}`)
	c.Expired = 7 // judged before the renewal applied
	if res := s.apply(c, 9); res.Outcome != outcomeFail {
		t.Fatalf("acquire with a stale judgement: %+v, want refused", res)
	}
}

func TestReleaseChecksOwnerAndTokenUnlessReleaseAny(t *testing.T) {
	for _, bug := range []bool{false, true} {
		s := newLockState()
		s.releaseAny = bug
		s.apply(lockCmd(t, opAcquire, "L", `{"owner":"a","ttl_ms":100}`), 7)
		res := s.apply(lockCmd(t, opRelease, "L", `{"owner":"b","token":3}`), 8)
		if bug != (res.Outcome == outcomeOK) {
			t.Fatalf("release-any=%v: someone else's release: %+v", bug, res)
		}
		if res := s.apply(lockCmd(t, opRelease, "L", `{"owner":"a","token":7}`), 9); bug == (res.Outcome == outcomeOK) {
			t.Fatalf("release-any=%v: the owner's release: %+v", bug, res)
		}
	}
}

func TestTheResourceRejectsStaleTokensUnlessNoFencing(t *testing.T) {
	for _, bug := range []bool{false, true} {
		s := newLockState()
		s.noFencing = bug
		s.apply(lockCmd(t, opFencedWrite, "L", `{"owner":"b","token":9,"value":2}`), 10)
		res := s.apply(lockCmd(t, opFencedWrite, "L", `{"owner":"a","token":7,"value":1}`), 11)
		if bug != (res.Outcome == outcomeOK) {
			t.Fatalf("no-fencing=%v: stale write: %+v", bug, res)
		}
		if res := s.apply(lockCmd(t, opFencedWrite, "L", `{"owner":"b","token":9,"value":3}`), 12); res.Outcome != outcomeOK {
			t.Fatalf("no-fencing=%v: a write with the highest token: %+v", bug, res)
		}
	}
}

func TestTheLeaderCountsALeaseFromItsApplyOrItsElection(t *testing.T) {
	var now int64
	lc := &leaseClock{now: func() int64 { return now }, started: map[string]int64{}}
	l := &lease{Owner: "a", Token: 7, Stamp: 7, TTLms: 100}
	ms := func(n int64) int64 { return n * int64(time.Millisecond) }
	// Leading in term 1 from time 0 (its first judgement), applied at 0.
	lc.expired("L", l, 1)
	lc.applied(&command{Op: opAcquire, Key: "L"}, result{Outcome: outcomeOK})
	now = ms(50)
	if got := lc.expired("L", l, 1); got != 0 {
		t.Fatalf("at 50ms of a 100ms lease: expired %d", got)
	}
	now = ms(101)
	if got := lc.expired("L", l, 1); got != 7 {
		t.Fatalf("at 101ms: expired %d, want stamp 7", got)
	}
	// A new term: the lease counts afresh from the moment this node leads.
	now = ms(150)
	if got := lc.expired("L", l, 2); got != 0 {
		t.Fatalf("new leader at 150ms: expired %d, want the lease honoured until 250ms", got)
	}
	now = ms(251)
	if got := lc.expired("L", l, 2); got != 7 {
		t.Fatalf("new leader at 251ms: expired %d", got)
	}
}

func TestASnapshotKeepsLocksAndResources(t *testing.T) {
	s := newKV()
	s.apply(lockCmd(t, opAcquire, "L", `{"owner":"a","ttl_ms":100}`), 7)
	s.apply(lockCmd(t, opFencedWrite, "L", `{"owner":"a","token":7,"value":1}`), 8)
	data, err := s.snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r := newKV()
	if err := r.restore(data); err != nil {
		t.Fatal(err)
	}
	if l := r.locks.Locks["L"]; l == nil || l.Owner != "a" || l.Token != 7 || r.locks.Resources["L"].MaxToken != 7 {
		t.Fatalf("restored %+v %+v", r.locks.Locks, r.locks.Resources)
	}
}

// Through real nodes: the leader judges the lease, tokens are grant
// indexes, and the resource fences a stale token.
func TestClusterLockLeaseAndFencing(t *testing.T) {
	c := newTestCluster(t, 3, testOptions())
	lead := c.leader()
	acq := func(owner string) systems.Op {
		return systems.Op{F: history.OpAcquire, Key: "L", Value: map[string]any{"owner": owner, "ttl_ms": 300}}
	}
	token := func(comp systems.Completion) uint64 {
		v, ok := comp.Value.(map[string]any)
		if !ok {
			t.Fatalf("grant value %v", comp.Value)
		}
		n, err := strconv.ParseUint(fmt.Sprint(v["token"]), 10, 64)
		if err != nil || v["owner"] != "a" && v["owner"] != "b" {
			t.Fatalf("grant value %v", v)
		}
		return n
	}
	ta := token(c.mustOK(lead, acq("a")))
	if comp := c.invoke(lead, acq("b")); comp.Type != history.Fail || !strings.Contains(comp.Error, "held by a") {
		t.Fatalf("b's acquire while a's lease runs: %s %s", comp.Type, comp.Error)
	}
	time.Sleep(350 * time.Millisecond) // a's 300 ms lease runs out
	tb := token(c.mustOK(lead, acq("b")))
	if tb <= ta {
		t.Fatalf("tokens a %d, b %d: want b's greater", ta, tb)
	}
	write := func(owner string, tok uint64, v int) systems.Completion {
		return c.invoke(lead, systems.Op{F: history.OpFencedWrite, Key: "L", Value: map[string]any{"owner": owner, "token": tok, "value": v}})
	}
	if comp := write("b", tb, 1); comp.Type != history.OK {
		t.Fatalf("b's write: %s %s", comp.Type, comp.Error)
	}
	if comp := write("a", ta, 2); comp.Type != history.Fail || !strings.Contains(comp.Error, "stale token") {
		t.Fatalf("a's stale write: %s %s", comp.Type, comp.Error)
	}
	rel := func(owner string, tok uint64) systems.Completion {
		return c.invoke(lead, systems.Op{F: history.OpRelease, Key: "L", Value: map[string]any{"owner": owner, "token": tok}})
	}
	if comp := rel("a", ta); comp.Type != history.Fail {
		t.Fatalf("a's release of b's lock: %s", comp.Type)
	}
	if comp := rel("b", tb); comp.Type != history.OK {
		t.Fatalf("b's release: %s %s", comp.Type, comp.Error)
	}
}
