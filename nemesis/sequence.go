package nemesis

import (
	"fmt"
	"time"
)

// Sequence is a named schedule of aimed steps, given on --nemesis like a
// fault. Its faults join the run's faults; its body runs again and again
// until the time limit.
type Sequence struct {
	Name    string
	Summary string
	// NeedsLeader: the sequence is about a leader, so a system without
	// leaders cannot run it (a usage error, not a silent no-op).
	NeedsLeader bool
	// Faults are the faults the body names.
	Faults []string
	// Body is one round of the sequence.
	Body func() Sched
}

// Sequences are the named sequences faultline ships.
func Sequences() []Sequence {
	return []Sequence{
		{
			Name: "figure8",
			Summary: "Raft's Figure 8: cut the leader off with one follower while it holds uncommitted entries, " +
				"let the majority elect a new leader over slowed links and kill the bystanders before its first " +
				"entries reach them, then isolate the new leader; restart the bystanders so the old side is " +
				"re-elected and re-replicates its old tail, and the moment its commit index moves cut the old side " +
				"off again, so the new leader and the bystanders elect over the tail",
			NeedsLeader: true,
			Faults:      []string{"partition-leader-plus-one", "slow-majority", "kill-rest", "partition-new-leader", "partition-old-side"},
			Body:        figure8,
		},
		{
			Name: "stale-leader",
			Summary: "give a stale node the chance to lead: isolate one node while the others commit writes, " +
				"then kill the leader and make the stale node the hub of the rest (it hears all, no two others " +
				"hear each other), so only it can gather votes (a vote without the log check elects it and its " +
				"log overwrites committed writes; a follower without the previous-entry check took appends at " +
				"the wrong place, and its log looks current); then heal",
			NeedsLeader: true,
			Faults:      []string{"partition-one", "kill-leader", "partition-hub"},
			Body:        staleLeader,
		},
		{
			Name: "lagging-follower",
			Summary: "count a lagging follower's acknowledgements: isolate one follower while the others commit, " +
				"heal it so the leader's appends reach it, cut the leader, it and just enough others for a bare " +
				"majority off from the rest so writes commit counting it, then kill that side but the follower and " +
				"heal: the follower and the rest elect (a follower without the previous-entry check took appends at " +
				"the wrong place and acknowledged entries it does not hold, so those writes vanish)",
			NeedsLeader: true,
			Faults:      []string{"partition-follower", "partition-lag-majority", "kill-lag-majority"},
			Body:        laggingFollower,
		},
		{
			Name: "strand-write",
			Summary: "strand writes on a minority: cut a minority off while clients write through it, kill it so " +
				"its coordinators never finish a write's second phase, heal and restart it: the new values sit " +
				"on the minority only, and reads from different majorities disagree unless reads write back",
			Faults: []string{"partition-halves", "kill-cut-side"},
			Body:   strandWrite,
		},
	}
}

// SequenceByName finds a named sequence.
func SequenceByName(name string) (Sequence, bool) {
	for _, s := range Sequences() {
		if s.Name == Canonical(name) {
			return s, true
		}
	}
	return Sequence{}, false
}

// figure8 is one round of Raft's Figure 8 against a live cluster. With
// writes arriving every few milliseconds, a new leader replicates its
// first entry within a millisecond of winning, faster than any status
// poll; so the bystanders that elect it sit behind slowed links and die
// before its entries reach them, leaving its entries on it alone. The old
// side (the old leader and its follower, holding the old uncommitted
// tail) is re-elected with the restarted bystanders and re-replicates the
// tail; the moment its commit index moves (the tail counted as committed
// by the commit-previous-term bug, and its writes acknowledged), the old
// side is cut off again, so the majority is the new leader and the
// bystanders, which hold the tail but nothing newer: the new leader, its
// own-term entry the most up to date, wins and overwrites the tail. A
// correct leader never counts the tail as committed before an entry of
// its own term, and once one is on a majority the new leader cannot win.
func figure8() Sched {
	return Seq(
		Until("leader", 5*time.Second),
		StartFault("partition-leader-plus-one", nil),
		StartFault("slow-majority", nil),
		Until("new-leader", 5*time.Second),
		StartFault("kill-rest", nil),
		// The new leader, still leading until it misses a quorum for an
		// election timeout, takes writes of its term that nobody else has.
		SleepFor(150*time.Millisecond),
		StartFault("partition-new-leader", nil),
		StopFault("slow-majority"),
		StopFault("kill-rest"),
		Until("old-side-commits", 3*time.Second),
		StartFault("partition-old-side", nil),
		SleepFor(1500*time.Millisecond),
		StopFault("partition-old-side"),
		StopFault("partition-new-leader"),
		StopFault("partition-leader-plus-one"),
		SleepFor(time.Second),
	)
}

// staleLeader's hub holds for ten or so election timeouts: a correct
// cluster elects no one meanwhile (the hub's log is behind, the others
// cannot reach a majority), a buggy one elects the hub within the first.
func staleLeader() Sched {
	return Seq(
		Until("leader", 5*time.Second),
		StartFault("partition-one", nil),
		SleepFor(1500*time.Millisecond),
		StopFault("partition-one"),
		StartFault("kill-leader", nil),
		StartFault("partition-hub", nil),
		SleepFor(time.Second),
		StopFault("partition-hub"),
		StopFault("kill-leader"),
		SleepFor(time.Second),
	)
}

// laggingFollower is one round against a follower that acknowledges
// appends it put at the wrong index. A correct follower that acknowledged
// the writes of the bare majority holds them, so it is the most up to
// date once the rest of that majority dies, and it wins; a buggy one has a
// shorter log than the nodes that were cut off, and one of them wins
// without those writes.
func laggingFollower() Sched {
	// Twice a round: whether the leader's appends reach the healed
	// follower before a heartbeat sends the leader back to probing is a
	// race, and a round chosen from the default mix should count.
	return Times(2, Seq(
		Until("leader", 5*time.Second),
		StartFault("partition-follower", nil),
		SleepFor(1500*time.Millisecond),
		StopFault("partition-follower"),
		SleepFor(300*time.Millisecond),
		StartFault("partition-lag-majority", nil),
		SleepFor(800*time.Millisecond),
		StartFault("kill-lag-majority", nil),
		StopFault("partition-lag-majority"),
		SleepFor(1500*time.Millisecond),
		StopFault("kill-lag-majority"),
		SleepFor(time.Second),
	))
}

// strandWrite's kill acts on the side its partition cut off (cut-side).
func strandWrite() Sched {
	return Seq(
		StartFault("partition-halves", nil),
		SleepFor(time.Second),
		StartFault("kill-cut-side", nil),
		StopFault("partition-halves"),
		SleepFor(200*time.Millisecond),
		StopFault("kill-cut-side"),
		SleepFor(2*time.Second),
	)
}

// SequencePlan is the plan of a run given sequences and plain faults: the
// sequences' rounds, one at a time, interleaved with episodes of the plain
// faults (each round picks one at random).
func SequencePlan(seqs []Sequence, plain []string, interval time.Duration) (Sched, error) {
	var rounds []Sched
	for _, s := range seqs {
		rounds = append(rounds, s.Body())
	}
	for _, f := range plain {
		rounds = append(rounds, Seq(Episode(f, interval), SleepFor(interval/2)))
	}
	if len(rounds) == 0 {
		return Sched{}, fmt.Errorf("no sequence or fault to plan")
	}
	return Forever(OneOf(rounds...)), nil
}
