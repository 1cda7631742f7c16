package faultline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/faultline/faultline/internal/nodecmd"
	"github.com/faultline/faultline/systems/registry"
)

// NodeArg is the first argument that makes a binary which called
// RunNodeIfChild run as a cluster node instead of doing its usual job.
const NodeArg = "__faultline_node__"

// BinEnv names a faultline binary to run nodes with, for programs that
// cannot call RunNodeIfChild.
const BinEnv = "FAULTLINE_BIN"

// nodeSystems is what RunNodeIfChild registered: the systems this binary
// can run nodes of, or why it cannot. It is set once, from TestMain or
// main, before any run starts.
var nodeSystems struct {
	sync.Mutex
	reg *registry.Registry
	err error
}

// RunNodeIfChild makes this binary double as a cluster node of the
// built-in systems and of sys (in-process systems of your own). Call it
// first in TestMain (or main): in a process the harness started as a node
// it runs the node and exits; otherwise it returns at once, and Run will
// start nodes by re-executing this binary. A test binary then needs
// nothing built or installed beside it, and nodes run exactly the code
// under test. Foreign systems need none of this: their nodes are their
// own programs.
func RunNodeIfChild(sys ...System) {
	reg, err := registry.Default().With(sys...)
	if len(os.Args) > 1 && os.Args[1] == NodeArg {
		if err != nil {
			fmt.Fprintln(os.Stderr, "faultline node:", err)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := nodecmd.Main(ctx, reg, os.Args[2:], os.Stderr)
		stop()
		os.Exit(code)
	}
	nodeSystems.Lock()
	defer nodeSystems.Unlock()
	nodeSystems.reg, nodeSystems.err = reg, err
}

// defaultNodeCommand is how Run starts the nodes of t's in-process system
// when the caller gave no command: FAULTLINE_BIN if set, else this binary
// if it called RunNodeIfChild with the system (built-ins need not be
// named).
func defaultNodeCommand(t Test) ([]string, error) {
	if bin := os.Getenv(BinEnv); bin != "" {
		return []string{bin, "node", "--parent-watch"}, nil
	}
	nodeSystems.Lock()
	reg, regErr := nodeSystems.reg, nodeSystems.err
	nodeSystems.Unlock()
	switch {
	case regErr != nil:
		return nil, fmt.Errorf("faultline.RunNodeIfChild: %w", regErr)
	case reg == nil:
		return nil, errors.New("no way to start nodes: call faultline.RunNodeIfChild() first in TestMain (or main), " +
			"set " + BinEnv + " to a faultline binary, or pass faultline.WithNodeCommand")
	}
	if t.Impl != nil {
		if _, err := reg.Get(t.System); err != nil {
			return nil, fmt.Errorf("this binary cannot run nodes of system %s: pass it to faultline.RunNodeIfChild in TestMain (or main)", t.System)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, errors.New("cannot find this binary to run nodes with: " + err.Error())
	}
	return []string{exe, NodeArg, "--parent-watch"}, nil
}
