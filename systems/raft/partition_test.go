package raft

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// holeProxy forwards TCP between two nodes like one mesh link: blocked, it
// swallows bytes both ways but keeps connections open; heal closes them
// all (the behaviour cluster/mesh documents for Toxiproxy).
type holeProxy struct {
	ln      net.Listener
	target  string
	blocked atomic.Bool
	mu      sync.Mutex
	conns   []net.Conn
}

func newHoleProxy(t testing.TB, target string) *holeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &holeProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.closeAll() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.DialTimeout("tcp", target, time.Second)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go p.pipe(c, up)
			go p.pipe(up, c)
		}
	}()
	return p
}

func (p *holeProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.blocked.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				dst.Close()
			}
			dst.Close()
			return
		}
	}
}

func (p *holeProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// meshCluster is a testCluster whose peer links go through holeProxies.
func meshCluster(t *testing.T, bugs ...string) (*testCluster, map[[2]int]*holeProxy) {
	c := newTestCluster(t, 3, testOptions())
	for id := range 3 {
		c.stop(id + 1)
	}
	proxies := map[[2]int]*holeProxy{}
	for i := 1; i <= 3; i++ {
		cfg := c.cfgs[i]
		cfg.Bugs = bugs
		for j := 1; j <= 3; j++ {
			if i != j {
				p := newHoleProxy(t, c.cfgs[j].PeerListen)
				proxies[[2]int{i, j}] = p
				cfg.Peers[j] = p.ln.Addr().String()
			}
		}
		c.cfgs[i] = cfg
	}
	for id := 1; id <= 3; id++ {
		c.start(id)
	}
	return c, proxies
}

func isolate(proxies map[[2]int]*holeProxy, id int, on bool) {
	for k, p := range proxies {
		if k[0] == id || k[1] == id {
			p.blocked.Store(on)
			if !on {
				p.closeAll()
			}
		}
	}
}

// A leader partitioned away steps down (check-quorum), the majority elects
// another, the old leader serves no stale read, and after healing it
// rejoins. With stale-local-read the old leader does serve the stale
// value.
func TestPartitionedLeader(t *testing.T) {
	for _, bug := range []string{"", BugStaleLocalRead} {
		name := "correct"
		var bugs []string
		if bug != "" {
			name, bugs = "bug "+bug, []string{bug}
		}
		t.Run(name, func(t *testing.T) {
			c, proxies := meshCluster(t, bugs...)
			old := c.leader()
			c.mustOK(old, systems.Op{F: "write", Key: "a", Value: 1})
			isolate(proxies, old, true)
			// leader() polls running nodes: hide the old one meanwhile.
			cancelOld := c.cancels[old]
			delete(c.cancels, old)
			lead := c.leader()
			c.cancels[old] = cancelOld
			if lead == old {
				t.Fatalf("isolated n%d still leads the majority", old)
			}
			c.mustOK(lead, systems.Op{F: "write", Key: "a", Value: 2})
			c.waitFor(5*time.Second, "the isolated leader to step down", func() bool {
				st, err := c.status(old)
				return err == nil && st.Role != "leader"
			})
			comp := c.invoke(old, systems.Op{F: "read", Key: "a"})
			stale := comp.Type == history.OK && valueOf(comp) == "1"
			if bug == "" && comp.Type == history.OK {
				t.Fatalf("the isolated old leader answered a read: %s", valueOf(comp))
			}
			if bug != "" && !stale {
				t.Fatalf("with %s the isolated node should serve the stale 1; got %s %s %s", bug, comp.Type, valueOf(comp), comp.Error)
			}
			isolate(proxies, old, false)
			c.waitFor(5*time.Second, "the old leader to rejoin", func() bool {
				st, err := c.status(old)
				return err == nil && st.Leader == systems.NodeName(lead)
			})
			// (With the bug the old node reads locally: wait for it to
			// catch up.)
			c.waitFor(5*time.Second, "a read through the old leader to see 2", func() bool {
				comp := c.invoke(old, systems.Op{F: "read", Key: "a"})
				return comp.Type == history.OK && valueOf(comp) == "2"
			})
		})
	}
}
