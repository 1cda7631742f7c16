package runner

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/faultline/faultline/cluster"
	"github.com/faultline/faultline/systems"
)

// healCluster answers what checkHealed asks; the rest of Cluster is nil.
type healCluster struct {
	cluster.Cluster
	down   map[int]bool
	skewed map[int]bool
	faults []string
	reset  []int
}

func (c *healCluster) Status(_ context.Context, id int) (systems.Status, error) {
	if c.down[id] {
		return systems.Status{}, errors.New("connection refused")
	}
	st := systems.Status{Ready: true}
	if c.skewed[id] {
		st.ClockOffsetNS = int64(time.Minute)
	}
	return st, nil
}

func (c *healCluster) LinkFaults(context.Context) ([]string, error) { return c.faults, nil }

func (c *healCluster) SetClock(_ context.Context, id int, d time.Duration) error {
	if d == 0 {
		c.reset = append(c.reset, id)
	}
	return nil
}

func TestCheckHealedNamesWhatIsStillBroken(t *testing.T) {
	nodes := []systems.Endpoint{{ID: 1, Name: "n1"}, {ID: 2, Name: "n2"}, {ID: 3, Name: "n3"}}
	log := slog.New(slog.DiscardHandler)
	c := &healCluster{down: map[int]bool{2: true}, skewed: map[int]bool{3: true}, faults: []string{"toxic link-latency n1->n3"}}
	h := checkHealed(context.Background(), c, nodes, log)
	want := Healed{LinksHealed: false, LinkFaults: c.faults, NodesUp: 2, Nodes: 3, Down: []string{"n2"}}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("checkHealed = %+v, want %+v", h, want)
	}
	if !reflect.DeepEqual(c.reset, []int{3}) {
		t.Fatalf("clocks set back to true time: %v, want n3's only", c.reset)
	}
	c = &healCluster{}
	if h := checkHealed(context.Background(), c, nodes, log); !h.LinksHealed || h.NodesUp != 3 || len(h.Down) != 0 {
		t.Fatalf("a healed cluster checks as %+v", h)
	}
}
