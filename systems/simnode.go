package systems

import (
	"math/rand/v2"
	"time"

	"github.com/faultline/faultline/systems/nodekit/simdisk"
)

// Simulated is implemented by a system whose protocol core can run inside
// faultline's deterministic simulator (package sim): no sockets, no
// goroutines, no wall clock. The simulator owns time, the network and the
// disks; a SimNode only reacts to what it is handed.
type Simulated interface {
	System
	// NewSimNode starts one node (again, after a crash) on cfg.Disk.
	NewSimNode(cfg SimConfig, env SimEnv) (SimNode, error)
}

// SimConfig is what one simulated node starts with.
type SimConfig struct {
	ID    int    // 1-based
	Name  string // "n1", ...
	Peers []int  // every other node's ID, sorted
	Bugs  []string
	// Workload names the workload the clients run (a system serving
	// several may store them differently).
	Workload string
	// Disk is the node's storage; it outlives the node across crashes.
	// What the node synced survives every crash; what it only wrote
	// survives a kill (page cache) but not a power loss.
	Disk *simdisk.Disk
	// Rand is the node's only source of randomness, seeded by the
	// simulation.
	Rand *rand.Rand
}

// HasBug reports whether the node runs with the named bug.
func (c SimConfig) HasBug(name string) bool {
	for _, b := range c.Bugs {
		if b == name {
			return true
		}
	}
	return false
}

// SimEnv is the simulated world as a node sees it.
type SimEnv interface {
	// Send hands msg to the simulated network for node to. The network
	// may delay, drop, duplicate or reorder it. msg must not be modified
	// after Send: a duplicate is the same value.
	Send(to int, msg any)
	// Now is the node's clock: simulated time since the run started.
	Now() time.Duration
}

// SimNode is one running simulated node. Every method is called from the
// simulation's single goroutine, and must not block.
type SimNode interface {
	// TickInterval is how often Tick is called.
	TickInterval() time.Duration
	Tick()
	// Deliver hands the node a message a peer sent.
	Deliver(from int, msg any)
	// Invoke starts a client operation. reply is called exactly once,
	// from Invoke or a later Tick or Deliver, unless the node crashes
	// first (the client then times out).
	Invoke(op Op, reply func(SimReply))
	// Leader reports whether the node believes it leads (for the leader
	// partition and kill targets); false for leaderless systems.
	Leader() bool
	// Members is the node's membership view (node name -> alive,
	// suspect or dead), as its admin status reports it; nil for systems
	// without a failure detector.
	Members() map[string]string
}

// SimReply is a node's answer to a simulated client operation.
type SimReply struct {
	Completion
	// Redirect, when Retry is set, says the operation did nothing on
	// this node: try again at the named node ("" for the same node after
	// a pause, as when no leader is known).
	Redirect string
	Retry    bool
}
