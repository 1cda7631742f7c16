// Package suitekit is what faultline's Ginkgo suites share: the suite's
// configuration from the environment, running one chaos test per spec with
// its cluster cleaned up by DeferCleanup, the specs generated from the
// catalog, and the summary table written after the suite.
//
// Environment (all optional):
//
//	FAULTLINE_RUNTIME   runtime for every run (default process; docker once it exists)
//	FAULTLINE_RESULTS   results directory (default <module root>/results)
//	FAULTLINE_SEED      seed of the scenario specs (default 1)
//	FAULTLINE_LABELS    label filter when Ginkgo is given none (default "short")
//	FAULTLINE_GATE_BUG  SYSTEM:BUG — switch a bug on in that system's scenario
//	                    specs, to prove the CI gate fails (never set it otherwise)
//	FAULTLINE_RUN_UNRELIABLE=1  run bug specs that random faults do not reliably expose
package suitekit

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/onsi/ginkgo/v2/types"
)

// Config is a suite's configuration, read from the environment.
type Config struct {
	Runtime    string
	ResultsDir string
	Seed       uint64
	// GateSystem and GateBug, when set, switch GateBug on in GateSystem's
	// scenario specs (FAULTLINE_GATE_BUG=SYSTEM:BUG).
	GateSystem, GateBug string
	RunUnreliable       bool

	root string // the module root, for showing paths relative to it
}

// FromEnv reads the configuration; a malformed variable is an error naming it.
func FromEnv() (Config, error) {
	c := Config{Runtime: "process", Seed: 1}
	if v := os.Getenv("FAULTLINE_RUNTIME"); v != "" {
		c.Runtime = v
	}
	root, err := moduleRoot()
	if err != nil {
		return c, err
	}
	c.root = root
	c.ResultsDir = os.Getenv("FAULTLINE_RESULTS")
	if c.ResultsDir == "" {
		c.ResultsDir = filepath.Join(root, "results")
	}
	if abs, err := filepath.Abs(c.ResultsDir); err == nil {
		c.ResultsDir = abs
	}
	if v := os.Getenv("FAULTLINE_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return c, fmt.Errorf("FAULTLINE_SEED=%q: want a non-negative integer", v)
		}
		c.Seed = s
	}
	if v := os.Getenv("FAULTLINE_GATE_BUG"); v != "" {
		sys, bug, ok := strings.Cut(v, ":")
		if !ok || sys == "" || bug == "" {
			return c, fmt.Errorf("FAULTLINE_GATE_BUG=%q: want SYSTEM:BUG, e.g. quorum:no-write-back", v)
		}
		c.GateSystem, c.GateBug = sys, bug
	}
	c.RunUnreliable = os.Getenv("FAULTLINE_RUN_UNRELIABLE") == "1"
	return c, nil
}

// moduleRoot is the nearest directory at or above the working directory
// holding a go.mod: go test runs a suite in its package dir, and results
// belong at the repository's top.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("suitekit: %w", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return dir, nil
		}
	}
}

// ShortByDefault returns c with FAULTLINE_LABELS, else "short", as its
// label filter when Ginkgo was given none: a bare `go test ./...` then runs
// only the specs that fit CI, and long or seeded-bug specs need a filter.
//
//	suiteConfig, reporterConfig := GinkgoConfiguration()
//	RunSpecs(t, "raft", suitekit.ShortByDefault(suiteConfig), reporterConfig)
func ShortByDefault(c types.SuiteConfig) types.SuiteConfig {
	if c.LabelFilter == "" {
		c.LabelFilter = os.Getenv("FAULTLINE_LABELS")
		if c.LabelFilter == "" {
			c.LabelFilter = "short"
		}
	}
	return c
}
