// Command faultline-node is the node-only program: it runs one node of an
// included system (the flags of `faultline node`), or with the first
// argument `toxiproxy` the Toxiproxy server of the mesh
// (`faultline-node toxiproxy --listen ADDR`). The docker runtime's
// containers run it; it links no Docker client, testcontainers or
// checker, so the image holds what a node needs and nothing more.
//
// Exit codes: 0 the node stopped because it was told to (SIGTERM, SIGINT,
// stdin closed under --parent-watch), 2 bad flags, 3 the node (or the
// proxy server) failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/faultline/faultline/cluster/mesh"
	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/nodecmd"
	"github.com/faultline/faultline/systems/registry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "toxiproxy" {
		return toxiproxy(ctx, args[1:], stderr)
	}
	return nodecmd.Main(ctx, registry.Default(), args, stderr)
}

// toxiproxy runs the mesh's Toxiproxy server until ctx ends.
func toxiproxy(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("faultline-node toxiproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8474", "address for Toxiproxy's HTTP API")
	if err := fs.Parse(args); err != nil {
		return exitcode.Usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "faultline-node toxiproxy: unexpected arguments %q\n", fs.Args())
		return exitcode.Usage
	}
	if err := mesh.ListenAndServe(ctx, *listen, stderr); err != nil {
		fmt.Fprintln(stderr, "faultline-node toxiproxy:", err)
		return exitcode.Unknown
	}
	return 0
}
