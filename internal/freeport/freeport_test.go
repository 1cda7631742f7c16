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

func TestReservedPortsAreSkippedUntilReleased(t *testing.T) {
	p, err := Reserve(5)
	if err != nil {
		t.Fatal(err)
	}
	ports := make([]int, 0, len(p.Addrs))
	for _, a := range p.Addrs {
		_, ps, _ := net.SplitHostPort(a)
		port, _ := strconv.Atoi(ps)
		ports = append(ports, port)
		// Another reservation (flock is per open file, so this stands in
		// for another process) must not get it, though the port is free.
		if f, ok := tryLock(port); ok {
			f.Close()
			t.Fatalf("port %d locked twice", port)
		}
		if !IsReserved(a) {
			t.Fatalf("IsReserved(%s) = false while reserved", a)
		}
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	for _, a := range p.Addrs {
		if IsReserved(a) {
			t.Fatalf("IsReserved(%s) = true after Release", a)
		}
	}
	for _, port := range ports {
		f, ok := tryLock(port)
		if !ok {
			t.Fatalf("port %d still reserved after Release", port)
		}
		f.Close()
	}
}
