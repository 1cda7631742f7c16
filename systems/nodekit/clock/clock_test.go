package clock

import (
	"testing"
	"time"
)

func TestOffsetShiftsNowAndDurations(t *testing.T) {
	c := New()
	before := c.Now()
	if d := before.Sub(time.Now()); d > time.Second || d < -time.Second {
		t.Fatalf("zero clock is %s away from real time", d)
	}
	c.SetOffset(-time.Hour)
	if got := c.Offset(); got != -time.Hour {
		t.Fatalf("Offset() = %s, want -1h", got)
	}
	// A step backwards must show in durations measured across it.
	if d := c.Since(before); d > -59*time.Minute {
		t.Fatalf("Since across a -1h step = %s, want about -1h", d)
	}
	if d := c.Now().Sub(time.Now()); d > -59*time.Minute || d < -61*time.Minute {
		t.Fatalf("offset clock is %s from real time, want about -1h", d)
	}
}
