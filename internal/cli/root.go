// Package cli holds crew's command-line interface: one file per command,
// each an Options struct, a constructor newXCmd(streams, runF) that binds
// the flags into it, and a runX(ctx, opts) function over library calls,
// which the constructor calls unless a test passed its own runF to see
// the options. Exit codes are decided in exit.go; errors are worded for
// the user in errors.go.
package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"crew/proc"
	"crew/runner"
)

// Streams are the standard streams a command reads and writes, so tests can
// replace them.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// Main runs crew with os.Args and returns the process exit status. When the
// process was started as a worker of a proc.Pool (the lab's experiments
// start crew itself as their worker processes), it serves tasks instead and
// exits there; when started as crew run's guard (which kills running jobs
// if crew dies, even by SIGKILL), it guards and exits there.
func Main() int {
	proc.Main()
	runner.Main()
	return MainArgs(os.Args[1:], Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
}

// MainArgs runs crew with args and streams and returns the exit status.
func MainArgs(args []string, s Streams) int {
	// The first SIGINT or SIGTERM cancels ctx: crew run stops its jobs
	// along --term-seq, crew worker drains, crew broker shuts down, crew
	// sem stops waiting for a slot. Commands that heed more signals listen
	// for them themselves (signals.go, and crew sem passes SIGTERM and
	// SIGHUP on to its command).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s.Err = serialized(s.Err)
	root := newRootCmd(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return exitCode(err, s.Err)
}

func newRootCmd(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "crew",
		Short: "Run work concurrently: on goroutines, isolated processes, or many machines",
		Long: `crew runs work concurrently: on goroutines ("threads"), on isolated OS
processes, or across many machines on NATS JetStream.

  crew lab              measure threads, processes, locks and the GIL on this machine
  crew run CMD ::: ARGS run a command for each input, many at once (GNU parallel syntax)
  crew sem -j N -- CMD  run a command holding one of N machine-wide slots
  crew broker           start an embedded NATS JetStream broker for distributed runs
  crew worker           pull jobs from a broker and run them
  crew runs             list the runs a broker keeps; crew status RUN, crew attach RUN,
                        crew cancel RUN; crew workers lists the workers`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return flagError(err) })
	root.AddCommand(
		newVersionCmd(s, nil),
		newLabCmd(s, nil),
		newRunCmd(s, nil),
		newSemCmd(s, nil),
		newBrokerCmd(s, nil),
		newWorkerCmd(s, nil),
		newAttachCmd(s, nil),
		newRunsCmd(s, nil),
		newStatusCmd(s, nil),
		newCancelCmd(s, nil),
		newWorkersCmd(s, nil),
	)
	return root
}

// serialized makes w safe for the concurrent writes crew's own parts make
// to standard error (the runner's job output, progress lines, a cluster's
// notices). An *os.File is left as it is: each write is one system call,
// and commands look at it to tell a terminal. Anything else, a buffer in
// a test or a caller's writer, gets one lock around each Write.
func serialized(w io.Writer) io.Writer {
	if _, ok := w.(*os.File); ok || w == nil {
		return w
	}
	return &lockedWriter{w: w}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
