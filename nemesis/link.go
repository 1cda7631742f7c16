package nemesis

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// LinkKinds are the Toxiproxy toxics a link fault puts on links.
var LinkKinds = []string{"latency", "bandwidth", "slicer", "reset", "blackhole"}

var linkSummary = map[string]string{
	"latency":   "20-300ms latency with jitter on some links",
	"bandwidth": "4-64 KB/s bandwidth on some links",
	"slicer":    "bytes cut into tiny segments (1-16 bytes, delayed) on some links",
	"reset":     "connections reset by peer (TCP RST) soon after they open, on some links",
	"blackhole": "bytes silently dropped, connections left open (timeout 0), on some links",
}

// Defaults of the slow fault: slow enough to straddle many operations,
// fast enough that a correct system stays available.
const (
	DefaultSlowLatency = 50 * time.Millisecond
	DefaultSlowJitter  = 50 * time.Millisecond
)

// Link puts one Toxiproxy toxic of one of Kinds on a set of directed
// links, chosen per episode: either every link in and out of one node (a
// bad network card) or a random half of all links. Stop removes exactly
// those toxics.
//
// Toxicity is always 1. Toxiproxy rolls toxicity once per connection, not
// per packet, and nodes keep connections open for the whole run, so a
// toxicity of 0.5 would make some connections always toxic and the rest
// never, not half the packets late.
//
// "slow" is the fault that exposed quorum's no-write-back: three quarters
// of the links, latency 50ms ± 50ms. Mixed fast and slow links with a
// jitter as large as the latency stretch the moment when a write has
// reached some replicas but not a majority from microseconds to tens of
// milliseconds, long enough for other clients to see both sides of it.
type Link struct {
	Kinds []string

	name   string
	toxic  string
	active [][2]int
	aim    *Aim
}

func (l *Link) setAim(a *Aim) { l.aim = a }

// SlowMajorityLatency is the latency slow-majority puts on the links among
// the majority side: long enough that a new leader's first entries are
// still on the wire when figure8 kills their receivers, short enough
// (a round trip under the 150ms election timeout) that the side still
// elects.
const SlowMajorityLatency = 30 * time.Millisecond

func (l *Link) Name() string       { return nameOr(l.name, "link") }
func (*Link) Lane() string         { return LaneLink }
func (*Link) StartF() history.Func { return history.StartLink }
func (*Link) StopF() history.Func  { return history.StopLink }

func (l *Link) Choose(rng *rand.Rand, ids []int) Choice {
	kinds := orDefault(l.Kinds, LinkKinds)
	ch := Choice{Kind: kinds[rng.IntN(len(kinds))], Params: map[string]int64{}}
	if ch.Kind == "slow-majority" {
		ch.Params["latency_ms"], ch.Params["jitter_ms"] = SlowMajorityLatency.Milliseconds(), 0
		return ch
	}
	if ch.Kind == "slow" {
		for _, from := range ids {
			for _, to := range ids {
				if from != to && rng.IntN(4) != 0 { // keep a quarter of the links fast
					ch.Links = append(ch.Links, [2]int{from, to})
				}
			}
		}
		ch.Params["latency_ms"], ch.Params["jitter_ms"] = DefaultSlowLatency.Milliseconds(), DefaultSlowJitter.Milliseconds()
		return ch
	}
	if rng.IntN(2) == 0 {
		ch.Nodes = pickN(rng, ids, 1)
		for _, other := range ids {
			if other != ch.Nodes[0] {
				ch.Links = append(ch.Links, [2]int{ch.Nodes[0], other}, [2]int{other, ch.Nodes[0]})
			}
		}
	} else {
		for _, from := range ids {
			for _, to := range ids {
				if from != to && rng.IntN(2) == 0 {
					ch.Links = append(ch.Links, [2]int{from, to})
				}
			}
		}
		if len(ch.Links) == 0 && len(ids) > 1 {
			ch.Links = [][2]int{{ids[0], ids[1]}}
		}
	}
	switch ch.Kind {
	case "latency":
		lat := 20 + rng.Int64N(281)
		ch.Params["latency_ms"], ch.Params["jitter_ms"] = lat, lat/2+rng.Int64N(lat/2+1)
	case "bandwidth":
		ch.Params["rate_kbps"] = 4 + rng.Int64N(61)
	case "slicer":
		size := 1 + rng.Int64N(16)
		ch.Params["average_size"], ch.Params["size_variation"], ch.Params["delay_us"] = size, size/2, 10+rng.Int64N(191)
	case "reset":
		ch.Params["timeout_ms"] = rng.Int64N(1001)
	case "blackhole":
	}
	return ch
}

// toxicFor turns a choice into the toxic it puts on each link.
func toxicFor(ch Choice) (cluster.Toxic, error) {
	t := cluster.Toxic{Name: "link-" + ch.Kind}
	p := ch.Params
	switch ch.Kind {
	case "latency", "slow", "slow-majority":
		t.Type, t.Attributes = "latency", map[string]any{"latency": p["latency_ms"], "jitter": p["jitter_ms"]}
	case "bandwidth":
		t.Type, t.Attributes = "bandwidth", map[string]any{"rate": p["rate_kbps"]}
	case "slicer":
		t.Type, t.Attributes = "slicer", map[string]any{"average_size": p["average_size"], "size_variation": p["size_variation"], "delay": p["delay_us"]}
	case "reset":
		t.Type, t.Attributes = "reset_peer", map[string]any{"timeout": p["timeout_ms"]}
	case "blackhole":
		t.Type, t.Attributes = "timeout", map[string]any{"timeout": 0}
	default:
		return t, fmt.Errorf("unknown link fault kind %q (valid: %v, slow)", ch.Kind, LinkKinds)
	}
	return t, nil
}

func (l *Link) Start(ctx context.Context, c Cluster, ch Choice) (Action, error) {
	a := Action{F: l.StartF()}
	t, err := toxicFor(ch)
	if err != nil {
		return a, err
	}
	l.toxic, l.active = t.Name, l.active[:0]
	if ch.Kind == "slow-majority" && !ch.Pinned {
		ch.Links = nil
		if old, buddy, _ := l.aimed(); old > 0 {
			for _, from := range nodeIDs(c) {
				for _, to := range nodeIDs(c) {
					if from != to && from != old && from != buddy && to != old && to != buddy {
						ch.Links = append(ch.Links, [2]int{from, to})
					}
				}
			}
		}
	}
	var desc []string
	var errs []error
	for _, ln := range ch.Links {
		if err := c.SetLinkToxic(ctx, ln[0], ln[1], t); err != nil {
			errs = append(errs, fmt.Errorf("%s on %s: %w", t.Name, linkName(ln), err))
			continue
		}
		l.active = append(l.active, ln)
		desc = append(desc, linkName(ln))
	}
	a.Value = map[string]any{"kind": ch.Kind, "toxic": t.Type, "attributes": t.Attributes, "links": desc}
	a.Node = nodeField(linkEnds(l.active))
	if len(ch.Nodes) > 0 {
		a.Value["nodes"] = names(ch.Nodes)
		a.Node = nodeField(ch.Nodes)
	}
	a.Label = linkLabel(ch, len(l.active))
	return a, errors.Join(errs...)
}

func (l *Link) Stop(ctx context.Context, c Cluster) (Action, error) {
	var errs []error
	for _, ln := range l.active {
		if err := c.RemoveLinkToxic(ctx, ln[0], ln[1], l.toxic); err != nil {
			errs = append(errs, fmt.Errorf("remove %s from %s: %w", l.toxic, linkName(ln), err))
		}
	}
	a := Action{F: l.StopF(), Value: map[string]any{"toxic": l.toxic}, Node: nodeField(linkEnds(l.active)),
		Label: fmt.Sprintf("remove %s from %d links", l.toxic, len(l.active))}
	l.active = nil
	return a, errors.Join(errs...)
}

func (l *Link) aimed() (old, buddy, nu int) {
	if l.aim == nil {
		return 0, 0, 0
	}
	return l.aim.get()
}

func linkName(l [2]int) string { return systems.NodeName(l[0]) + "->" + systems.NodeName(l[1]) }
