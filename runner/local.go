package runner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"crew/internal/child"
)

// A TermStep is one step of a termination sequence: send Signal to the
// job's process group, then give it up to Wait to go away before the next
// step.
type TermStep = child.TermStep

// DefaultTermSeq returns GNU parallel's default --term-seq,
// TERM,200,TERM,100,TERM,50,KILL,25, as a new slice.
func DefaultTermSeq() []TermStep { return child.DefaultTermSeq() }

// Local is an Executor that runs jobs on this machine. Each job runs in a
// process group of its own, so a timeout or a cancellation reaches
// everything the job started, including processes it left in the
// background, and so does crew's own death when the program calls Main
// (a guard process then kills the groups of the jobs still running, even
// after kill -9). A job with Argv is executed directly; any other job runs
// through "sh -c". If a direct exec cannot start the program, the job is
// handed to the shell instead, so the error message and the exit status
// (127, 126) are the ones users know from the shell.
//
// A job that ends while a process it left in the background still holds
// its output pipe (with LineBuffer, say) is over for crew too: Exec reads
// what the job wrote for a moment longer (child.WaitDelay, 100 ms), then
// stops reading and returns. That process is left running, as GNU
// parallel leaves it.
//
// The zero value is ready to use and uses DefaultTermSeq. A Local may be
// copied and used by many goroutines at once. Exec blocks until the job
// and its termination sequence (if any) are over; its cost is one fork and
// exec plus one goroutine per output stream that is not an *os.File.
type Local struct {
	// TermSeq is the sequence of signals sent to a job's process group when
	// its context is cancelled or its Timeout expires. A step ends early
	// once the group is empty; whatever is left at the end is killed with
	// SIGKILL. Nil means DefaultTermSeq.
	TermSeq []TermStep
	// Dir is the working directory of jobs; empty means crew's own.
	Dir string
}

var _ Executor = Local{}

// errJobTimeout is the cause of a job's context ended by its Timeout.
var errJobTimeout = errors.New("runner: job timed out")

// Exec runs job and returns what became of it. Exec never returns before
// the job's process is reaped. When ctx is cancelled or job.Timeout expires,
// the job's process group is signalled along TermSeq and Result.Signal
// reports the signal that ended it.
func (l Local) Exec(ctx context.Context, job *Job, stdout, stderr io.Writer) Result {
	res := Result{Seq: job.Seq, Host: ":", Exit: -1}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	out := &countWriter{w: stdout}
	// The thread that starts a job must outlive it (see package child).
	// Reaping on it too means the kernel wakes this very thread when the
	// job exits, so no other thread has to be woken to hand the job back
	// (a futex wake of tens of microseconds per job on a small VM, the gap
	// to xargs on short jobs). It costs one idle OS thread per running job.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// The first job of the program starts the guard (see Main), before
	// any job could be left without one.
	guard.once.Do(startGuard)
	if job.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, job.Timeout, errJobTimeout)
		defer cancel()
	}
	dir, cleanup, err := workDir(job, l.Dir)
	if err != nil {
		res.Err = err
		return res
	}
	defer cleanup()
	l.Dir = dir
	res.Start = time.Now()
	c, err := l.start(ctx, job, out, stderr)
	if err != nil && len(job.Argv) > 0 && ctx.Err() == nil {
		// Let the shell report a missing or unrunnable program exactly
		// as it would have without the direct-exec shortcut. (os/exec
		// refuses to start anything once ctx is done; that is not the
		// program's fault.)
		shJob := *job
		shJob.Argv = nil
		c, err = l.start(ctx, &shJob, out, stderr)
	}
	if err != nil {
		res.Runtime = time.Since(res.Start)
		res.Err = err
		return res
	}
	res.Send = int64(len(job.Stdin))

	pgid := c.Pid()
	guardTell('+', pgid)
	// Forgotten only once the leader is reaped: until then its pid, and so
	// the group id, cannot be reused by an unrelated process.
	defer guardTell('-', pgid)
	st, err := c.Wait()
	res.Runtime = time.Since(res.Start)
	res.Receive = out.n
	res.TimedOut = c.Terminated() && errors.Is(context.Cause(ctx), errJobTimeout)
	switch {
	case st.Signal != 0:
		res.Signal = int(st.Signal)
	case st.Code >= 0:
		res.Exit = st.Code
	default:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			res.Err = err
		}
	}
	return res
}

// start starts job as a child process that ctx's end terminates.
func (l Local) start(ctx context.Context, job *Job, stdout, stderr io.Writer) (*child.Child, error) {
	var cmd *exec.Cmd
	if len(job.Argv) > 0 {
		path, err := lookPath(job.Argv[0])
		if err != nil {
			return nil, err
		}
		// Built by hand: exec.Command would search PATH again for every job.
		cmd = &exec.Cmd{Path: path, Args: job.Argv}
	} else {
		cmd = &exec.Cmd{Path: "/bin/sh", Args: []string{"sh", "-c", job.Command}}
	}
	cmd.Dir = l.Dir
	if len(job.Env) > 0 {
		cmd.Env = append(os.Environ(), job.Env...)
	}
	if job.Stdin != nil {
		cmd.Stdin = bytes.NewReader(job.Stdin)
	} else if job.StdinFile != nil {
		cmd.Stdin = job.StdinFile
	}
	cmd.Stdout = unwrapFile(stdout)
	cmd.Stderr = unwrapFile(stderr)
	return child.Start(ctx, cmd, l.TermSeq)
}

// pathCache remembers where PATH lookups led. A run execs the same few
// programs thousands of times, and each lookup stats every PATH entry.
var pathCache sync.Map // name -> path

func lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	if p, ok := pathCache.Load(name); ok {
		return p.(string), nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", err
	}
	if filepath.IsAbs(p) {
		pathCache.Store(name, p)
	}
	return p, nil
}

// countWriter counts bytes written through it, for the joblog's Receive.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// unwrapFile hands an *os.File straight to the child, so output written to
// a terminal or a file costs no copying goroutine.
func unwrapFile(w io.Writer) io.Writer {
	if cw, ok := w.(*countWriter); ok {
		if f, ok := cw.w.(*os.File); ok {
			return f
		}
	}
	return w
}
