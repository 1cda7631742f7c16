package systems

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Args renders c as the flags of `faultline node` (the inverse of
// ParsePeers plus the node command's flag parsing). Logger is not carried:
// a node logs to stderr, which the runtime sends to its log file.
func (c NodeConfig) Args() []string {
	args := []string{
		"--system", c.System,
		"--id", strconv.Itoa(c.ID),
		"--peer-listen", c.PeerListen,
		"--client-listen", c.ClientListen,
		"--admin-listen", c.AdminListen,
		"--data-dir", c.DataDir,
	}
	ids := make([]int, 0, len(c.Peers))
	for id := range c.Peers {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		args = append(args, "--peer", fmt.Sprintf("%d=%s", id, c.Peers[id]))
	}
	if c.Storage != "" {
		args = append(args, "--storage", c.Storage)
	}
	for _, b := range c.Bugs {
		args = append(args, "--bug", b)
	}
	return args
}

// ParsePeers parses --peer values of the form ID=HOST:PORT.
func ParsePeers(values []string) (map[int]string, error) {
	peers := make(map[int]string, len(values))
	for _, v := range values {
		idStr, addr, ok := strings.Cut(v, "=")
		id, err := strconv.Atoi(idStr)
		if !ok || err != nil || id < 1 || addr == "" {
			return nil, fmt.Errorf("bad --peer %q: want ID=HOST:PORT with ID >= 1", v)
		}
		if _, dup := peers[id]; dup {
			return nil, fmt.Errorf("bad --peer %q: peer %d given twice", v, id)
		}
		peers[id] = addr
	}
	return peers, nil
}
