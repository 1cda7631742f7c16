// Package registry lists the systems faultline can test. Adding a system
// is one line here.
package registry

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/gossip"
	"github.com/faultline/faultline/systems/quorum"
	"github.com/faultline/faultline/systems/raft"
)

// Registry maps names to systems.
type Registry struct{ byName map[string]systems.System }

// Default returns a registry of every included system.
func Default() *Registry {
	r := &Registry{byName: map[string]systems.System{}}
	for _, s := range []systems.System{
		gossip.New(),
		quorum.New(),
		raft.New(),
	} {
		r.byName[s.Name()] = s
	}
	return r
}

// Get returns the named system or an error listing the valid names.
func (r *Registry) Get(name string) (systems.System, error) {
	if s, ok := r.byName[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("unknown system %q (valid: %s)", name, strings.Join(r.Names(), ", "))
}

// Names lists the registered systems, sorted.
func (r *Registry) Names() []string {
	return slices.Sorted(maps.Keys(r.byName))
}
