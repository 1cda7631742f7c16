package runner

import (
	"fmt"
	"path/filepath"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/store"
	"github.com/faultline/faultline/nemesis"
)

// LoadReplay reads the test of a stored run dir for running it again: the
// same configuration, seed and fault schedule. Targets the original run
// chose from its cluster's state (the leader) are pinned as its history
// recorded them, so the replay hits the same nodes rather than whichever
// node leads this time. A run whose history is missing or cut short is
// replayed with what it recorded (unrecorded leader targets are chosen
// again). Bad or missing test.json is a *exitcode.ConfigError.
func LoadReplay(dir string) (Test, error) {
	var t Test
	if err := store.ReadJSON(dir, store.TestFile, &t); err != nil {
		return t, &exitcode.ConfigError{Err: fmt.Errorf("replay %s: %w", dir, err)}
	}
	if t.System == "" {
		return t, &exitcode.ConfigError{Err: fmt.Errorf("replay %s: test.json names no system", dir)}
	}
	// Whatever the history holds is used; a damaged or missing one only
	// leaves leader targets to be chosen again.
	events, _ := history.ReadFile(filepath.Join(dir, store.HistoryFile))
	t.Schedule = nemesis.Pin(t.Schedule, events)
	// "results/latest" moves with the next run: record what it pointed at.
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	t.ReplayOf = dir
	return t, nil
}
