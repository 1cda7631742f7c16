// Package freeport picks loopback TCP ports for nodes to listen on later.
//
// A port taken with "listen on :0, close" comes from the kernel's ephemeral
// range, the same range outgoing connections draw their local ports from:
// between the close and the node's bind, any client socket on the machine
// (another test's HTTP client, a peer redialling) may take it. Ports below
// the ephemeral range are never handed to outgoing connections, so picking
// there, at random, and checking with a listen leaves only the race with
// another process doing the same. That race is closed by a reservation: an
// flock on a per-port file under the temp dir, held until Release (or the
// process dies, when the kernel drops it). A port can be free to bind and
// still reserved: a killed node's port, or a stopped container's, until it
// comes back; other faultline processes skip it.
package freeport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Low bound of the ports handed out: clear of the well-known and most
// registered service ports.
const lowPort = 20000

// lockDir holds one lock file per reserved port, shared by every faultline
// process of this user on the machine.
func lockDir() string { return filepath.Join(os.TempDir(), "faultline-ports") }

// Ports is a reservation of loopback ports.
type Ports struct {
	Addrs []string // "127.0.0.1:port"
	locks []*os.File
}

// Reserve returns n distinct loopback ports that were free when checked
// and that no other faultline process holds, reserved until Release.
func Reserve(n int) (*Ports, error) {
	hi := ephemeralLow()
	if hi-lowPort < 1000 {
		hi = lowPort + 10000
	}
	if err := os.MkdirAll(lockDir(), 0o777); err != nil {
		return nil, fmt.Errorf("freeport: %w", err)
	}
	p := &Ports{}
	seen := map[int]bool{}
	for tries := 0; len(p.Addrs) < n; tries++ {
		if tries > 50*n+100 {
			p.Release()
			return nil, fmt.Errorf("freeport: no free port found in [%d, %d) after %d tries", lowPort, hi, tries)
		}
		port := lowPort + rand.IntN(hi-lowPort)
		if seen[port] {
			continue
		}
		seen[port] = true
		lock, ok := tryLock(port)
		if !ok {
			continue
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			(&Ports{locks: []*os.File{lock}}).Release() // not ours to keep
			continue
		}
		ln.Close()
		p.Addrs = append(p.Addrs, addr)
		p.locks = append(p.locks, lock)
	}
	return p, nil
}

// tryLock takes the port's reservation without waiting.
func tryLock(port int) (*os.File, bool) {
	f, err := os.OpenFile(filepath.Join(lockDir(), strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	// Release unlinks the file before unlocking it; a lock taken on a file
	// unlinked meanwhile guards nothing.
	held, err1 := f.Stat()
	now, err2 := os.Stat(f.Name())
	if err1 != nil || err2 != nil || !os.SameFile(held, now) {
		f.Close()
		return nil, false
	}
	return f, true
}

// IsReserved reports whether some reservation (of any process) holds the
// port of addr ("host:port").
func IsReserved(addr string) bool {
	_, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return false
	}
	f, ok := tryLock(port)
	if !ok {
		return true
	}
	(&Ports{locks: []*os.File{f}}).Release()
	return false
}

// Release gives the ports back. It is safe to call more than once.
func (p *Ports) Release() error {
	var errs []error
	for _, f := range p.locks {
		// Unlink while still locked, so the directory does not fill up
		// and nobody locks this inode after us (see tryLock).
		if err := os.Remove(f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		errs = append(errs, f.Close()) // closing drops the flock
	}
	p.locks = nil
	return errors.Join(errs...)
}

// MustTake reserves n ports for a test, released when the test ends.
func MustTake(t interface {
	Helper()
	Fatal(...any)
	Cleanup(func())
}, n int) []string {
	t.Helper()
	p, err := Reserve(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Release() })
	return p.Addrs
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
