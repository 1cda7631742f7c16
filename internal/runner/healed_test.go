package runner

import (
	"context"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/faultline/faultline/cluster"
)

func TestCheckHealedNamesWhatIsStillBroken(t *testing.T) {
	sys, d := newMemSystem()
	ctx := context.Background()
	c, err := cluster.Start(ctx, cluster.Spec{System: "mem", Nodes: 3, RunDir: t.TempDir(), Admin: sys}, d)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	log := slog.New(slog.DiscardHandler)
	if h := checkHealed(ctx, c, c.Nodes(), log); !h.LinksHealed || h.NodesUp != 3 || len(h.Down) != 0 {
		t.Fatalf("a healed cluster checks as %+v", h)
	}

	if err := c.Kill(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.SetClock(ctx, 3, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := c.SetLinkToxic(ctx, 1, 3, cluster.Toxic{Name: "link-latency", Type: "latency"}); err != nil {
		t.Fatal(err)
	}
	h := checkHealed(ctx, c, c.Nodes(), log)
	want := Healed{LinksHealed: false, LinkFaults: []string{"toxic link-latency n1->n3"}, NodesUp: 2, Nodes: 3, Down: []string{"n2"}}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("checkHealed = %+v, want %+v", h, want)
	}
	// n3's clock was skewed: checkHealed set it back to true time.
	if st, err := c.Status(ctx, 3); err != nil || st.ClockOffsetNS != 0 {
		t.Fatalf("n3 after checkHealed: %+v, %v; want its clock reset", st, err)
	}
}
