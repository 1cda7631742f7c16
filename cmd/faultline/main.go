// Command faultline runs chaos tests against distributed systems and
// judges their histories. See `faultline --help` and README.md.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/faultline/faultline/internal/exitcode"
	"github.com/faultline/faultline/internal/nodecmd"
	"github.com/faultline/faultline/systems/registry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first Ctrl-C the run winds down; a second one kills
		// the harness at once (its nodes die with it: parent-death signal).
		<-ctx.Done()
		stop()
	}()
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries an exit code and a one-line reason out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitError{code: exitcode.Usage, err: fmt.Errorf(format, args...)}
}

// execute runs the command line args and returns the process exit code. It
// never calls os.Exit, so tests can drive it. A panic on its goroutine
// (the command's own path: start-up, the checkers, the report) is an
// internal error: one line, the stack, exit 4. The run's client, nemesis
// and watch goroutines catch their own (the runner returns an
// *exitcode.InternalError).
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if v := recover(); v != nil {
			code = internalError(stderr, &exitcode.InternalError{Err: fmt.Errorf("internal error: panic: %v", v), Stack: debug.Stack()})
		}
	}()
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitcode.Valid
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "faultline:", ee.err)
		}
		return ee.code
	}
	code = exitcode.FromError(err)
	var (
		ce *exitcode.ConfigError
		cl *exitcode.ClusterError
		ie *exitcode.InternalError
	)
	if errors.As(err, &ie) && len(ie.Stack) > 0 {
		return internalError(stderr, err)
	}
	if !errors.As(err, &ce) && !errors.As(err, &cl) && !errors.As(err, &ie) {
		// Anything cobra rejected (unknown flag, bad value) is bad usage.
		code = exitcode.Usage
	}
	fmt.Fprintln(stderr, "faultline:", err)
	return code
}

// internalError prints err on one line, then the stack of the panic it
// carries, and returns exit code 4.
func internalError(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "faultline:", strings.ReplaceAll(err.Error(), "\n", " "))
	var ie *exitcode.InternalError
	if errors.As(err, &ie) && len(ie.Stack) > 0 {
		fmt.Fprintf(stderr, "%s\n", bytes.TrimRight(ie.Stack, "\n"))
	}
	return exitcode.Internal
}

const rootLong = `faultline starts a real cluster, puts a Toxiproxy proxy on every link between
nodes, drives client operations while a nemesis partitions, slows, kills and
pauses nodes, skews their clocks and cuts their power, records every operation
in a history, and checks that history for consistency violations. Each run leaves results/<run>/ with a self-contained report.html,
and results/index.html lists every run; faultline serve shows them.

Exit codes (run and check):
  0  valid: no anomaly found
  1  anomalies found
  2  bad usage or configuration (unknown system, workload, nemesis or bug;
     malformed history)
  3  unknown: a checker gave up, no checker judged the history or no
     operation in it succeeded, the run or check was interrupted, or the
     cluster could not be brought up or did not recover (a start-up or
     recovery past its bound also writes a goroutine dump to harness.log)
  4  internal error in faultline, such as a panic (one line, then the
     stack; what was recorded is kept)`

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "faultline",
		Short:         "Chaos and fault-injection tests for distributed systems",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(stdout, stderr), newCheckCmd(stdout, stderr), newListCmd(stdout), newServeCmd(stdout, stderr), newShrinkCmd(stdout, stderr), newSimCmd(stdout, stderr), nodecmd.Command(registry.Default(), stderr),
		newToxiproxyCmd(stderr), newCleanCmd(stdout))
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageErr("%v (see --help)", err)
	})
	return root
}
