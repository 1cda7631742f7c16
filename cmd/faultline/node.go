package main

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/clock"
	"github.com/faultline/faultline/systems/registry"
)

func newNodeCmd(stderr io.Writer) *cobra.Command {
	var (
		cfg         systems.NodeConfig
		peers       []string
		parentWatch bool
	)
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run one node of a system (what the runtime starts; rarely run by hand)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sys, err := registry.Default().Get(cfg.System)
			if err != nil {
				return usageErr("%v", err)
			}
			if err := systems.CheckBugs(sys, cfg.Bugs); err != nil {
				return usageErr("%v", err)
			}
			if cfg.ID < 1 {
				return usageErr("--id must be at least 1, got %d", cfg.ID)
			}
			if cfg.PeerListen == "" || cfg.ClientListen == "" || cfg.AdminListen == "" || cfg.DataDir == "" {
				return usageErr("--peer-listen, --client-listen, --admin-listen and --data-dir are required")
			}
			cfg.Peers, err = systems.ParsePeers(peers)
			if err != nil {
				return usageErr("%v", err)
			}
			switch cfg.Storage {
			case systems.StorageDurable, systems.StorageLazy:
			default:
				return usageErr("--storage %q: want %s or %s", cfg.Storage, systems.StorageDurable, systems.StorageLazy)
			}
			cfg.Name = systems.NodeName(cfg.ID)
			cfg.Clock = clock.New()
			cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil)).With("node", cfg.Name)
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			if parentWatch {
				// The runtime holds our stdin open; EOF means the harness
				// is gone, however it died.
				go func() {
					_, _ = io.Copy(io.Discard, os.Stdin)
					cfg.Logger.Warn("stdin closed: the harness is gone, stopping")
					cancel()
				}()
			}
			cfg.Logger.Info("node starting", "system", cfg.System, "bugs", cfg.Bugs, "peers", cfg.Peers)
			if err := sys.RunNode(ctx, cfg); err != nil && ctx.Err() == nil {
				return &exitError{code: exitUnknown, err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.System, "system", "", "system to run")
	f.IntVar(&cfg.ID, "id", 0, "node ID (1-based)")
	f.StringVar(&cfg.PeerListen, "peer-listen", "", "address for peer RPC")
	f.StringVar(&cfg.ClientListen, "client-listen", "", "address for the client API")
	f.StringVar(&cfg.AdminListen, "admin-listen", "", "address for the admin API")
	f.StringArrayVar(&peers, "peer", nil, "ID=HOST:PORT to reach peer ID at (repeatable)")
	f.StringVar(&cfg.DataDir, "data-dir", "", "directory for this node's durable state")
	f.StringArrayVar(&cfg.Bugs, "bug", nil, "named bug to switch on (repeatable)")
	f.StringVar(&cfg.Storage, "storage", systems.StorageDurable, "what happens to un-fsynced writes: durable (the OS keeps them) or lazy (lost on SIGKILL, like a power cut)")
	f.BoolVar(&parentWatch, "parent-watch", false, "exit when stdin reaches EOF (the runtime's parent-death pipe)")
	return cmd
}
