package history

import "strings"

// Func names what an event did: a client operation (read, write …), a
// nemesis step (start-partition, kill …) or an observation (membership).
// Histories from other tools may use names of their own; the constants
// below are the ones faultline writes and its checkers and report know.
type Func string

// Client operations.
const (
	OpRead   Func = "read"   // invoke value nil; ok value: what was read (nil: absent)
	OpWrite  Func = "write"  // value: what is written
	OpCAS    Func = "cas"    // value: [expected, new]
	OpAdd    Func = "add"    // set: value the element; counter: value the delta
	OpRemove Func = "remove" // set: value the element
)

// Lock operations (the lock workload). Key is the lock's name; the lock
// guards a resource of the same name. Values are JSON objects: invoke
// {"owner", "ttl_ms"} for acquire, {"owner", "token", "ttl_ms"} for renew,
// {"owner", "token"} for release, {"owner", "token", "value"} for a fenced
// write. An ok acquire's completion adds "token", the fencing token of the
// grant; a failed acquire was refused (the lock is held), a failed fenced
// write was rejected by the resource (a stale token).
const (
	OpAcquire     Func = "acquire"
	OpRenew       Func = "renew"
	OpRelease     Func = "release"
	OpFencedWrite Func = "fenced-write"
)

// Nemesis steps (process -1). Each fault is a start step and a stop step;
// every step is an invoke followed by one info event whose Value holds the
// details, Node the nodes acted on (comma-separated) and, on a start, Label
// what the fault did in words.
const (
	StartPartition Func = "start-partition"
	StopPartition  Func = "stop-partition"
	StartLink      Func = "start-link"
	StopLink       Func = "stop-link"
	Kill           Func = "kill"
	Restart        Func = "restart"
	Pause          Func = "pause"
	Resume         Func = "resume"
	PowerLoss      Func = "power-loss"
	PowerRestore   Func = "power-restore"
	StartClock     Func = "start-clock"
	StopClock      Func = "stop-clock"
	// StartClientPause and StopClientPause stall and resume clients (Value
	// {"clients": [names]}): the harness's own clients, not nodes.
	StartClientPause Func = "start-client-pause"
	StopClientPause  Func = "stop-client-pause"
	// Recover is the end-of-run heal, restart and check. Its completion is
	// the moment every node was healthy again: what follows is the final
	// phase.
	Recover Func = "recover"
)

// Membership is an observation (process -2): one node's membership view,
// Value node -> alive|suspect|dead, Node the viewer.
const Membership Func = "membership"

// Wait is an observation (process -2): a nemesis schedule step that waited
// for a condition on the cluster's state (nemesis.Conditions); Value holds
// the condition, whether it was met and how long it took, Node the node it
// was about (the new leader …).
const Wait Func = "wait"

// Effect is what a fault does to the cluster, as far as a checker cares.
type Effect uint8

const (
	// Other is a fault of a foreign history, known only by its step names.
	Other Effect = iota
	// Network faults disturb links: partitions and link toxics.
	Network
	// NodesDown faults stop the nodes in Node (kill, pause, power loss);
	// the stop step brings them back.
	NodesDown
	// Clocks faults move node clocks.
	Clocks
	// Clients faults stall the harness's clients, not nodes.
	Clients
)

// Fault is a fault's pair of nemesis steps.
type Fault struct {
	Name        string // partition, link, kill, pause, power-loss, clock
	Start, Stop Func
	Effect      Effect
}

// faults are the fault steps faultline's nemesis records.
func faults() [7]Fault {
	return [...]Fault{
		{"partition", StartPartition, StopPartition, Network},
		{"link", StartLink, StopLink, Network},
		{"kill", Kill, Restart, NodesDown},
		{"pause", Pause, Resume, NodesDown},
		{"power-loss", PowerLoss, PowerRestore, NodesDown},
		{"clock", StartClock, StopClock, Clocks},
		{"client-pause", StartClientPause, StopClientPause, Clients},
	}
}

// FaultOf returns the fault f is a step of and whether f starts it. Besides
// faultline's own steps it knows the convention other tools follow,
// start-X and stop-X (fault X, effect Other). ok is false for anything
// else, Recover included.
func FaultOf(f Func) (fault Fault, start, ok bool) {
	for _, x := range faults() {
		switch f {
		case x.Start:
			return x, true, true
		case x.Stop:
			return x, false, true
		}
	}
	s := string(f)
	if name, found := strings.CutPrefix(s, "start-"); found && name != "" {
		return Fault{Name: name, Start: f, Stop: Func("stop-" + name)}, true, true
	}
	if name, found := strings.CutPrefix(s, "stop-"); found && name != "" {
		return Fault{Name: name, Start: Func("start-" + name), Stop: f}, false, true
	}
	return Fault{}, false, false
}

// Nodes splits an event's Node field (one node, or several comma-separated)
// into names.
func (e Event) Nodes() []string {
	var out []string
	for _, n := range strings.Split(e.Node, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}
