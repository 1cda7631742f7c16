package nemesis

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/faultline/faultline/cluster"
)

// ParseGrudge reads a custom grudge for partition-grudge. Two forms:
//
//   - components: "n1,n2|n3,n4,n5" — the groups separated by | do not
//     hear each other; nodes named in no group keep every link;
//   - JSON: {"n1": ["n2", "n3"], "n2": ["n1"]} — node -> nodes whose
//     messages it does not hear (one-way where not mirrored), the
//     cluster.Grudge as data.
//
// Nodes are written n3 or 3. nodes is the cluster size, for checking.
func ParseGrudge(s string, nodes int) (cluster.Grudge, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("grudge: empty (want components like n1,n2|n3,n4,n5 or JSON like {\"n1\": [\"n2\"]})")
	}
	g := cluster.Grudge{}
	if strings.HasPrefix(s, "{") {
		var m map[string][]string
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("grudge: want JSON like {\"n1\": [\"n2\", \"n3\"]}: %w", err)
		}
		for to, froms := range m {
			t, err := parseNode(to, nodes)
			if err != nil {
				return nil, err
			}
			for _, f := range froms {
				id, err := parseNode(f, nodes)
				if err != nil {
					return nil, err
				}
				if id == t {
					return nil, fmt.Errorf("grudge: n%d cannot hold a grudge against itself", t)
				}
				if !slices.Contains(g[t], id) {
					g[t] = append(g[t], id)
				}
			}
			slices.Sort(g[t])
		}
	} else {
		var groups [][]int
		seen := map[int]bool{}
		for _, part := range strings.Split(s, "|") {
			var grp []int
			for _, name := range strings.Split(part, ",") {
				id, err := parseNode(name, nodes)
				if err != nil {
					return nil, err
				}
				if seen[id] {
					return nil, fmt.Errorf("grudge: n%d is in two groups", id)
				}
				seen[id] = true
				grp = append(grp, id)
			}
			groups = append(groups, grp)
		}
		if len(groups) < 2 {
			return nil, fmt.Errorf("grudge %q: want at least two groups separated by |", s)
		}
		for i, a := range groups {
			for j, b := range groups {
				if i != j {
					for _, x := range a {
						g[x] = append(g[x], b...)
					}
				}
			}
		}
		for id := range g {
			slices.Sort(g[id])
		}
	}
	if len(g) == 0 {
		return nil, fmt.Errorf("grudge %q cuts no link", s)
	}
	return g, nil
}

func parseNode(s string, nodes int) (int, error) {
	s = strings.TrimSpace(s)
	id, err := strconv.Atoi(strings.TrimPrefix(s, "n"))
	if err != nil || id < 1 || id > nodes {
		return 0, fmt.Errorf("grudge: node %q: want n1..n%d", s, nodes)
	}
	return id, nil
}
