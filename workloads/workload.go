// Package workloads holds what clients do during a run. A workload pairs a
// seeded operation generator with the checkers that judge its history.
package workloads

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/systems"
)

// Generator hands out operations. Implementations are safe for concurrent
// use by the run's workers.
type Generator interface {
	Next() systems.Op
	// Keys returns every key handed out so far, for final reads.
	Keys() []string
}

// Options tune a workload for one run.
type Options struct {
	Seed        uint64
	Concurrency int
	// Functions are the operation names the system's client supports for
	// this workload; the generator uses only those.
	Functions []history.Func
	// CheckTimeout bounds the checkers; past it they say unknown.
	CheckTimeout time.Duration
	// NoArtifacts asks the checkers for verdicts only: no visualizations
	// (a caller that keeps no files, or judges many prefixes).
	NoArtifacts bool
}

// Workload is one kind of client activity.
type Workload interface {
	Name() string
	Summary() string
	NewGenerator(o Options) Generator
	Checkers(o Options) []checkers.Checker
}

// Validator is implemented by workloads that can tell a history they
// cannot judge at all (malformed, foreign operations) from one that is
// merely inconsistent; `faultline check` maps its error to exit code 2.
type Validator interface {
	Validate(events []history.Event) error
}

// Registry maps names to workloads.
type Registry struct{ byName map[string]Workload }

// Default returns a registry of every workload faultline ships.
func Default() *Registry {
	r := &Registry{byName: map[string]Workload{}}
	for _, w := range []Workload{Counter(), LockWorkload(), LWW(), Register{}, Set()} {
		r.byName[w.Name()] = w
	}
	return r
}

// Get returns the named workload or an error listing the valid names.
func (r *Registry) Get(name string) (Workload, error) {
	if w, ok := r.byName[name]; ok {
		return w, nil
	}
	return nil, fmt.Errorf("unknown workload %q (valid: %s)", name, strings.Join(r.Names(), ", "))
}

// Names lists the registered workloads, sorted.
func (r *Registry) Names() []string {
	return slices.Sorted(maps.Keys(r.byName))
}

// newRand makes the generator's random source from the run seed; a fixed
// stream tag keeps it apart from the nemesis's stream of the same seed.
func newRand(seed uint64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

func has(fs []history.Func, f history.Func) bool { return slices.Contains(fs, f) }
