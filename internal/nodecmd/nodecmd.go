// Package nodecmd is the `faultline node` command: flags to a
// systems.NodeConfig, then the system's RunNode. It lives outside package
// main so that any binary can serve as a node — the CLI, and test binaries
// that re-execute themselves (see faultline.RunNodeIfChild).
package nodecmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/systems"
	"github.com/faultline/faultline/systems/nodekit/clock"
	"github.com/faultline/faultline/systems/registry"
)

// Command returns the node command, which runs the systems of reg. Bad flags are *exitcode.ConfigError
// (exit 2); a node that fails while running is *exitcode.ClusterError (exit 3).
func Command(reg *registry.Registry, stderr io.Writer) *cobra.Command {
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
			sys, err := reg.Get(cfg.System)
			if err != nil {
				return usageErr(err)
			}
			inproc, ok := sys.(systems.InProcess)
			if !ok {
				return usageErr(fmt.Errorf("system %s runs nodes as a program of its own, not through the node command", cfg.System))
			}
			if err := systems.CheckBugs(sys, cfg.Bugs); err != nil {
				return usageErr(err)
			}
			if cfg.ID < 1 {
				return usageErr(fmt.Errorf("--id must be at least 1, got %d", cfg.ID))
			}
			if cfg.PeerListen == "" || cfg.ClientListen == "" || cfg.AdminListen == "" || cfg.DataDir == "" {
				return usageErr(errors.New("--peer-listen, --client-listen, --admin-listen and --data-dir are required"))
			}
			cfg.Peers, err = systems.ParsePeers(peers)
			if err != nil {
				return usageErr(err)
			}
			switch cfg.Storage {
			case systems.StorageDurable, systems.StorageLazy:
			default:
				return usageErr(fmt.Errorf("--storage %q: want %s or %s", cfg.Storage, systems.StorageDurable, systems.StorageLazy))
			}
			cfg.Name = systems.NodeName(cfg.ID)
			cfg.Clock = clock.New()
			// Log lines carry the node's clock, skewed or not, as a real
			// machine's logs would.
			clk := cfg.Clock
			cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{
				ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
					if len(groups) == 0 && a.Key == slog.TimeKey {
						a.Value = slog.TimeValue(clk.Now())
					}
					return a
				},
			})).With("node", cfg.Name)
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
			if err := inproc.RunNode(ctx, cfg); err != nil && ctx.Err() == nil {
				return &exitcode.ClusterError{Err: fmt.Errorf("node %s: %w", cfg.Name, err)}
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

func usageErr(err error) error { return &exitcode.ConfigError{Err: err} }

// Main runs the node command of reg's systems with args (the flags, without "node") and
// returns the process exit code: 0 when the node stopped because ctx
// ended or its parent went away, 2 for bad flags, 3 when the node failed.
func Main(ctx context.Context, reg *registry.Registry, args []string, stderr io.Writer) int {
	cmd := Command(reg, stderr)
	cmd.SetArgs(args)
	cmd.SetErr(stderr)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "faultline node:", err)
	var cl *exitcode.ClusterError
	if errors.As(err, &cl) {
		return exitcode.Unknown
	}
	return exitcode.Usage // a *exitcode.ConfigError, or cobra rejected a flag
}
