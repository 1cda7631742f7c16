// Package registry looks systems up by name, for the CLI (`--system raft`)
// and for node processes, which are told the system's name on their
// command line. A system is a value: it is registered by handing it over,
// and faultline's own systems are registered exactly as a user's are.
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

// Registry maps names to systems. It is not changed after it is made.
type Registry struct{ byName map[string]systems.System }

// Builtins returns the systems faultline ships, fresh values each call.
func Builtins() []systems.System {
	return []systems.System{gossip.New(), quorum.New(), raft.New()}
}

// New returns a registry of sys. A nil system, an empty name or two
// systems of one name are an error.
func New(sys ...systems.System) (*Registry, error) {
	r := &Registry{byName: make(map[string]systems.System, len(sys))}
	for i, s := range sys {
		if s == nil {
			return nil, fmt.Errorf("registry: system %d is nil", i+1)
		}
		name := s.Name()
		if name == "" {
			return nil, fmt.Errorf("registry: system %d (%T) has an empty name", i+1, s)
		}
		if _, dup := r.byName[name]; dup {
			return nil, fmt.Errorf("registry: two systems are named %q", name)
		}
		r.byName[name] = s
	}
	return r, nil
}

// Default returns a registry of every included system.
func Default() *Registry {
	r, err := New(Builtins()...)
	if err != nil {
		panic(err) // the built-ins' names are fixed and distinct
	}
	return r
}

// With returns a new registry of r's systems and sys; a name taken twice
// is an error.
func (r *Registry) With(sys ...systems.System) (*Registry, error) {
	all := slices.Collect(maps.Values(r.byName))
	return New(append(all, sys...)...)
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
