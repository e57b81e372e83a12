package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"crew/internal/child"
	"crew/ipc"
)

// semOptions is what crew sem is asked to do: its flags and the command
// to run.
type semOptions struct {
	id      string
	jobs    int
	timeout time.Duration
	lockDir string
	command []string
	streams Streams
}

const (
	semUse   = "sem [--id NAME] [-j N] [--timeout DUR] [--lock-dir DIR] -- COMMAND [ARGS...]"
	semUsage = "crew sem [--id NAME] [-j N] -- COMMAND [ARGS...]"
)

func newSemCmd(s Streams, runF func(context.Context, *semOptions) error) *cobra.Command {
	opts := &semOptions{streams: s}
	cmd := &cobra.Command{
		Use:   semUse,
		Short: "Run a command holding one of N machine-wide slots",
		Long: `Run COMMAND while holding one of N slots of the semaphore named by --id,
so that at most N commands with the same --id run at once on this machine,
whichever shells, scripts or sessions of the same user start them (GNU
parallel's sem). The command's stdin, stdout and stderr are crew's own.

A slot is a flock(2) lock on a file in the lock directory, so a slot held by
a crew that dies, even by kill -9, is freed by the kernel at once. The first
user of an --id fixes its number of slots; a later -j that differs is an
error (remove the .sem file the error names to change it). While every slot
is taken, crew sem polls for a free one with back-off up to 10ms, so it may
start a command that long after a slot frees, and waiters are not served in
arrival order.

SIGTERM and SIGHUP sent to crew sem are passed on to the command; Ctrl-C
reaches the command directly from the terminal.

Exit status: the command's own; 128+N when it is killed by signal N; 127 when
it is not found and 126 when it cannot be run; 255 when crew sem itself fails,
including when --timeout passes before a slot frees (the command is then not
run).`,
		Example: `  # At most two ffmpeg encodes at once, however many shells start them:
  for f in *.mov; do
    crew sem --id ffmpeg -j 2 -- ffmpeg -i "$f" "${f%.mov}.mp4" &
  done
  wait

  # Give up after a minute rather than queue behind a long backup:
  crew sem --id backup --timeout 1m -- rsync -a ~/ /mnt/backup/`,
		// The Use line already shows the flags; cobra would append "[flags]"
		// after COMMAND, where they would be COMMAND's.
		DisableFlagsInUseLine: true,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("sem: no command given; usage: " + semUsage)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.command = args
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSem(cmd.Context(), opts)
		},
	}
	// Flags after COMMAND belong to COMMAND, even without "--".
	cmd.Flags().SetInterspersed(false)
	f := cmd.Flags()
	f.StringVar(&opts.id, "id", "default", "name of the semaphore; commands with the same `NAME` share its slots")
	f.IntVarP(&opts.jobs, "jobs", "j", 1, "let at most `N` commands with this --id run at once")
	durationVarP(f, &opts.timeout, "timeout", "", 0, "give up (status 255) if no slot frees within `DUR` (seconds, or a duration like 1m); 0 waits forever")
	f.StringVar(&opts.lockDir, "lock-dir", "", "keep the lock files in `DIR` (default $XDG_RUNTIME_DIR/crew/locks, else ~/.cache/crew/locks, else $TMPDIR/crew-UID/locks)")
	return cmd
}

func (o *semOptions) validate() error {
	if o.jobs < 1 {
		return fmt.Errorf("sem: -j must be at least 1, got %d", o.jobs)
	}
	if o.timeout < 0 {
		return fmt.Errorf("sem: --timeout must not be negative, got %v", o.timeout)
	}
	return nil
}

func runSem(ctx context.Context, opts *semOptions) error {
	var ipcOpts []ipc.Option
	if opts.lockDir != "" {
		ipcOpts = append(ipcOpts, ipc.WithDir(opts.lockDir))
	}
	sem, err := ipc.NewSemaphore(opts.id, opts.jobs, ipcOpts...)
	if errors.Is(err, ipc.ErrNoLockDir) {
		return fmt.Errorf("sem: %w; choose one with --lock-dir DIR", err)
	}
	if err != nil {
		return fmt.Errorf("sem: %w", err)
	}
	defer sem.Close()

	waitCtx := ctx
	if opts.timeout > 0 {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(ctx, opts.timeout)
		defer cancel()
	}
	if err := sem.Lock(waitCtx); err != nil {
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("sem: interrupted while waiting for a slot of %q", opts.id)
		case errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("sem: timed out after %v waiting for %s of %q",
				opts.timeout, whichSlot(opts.jobs), opts.id)
		}
		return fmt.Errorf("sem: %w", err)
	}
	code, err := semExec(opts)
	if uerr := sem.Unlock(); err == nil && uerr != nil {
		err = fmt.Errorf("sem: %w", uerr)
	}
	if err != nil {
		return &exitStatusError{Code: code, Err: err}
	}
	if code != exitOK {
		return &exitStatusError{Code: code}
	}
	return nil
}

// whichSlot names the slot a waiter wants, minding the singular.
func whichSlot(n int) string {
	if n == 1 {
		return "the only slot"
	}
	return fmt.Sprintf("one of the %d slots", n)
}

// semExec runs the command in the foreground and returns its exit status
// as a shell reports it. The error is set only when the command could not
// be started.
func semExec(opts *semOptions) (int, error) {
	// Not child.Start: the command stays in crew's process group, the
	// terminal's foreground group, so that Ctrl-C and Ctrl-Z reach it from
	// the terminal and it may read the terminal (a background group that
	// does gets SIGTTIN).
	c := exec.Command(opts.command[0], opts.command[1:]...)
	c.Stdin, c.Stdout, c.Stderr = opts.streams.In, opts.streams.Out, opts.streams.Err
	if err := c.Start(); err != nil {
		switch {
		case errors.Is(err, exec.ErrNotFound), errors.Is(err, os.ErrNotExist):
			return 127, fmt.Errorf("sem: %w", err)
		case errors.Is(err, os.ErrPermission):
			return 126, fmt.Errorf("sem: %w", err)
		}
		return exitError, fmt.Errorf("sem: %w", err)
	}

	// Signals sent to crew alone (kill, a closing terminal) would otherwise
	// stop the wrapper and orphan the command; pass them on instead.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP)
	forwarded := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		defer close(forwarded)
		for {
			select {
			case sig := <-sigs:
				_ = c.Process.Signal(sig)
			case <-stop:
				return
			}
		}
	}()
	err := c.Wait()
	signal.Stop(sigs)
	close(stop)
	<-forwarded

	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return child.StatusOf(ee.ProcessState).ShellCode(), nil
	}
	if err != nil {
		return exitError, fmt.Errorf("sem: %w", err)
	}
	return exitOK, nil
}
