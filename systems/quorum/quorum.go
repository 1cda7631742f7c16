// Package quorum is an ABD replicated register store: every node is both a
// replica and a coordinator, keys are independent multi-writer registers,
// and a majority of replicas must answer each phase of an operation.
//
// The protocol core (tag.go, round.go) is pure: a Round takes replies and
// says what to send next. node.go wraps it with HTTP transport and
// durable storage; client.go is the harness's client.
package quorum

import (
	"context"
	"fmt"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/included"
)

// BugNoWriteBack names the bug where a read skips its write-back phase.
const BugNoWriteBack = "no-write-back"

// system is the harness's view of the store: included.System (admin
// endpoint, lazy storage, the description below) plus nodes and clients.
type system struct{ included.System }

// New returns the quorum system.
func New() systems.System { return system{included.New(about())} }

func about() included.About {
	return included.About{
		Name:      "quorum",
		Summary:   "ABD quorum-replicated multi-writer registers: majority reads with write-back, tagged majority writes, fsynced replicas",
		MinNodes:  3,
		Workloads: map[string][]history.Func{"register": {history.OpRead, history.OpWrite}},
		Bugs: []systems.Bug{{
			Name: BugNoWriteBack,
			Description: "A read returns the newest value of a majority without writing it back to a majority. " +
				"Breaks linearizability: while a write is only partly applied, one read can return its value " +
				"and a later read, asking another majority, the older one. Exposed by slow links (--nemesis slow), " +
				"which hold a write on a minority for tens of milliseconds; partitions and kills expose it only " +
				"when they land inside a write's store phase, which on loopback is rare.",
		}},
	}
}

// AimedSequences: a write stranded on a minority is what read write-back
// is for.
func (system) AimedSequences() []string { return []string{"strand-write"} }

var _ systems.Aimed = system{}

func (system) RunNode(ctx context.Context, cfg systems.NodeConfig) error {
	return runNode(ctx, cfg, defaultNodeOptions())
}

func (system) NewClient(c systems.ClientConfig) (systems.Client, error) {
	if c.Workload != "register" {
		return nil, fmt.Errorf("quorum: no client for workload %q (serves: register)", c.Workload)
	}
	return newClient(defaultClientTimeout), nil
}
