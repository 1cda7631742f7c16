package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/cluster/docker"
	"github.com/faultline/faultline/internal/exitcode"
)

func newCleanCmd(stdout io.Writer) *cobra.Command {
	var opts docker.CleanOptions
	cmd := &cobra.Command{
		Use:   "clean",
		Short: "Remove Docker containers and networks left by harnesses that were killed",
		Long: `Remove every Docker container and network the docker runtime created (found by
their dev.faultline.* labels) whose harness no longer runs: a harness killed
with SIGKILL cannot remove its own. Those of harnesses still running are left
alone unless --all. Prints each thing removed; exit 3 when no Docker engine
answers or something could not be removed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			removed, kept, err := docker.Clean(cmd.Context(), opts)
			for _, r := range removed {
				fmt.Fprintf(stdout, "removed %s %s%s\n", r.Kind, r.Name, runOf(r))
			}
			for _, r := range kept {
				fmt.Fprintf(stdout, "kept %s %s%s: in use by a harness that still runs (--all removes it)\n", r.Kind, r.Name, runOf(r))
			}
			if len(removed) == 0 && len(kept) == 0 && err == nil {
				fmt.Fprintln(stdout, "nothing to clean")
			}
			if err != nil {
				return &exitError{code: exitcode.Unknown, err: err}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "also remove what harnesses that still run are using")
	cmd.Flags().BoolVar(&opts.Images, "images", false, "also remove faultline's node images (rebuilt when next needed)")
	return cmd
}

func runOf(r docker.Removed) string {
	if r.Run == "" {
		return ""
	}
	return " (run " + r.Run + ")"
}
