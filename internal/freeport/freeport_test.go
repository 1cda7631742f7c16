package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestTakeGivesDistinctBindablePortsBelowTheEphemeralRange(t *testing.T) {
	addrs := MustTake(t, 20)
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] {
			t.Fatalf("%s handed out twice", a)
		}
		seen[a] = true
		_, ps, _ := net.SplitHostPort(a)
		p, _ := strconv.Atoi(ps)
		if p < lowPort || p >= ephemeralLow() {
			t.Fatalf("port %d outside [%d, %d)", p, lowPort, ephemeralLow())
		}
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("cannot bind %s: %v", a, err)
		}
		ln.Close()
	}
}
