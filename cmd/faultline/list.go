package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/history"
	"github.com/faultline/faultline/nemesis"
	"github.com/faultline/faultline/systems/registry"
	"github.com/faultline/faultline/workloads"
)

func newListCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List systems (their workloads and named bugs), workloads and faults",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			reg := registry.Default()
			fmt.Fprintln(stdout, "Systems:")
			for _, name := range reg.Names() {
				s, _ := reg.Get(name)
				fmt.Fprintf(stdout, "  %s — %s (at least %d nodes)\n", s.Name(), s.Summary(), s.MinNodes())
				ws := s.Workloads()
				names := make([]string, 0, len(ws))
				for w := range ws {
					names = append(names, w)
				}
				sort.Strings(names)
				for _, w := range names {
					fmt.Fprintf(stdout, "    workload %s: %s\n", w, joinFuncs(ws[w]))
				}
				for _, b := range s.Bugs() {
					fmt.Fprintf(stdout, "    bug %s: %s\n", b.Name, b.Description)
				}
			}
			fmt.Fprintln(stdout, "Workloads:")
			wr := workloads.Default()
			for _, name := range wr.Names() {
				w, _ := wr.Get(name)
				fmt.Fprintf(stdout, "  %s — %s\n", name, w.Summary())
			}
			fmt.Fprintln(stdout, "Faults (--nemesis; a family picks a member at random each time; family:member = family-member):")
			fmt.Fprintf(stdout, "  all — every family: %s\n", strings.Join(nemesis.Families, ", "))
			fmt.Fprintln(stdout, "  none — no faults")
			for _, e := range nemesis.Default().Entries() {
				indent := "  "
				if e.Name != e.Family {
					indent = "    "
				}
				fmt.Fprintf(stdout, "%s%s — %s\n", indent, e.Name, e.Summary)
			}
			fmt.Fprintln(stdout, "Sequences (--nemesis; aimed steps that wait on the cluster's state, repeated until the time limit):")
			for _, s := range nemesis.Sequences() {
				needs := ""
				if s.NeedsLeader {
					needs = " [needs a system with a leader]"
				}
				fmt.Fprintf(stdout, "  %s — %s%s\n", s.Name, s.Summary, needs)
			}
			fmt.Fprintf(stdout, "Wait conditions of schedules (until): %s\n", strings.Join(nemesis.Conditions, ", "))
			return nil
		},
	}
}

func joinFuncs(fs []history.Func) string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return strings.Join(out, ", ")
}
