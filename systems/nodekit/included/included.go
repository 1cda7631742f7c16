// Package included is what the harness views of the included systems
// (quorum, raft, gossip) share: their nodes serve faultline's admin
// endpoint and honour lazy storage, and what they are — name, summary,
// workloads, named bugs, smallest cluster — is data.
package included

import (
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/admin"
)

// About describes an included system.
type About struct {
	Name, Summary string
	MinNodes      int
	// Workloads maps each workload the system's client serves to the
	// operations it offers for it.
	Workloads map[string][]history.Func
	Bugs      []systems.Bug
}

// System answers the descriptive half of systems.System from an About,
// and the admin half through faultline's admin endpoint. An included
// system embeds it and adds how to run a node and make a client.
type System struct {
	admin.Endpoint
	about About
}

// New returns the view of the system a describes.
func New(a About) System { return System{about: a} }

func (s System) Name() string                         { return s.about.Name }
func (s System) Summary() string                      { return s.about.Summary }
func (s System) Bugs() []systems.Bug                  { return s.about.Bugs }
func (s System) Workloads() map[string][]history.Func { return s.about.Workloads }
func (s System) MinNodes() int                        { return s.about.MinNodes }

// LazyStorage is true: every included node's storage honours
// NodeConfig.Storage.
func (System) LazyStorage() bool { return true }
