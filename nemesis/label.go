package nemesis

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/systems"
)

// maxLabel bounds a label: a band on a chart has room for a line, and a
// grudge over fifteen nodes would not fit one.
const maxLabel = 120

// Labels: what a step did, in words, for the history's Label. Each fault
// writes its own from the choice it acted on, so readers (the report's
// fault bands) never rebuild them from Value.

// partitionLabel is "halves: n1 n2 | n3 n4 n5" for a clean split, else the
// links cut, as "from… → to" for each node that stops hearing others.
func partitionLabel(kind string, ids []int, side []int, g cluster.Grudge) string {
	if side != nil {
		sides := components(ids, side)
		return clip(kind + ": " + strings.Join(sides[0], " ") + " | " + strings.Join(sides[1], " "))
	}
	var cuts []string
	for _, to := range slices.Sorted(maps.Keys(g)) {
		if from := g[to]; len(from) > 0 {
			cuts = append(cuts, strings.Join(names(from), " ")+"→"+systems.NodeName(to))
		}
	}
	return clip(kind + ": cut " + strings.Join(cuts, ", "))
}

// linkLabel says what the toxic does and where: "slow: 50±50 ms on 15
// links", "blackhole on 8 links of n3".
func linkLabel(ch Choice, links int) string {
	p := ch.Params
	var what string
	switch ch.Kind {
	case "latency", "slow":
		what = fmt.Sprintf("%s: %d±%d ms", ch.Kind, p["latency_ms"], p["jitter_ms"])
	case "bandwidth":
		what = fmt.Sprintf("bandwidth: %d KB/s", p["rate_kbps"])
	case "slicer":
		what = fmt.Sprintf("slicer: %d±%d-byte slices %d µs apart", p["average_size"], p["size_variation"], p["delay_us"])
	case "reset":
		what = fmt.Sprintf("reset: connections reset after %d ms", p["timeout_ms"])
	default:
		what = ch.Kind
	}
	where := fmt.Sprintf(" on %d links", links)
	if len(ch.Nodes) > 0 {
		where += " of " + strings.Join(names(ch.Nodes), " ")
	}
	return clip("link " + what + where)
}

// processLabel is "kill n2 n4 (minority)", "pause n3 (leader, found)".
func processLabel(action string, hit []int, target, how string) string {
	s := action + " " + strings.Join(names(hit), " ")
	if len(hit) == 0 {
		s = action + " nothing"
	}
	switch {
	case how != "":
		s += " (" + target + ", " + how + ")"
	case target != "":
		s += " (" + target + ")"
	}
	return clip(s)
}

// clockLabel is "clock bump: n2 +5m0s, n5 -300ms", and for a strobe its
// period and length.
func clockLabel(ch Choice) string {
	var parts []string
	for _, id := range ch.Nodes {
		d := time.Duration(ch.Offsets[id]) * time.Millisecond
		sign := "+"
		if d < 0 {
			sign = ""
		}
		parts = append(parts, systems.NodeName(id)+" "+sign+d.String())
	}
	s := "clock " + ch.Kind + ": " + strings.Join(parts, ", ")
	if ch.Kind == "strobe" {
		s += fmt.Sprintf(", flipping every %d ms for %d ms", ch.Params["period_ms"], ch.Params["duration_ms"])
	}
	return clip(s)
}

// losers are the nodes a grudge makes deaf to someone: the nodes a
// partition with no clean sides acts on.
func losers(g cluster.Grudge) []int {
	var out []int
	for to, from := range g {
		if len(from) > 0 {
			out = append(out, to)
		}
	}
	slices.Sort(out)
	return out
}

// linkEnds are the nodes at either end of links.
func linkEnds(links [][2]int) []int {
	set := map[int]bool{}
	for _, l := range links {
		set[l[0]], set[l[1]] = true, true
	}
	return slices.Sorted(maps.Keys(set))
}

func clip(s string) string {
	if len(s) <= maxLabel {
		return s
	}
	cut := maxLabel
	for cut > 0 && s[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}
