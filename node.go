package faultline

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/faultline/faultline/internal/nodecmd"
)

// NodeArg is the first argument that makes a binary which called
// RunNodeIfChild run as a cluster node instead of doing its usual job.
const NodeArg = "__faultline_node__"

// BinEnv names a faultline binary to run nodes with, for programs that
// cannot call RunNodeIfChild.
const BinEnv = "FAULTLINE_BIN"

// nodeHook records that this binary can serve as a node. It is set once,
// from TestMain or main, before any run starts.
var nodeHook atomic.Bool

// RunNodeIfChild makes this binary double as a cluster node. Call it first
// in TestMain (or main): in a process the harness started as a node it runs
// the node and exits; otherwise it returns at once, and Run will start
// nodes by re-executing this binary. A test binary then needs nothing
// built or installed beside it, and nodes run exactly the code under test.
func RunNodeIfChild() {
	if len(os.Args) > 1 && os.Args[1] == NodeArg {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := nodecmd.Main(ctx, os.Args[2:], os.Stderr)
		stop()
		os.Exit(code)
	}
	nodeHook.Store(true)
}

// defaultNodeCommand is how Run starts nodes when the caller gave no
// command: FAULTLINE_BIN if set, else this binary if it called RunNodeIfChild.
func defaultNodeCommand() ([]string, error) {
	if bin := os.Getenv(BinEnv); bin != "" {
		return []string{bin, "node", "--parent-watch"}, nil
	}
	if !nodeHook.Load() {
		return nil, errors.New("no way to start nodes: call faultline.RunNodeIfChild() first in TestMain (or main), " +
			"set " + BinEnv + " to a faultline binary, or pass faultline.WithNodeCommand")
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, errors.New("cannot find this binary to run nodes with: " + err.Error())
	}
	return []string{exe, NodeArg, "--parent-watch"}, nil
}
