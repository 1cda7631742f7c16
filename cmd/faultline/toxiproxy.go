package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/cluster/mesh"
	"github.com/faultline/faultline/internal/exitcode"
)

func newToxiproxyCmd(stderr io.Writer) *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:   "toxiproxy",
		Short: "Run a Toxiproxy server with faultline's partition gates (as the docker runtime's proxy container does)",
		Long: `Run the pinned Toxiproxy server with its HTTP API on --listen, with faultline's
partition gate toxic type (faultline_gate) registered and one extra endpoint,
/faultline/gates, through which the harness partitions without waiting on
stuck receivers. The docker runtime's proxy container runs the same server
(faultline-node toxiproxy); it stops on SIGINT or SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := mesh.ListenAndServe(cmd.Context(), listen, stderr); err != nil {
				return &exitError{code: exitcode.Unknown, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8474", "address for Toxiproxy's HTTP API")
	return cmd
}
