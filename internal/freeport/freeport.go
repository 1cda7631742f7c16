// Package freeport picks loopback TCP ports for nodes to listen on later.
//
// A port taken with "listen on :0, close" comes from the kernel's ephemeral
// range, the same range outgoing connections draw their local ports from:
// between the close and the node's bind, any client socket on the machine
// (another test's HTTP client, a peer redialling) may take it. Ports below
// the ephemeral range are never handed to outgoing connections, so picking
// there, at random, and checking with a listen leaves only the race with
// another process doing the same, which randomness makes rare.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Low bound of the ports handed out: clear of the well-known and most
// registered service ports.
const lowPort = 20000

// Take returns n distinct loopback addresses ("127.0.0.1:port") that were
// free when checked.
func Take(n int) ([]string, error) {
	hi := ephemeralLow()
	if hi-lowPort < 1000 {
		hi = lowPort + 10000
	}
	seen := map[int]bool{}
	var addrs []string
	for tries := 0; len(addrs) < n; tries++ {
		if tries > 50*n+100 {
			return nil, fmt.Errorf("freeport: no free port found in [%d, %d) after %d tries", lowPort, hi, tries)
		}
		p := lowPort + rand.IntN(hi-lowPort)
		if seen[p] {
			continue
		}
		seen[p] = true
		addr := "127.0.0.1:" + strconv.Itoa(p)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		addrs = append(addrs, addr)
	}
	return addrs, nil
}

// MustTake is Take for tests: it fails the test on error.
func MustTake(t interface {
	Helper()
	Fatal(...any)
}, n int) []string {
	t.Helper()
	addrs, err := Take(n)
	if err != nil {
		t.Fatal(err)
	}
	return addrs
}

// ephemeralLow is the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return lo
}
