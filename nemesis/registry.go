package nemesis

import (
	"fmt"
	"strings"

	"github.com/faultline/faultline/cluster"
)

// How faults are named on --nemesis:
//
//   - a family (partition, link, kill, pause, clock, power-loss) picks a
//     member at random for each episode: every partition shape, every
//     link toxic, a default mix of targets;
//   - a member (partition-bridge, link-reset, clock-strobe, kill-leader …)
//     always does the same kind of thing; "family:member" is the same
//     name (partition:bridge, kill:leader);
//   - all is every family (partition-grudge needs a grudge, so it is only
//     ever named on its own);
//   - none alone means no faults.
//
// Process faults (kill, pause, power-loss) take a target as their member:
// one, minority, majority, leader or all nodes.

// Entry is one name --nemesis accepts, for listings.
type Entry struct {
	Name    string
	Family  string
	Summary string
	make    func(Options) (Fault, error)
}

// Options are what some faults need from the test besides the seed.
type Options struct {
	// Grudge is the custom grudge of partition-grudge.
	Grudge cluster.Grudge
}

// Registry maps names to faults.
type Registry struct {
	entries []Entry // in listing order
	byName  map[string]Entry
}

// Families are the fault families, in listing order; "all" is all of them.
var Families = []string{"partition", "link", "kill", "pause", "clock", "power-loss"}

// Default returns a registry of every fault faultline ships.
func Default() *Registry {
	r := &Registry{byName: map[string]Entry{}}
	add := func(name, family, summary string, mk func(Options) (Fault, error)) {
		e := Entry{Name: name, Family: family, Summary: summary, make: mk}
		r.entries = append(r.entries, e)
		r.byName[name] = e
	}
	part := func(name string, kinds ...string) func(Options) (Fault, error) {
		return func(Options) (Fault, error) { return &Partition{name: name, Kinds: kinds}, nil }
	}
	add("partition", "partition", "a partition of a random shape each time (every shape below but grudge)",
		part("partition", PartitionShapes...))
	for _, s := range PartitionShapes {
		add("partition-"+s, "partition", partitionSummary[s], part("partition-"+s, s))
	}
	for _, k := range []string{"old-side", "follower", "lag-majority", "hub"} {
		add("partition-"+k, "partition", partitionSummary[k], part("partition-"+k, k))
	}
	add("partition-grudge", "partition", "the custom grudge given with --grudge or --grudge-file",
		func(o Options) (Fault, error) {
			if len(o.Grudge) == 0 {
				return nil, fmt.Errorf("nemesis partition-grudge needs a grudge: give --grudge or --grudge-file")
			}
			return &Partition{name: "partition-grudge", Kinds: []string{"grudge"}, grudge: o.Grudge}, nil
		})

	link := func(name string, kinds ...string) func(Options) (Fault, error) {
		return func(Options) (Fault, error) { return &Link{name: name, Kinds: kinds}, nil }
	}
	add("link", "link", "a Toxiproxy toxic of a random kind each time on some links (every kind below)",
		link("link", LinkKinds...))
	for _, k := range LinkKinds {
		add("link-"+k, "link", linkSummary[k], link("link-"+k, k))
	}
	add("slow-majority", "link", "30ms latency on every link among the nodes outside the old leader's side (after a leader-plus-one cut; used by figure8)",
		func(Options) (Fault, error) {
			return &Link{name: "slow-majority", Kinds: []string{"slow-majority"}}, nil
		})
	add("slow", "link", "three quarters of the links get 50ms ± 50ms latency (the fault that exposes quorum's no-write-back)",
		func(Options) (Fault, error) { return &Link{name: "slow", Kinds: []string{"slow"}}, nil })

	for _, p := range []struct{ family, verb, what, defaults string }{
		{"kill", "kill", "SIGKILL, restarted on its data dir when the fault stops", "one, minority or leader"},
		{"pause", "pause", "SIGSTOP, SIGCONT when the fault stops", "one, minority or leader"},
		{"power-loss", "cut the power of", "lose power: SIGKILL at once with un-fsynced writes lost (nodes run with --storage lazy), restarted when the fault stops", "one, minority or all"},
	} {
		fam := p.family
		targets := defaultTargets[fam]
		add(fam, fam, fmt.Sprintf("%s: %s nodes, chosen at random each time", p.what, p.defaults),
			func(Options) (Fault, error) { return &Process{name: fam, Action: fam, Targets: targets}, nil })
		for _, t := range Targets {
			name := fam + "-" + t
			add(name, fam, fmt.Sprintf("%s %s", p.verb, targetSummary[t]),
				func(Options) (Fault, error) { return &Process{name: name, Action: fam, Targets: []string{t}}, nil })
		}
	}

	clk := func(name string, kinds ...string) func(Options) (Fault, error) {
		return func(Options) (Fault, error) { return &Clock{name: name, Kinds: kinds}, nil }
	}
	add("client-pause", "client-pause", "stall the clients holding a lock before their next operation until the fault stops (longer than the lock workload's leases); named on its own, not part of all",
		func(Options) (Fault, error) { return &ClientPause{}, nil })
	add("clock", "clock", "a clock fault of a random kind each time (bump, strobe or scramble)", clk("clock", ClockKinds...))
	for _, k := range ClockKinds {
		add("clock-"+k, "clock", clockSummary[k], clk("clock-"+k, k))
	}
	return r
}

// Entries lists every name, families first within each family.
func (r *Registry) Entries() []Entry { return r.entries }

// Names lists every accepted name in listing order.
func (r *Registry) Names() []string {
	out := make([]string, len(r.entries))
	for i, e := range r.entries {
		out[i] = e.Name
	}
	return out
}

// Family returns the family of a registry name (as Expand returns them),
// or "" for a name it does not hold.
func (r *Registry) Family(name string) string { return r.byName[name].Family }

// Canonical maps a name as a user may write it to the registry's name:
// "family:member" is "family-member". It does not check that it exists.
func Canonical(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if fam, member, ok := strings.Cut(name, ":"); ok {
		return fam + "-" + member
	}
	return name
}

// Expand turns a --nemesis list into registry names: "all" becomes every
// family, aliases become canonical names, "none" alone becomes nothing.
// Unknown and duplicate names are errors naming what is valid.
func (r *Registry) Expand(names []string) ([]string, error) {
	if len(names) == 1 && Canonical(names[0]) == "none" {
		return nil, nil
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		c := Canonical(n)
		var add []string
		switch _, ok := r.byName[c]; {
		case c == "all":
			add = Families
		case c == "none":
			return nil, fmt.Errorf("nemesis none cannot be combined with other faults")
		case ok:
			add = []string{c}
		case isSequence(c):
			seq, _ := SequenceByName(c)
			for _, f := range seq.Faults {
				if !seen[f] { // a sequence shares its faults with others
					out, seen[f] = append(out, f), true
				}
			}
			continue
		default:
			return nil, fmt.Errorf("unknown nemesis %q (valid: all, none, a family — %s — or a member such as partition-bridge, link-reset, kill:leader, clock-strobe; or a sequence: %s; faultline list names all %d)",
				n, strings.Join(Families, ", "), strings.Join(sequenceNames(), ", "), len(r.entries))
		}
		for _, a := range add {
			if seen[a] {
				return nil, fmt.Errorf("nemesis %q given twice", a)
			}
			seen[a] = true
			out = append(out, a)
		}
	}
	return out, nil
}

// Get returns a fresh fault for each name of Expand(names).
func (r *Registry) Get(names []string, opts Options) ([]Fault, error) {
	exp, err := r.Expand(names)
	if err != nil {
		return nil, err
	}
	var fs []Fault
	for _, n := range exp {
		f, err := r.byName[n].make(opts)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	return fs, nil
}

// NeedsLazyStorage reports whether any of faults is a power loss, which
// only loses data when nodes keep un-fsynced writes in memory.
func NeedsLazyStorage(faults []Fault) bool {
	for _, f := range faults {
		if p, ok := f.(*Process); ok && p.Action == "power-loss" {
			return true
		}
	}
	return false
}

func isSequence(name string) bool {
	_, ok := SequenceByName(name)
	return ok
}

func sequenceNames() []string {
	var out []string
	for _, s := range Sequences() {
		out = append(out, s.Name)
	}
	return out
}

// SplitSequences separates the sequences of a --nemesis list from the
// faults: it returns the named sequences and the other names as given.
func SplitSequences(names []string) (seqs []Sequence, plain []string) {
	for _, n := range names {
		if s, ok := SequenceByName(n); ok {
			seqs = append(seqs, s)
		} else {
			plain = append(plain, n)
		}
	}
	return seqs, plain
}
