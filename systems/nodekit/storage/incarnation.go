package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/faultline/faultline/systems/nodekit/disk"
)

// NextIncarnation durably increments the counter kept in dir/INCARNATION and
// returns the new value: 1 on the first call for dir, then 2, 3, ... A node
// calls it once per start, so each life of the node has its own number
// (used, for instance, to keep its write tags unique across restarts).
func NextIncarnation(dir string) (uint64, error) {
	path := filepath.Join(dir, "INCARNATION")
	var n uint64
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return 0, fmt.Errorf("storage: read incarnation: %w", err)
	default:
		n, err = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("storage: parse %s: %w", path, err)
		}
	}
	n++
	// Write-then-rename keeps the old number if we crash halfway; a torn
	// file would otherwise stop the node from ever starting again.
	tmp := path + ".tmp"
	if err := disk.WriteFileSync(tmp, []byte(strconv.FormatUint(n, 10)+"\n"), disk.Durable); err != nil {
		return 0, fmt.Errorf("storage: write incarnation: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, fmt.Errorf("storage: write incarnation: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return 0, fmt.Errorf("storage: write incarnation: %w", err)
	}
	return n, nil
}
