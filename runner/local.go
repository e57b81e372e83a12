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
	"syscall"
	"time"
)

// A TermStep is one step of a termination sequence: send Signal to the
// job's process group, then give it Wait to go away before the next step.
type TermStep struct {
	Signal syscall.Signal
	Wait   time.Duration
}

// DefaultTermSeq is GNU parallel's default --term-seq:
// TERM,200,TERM,100,TERM,50,KILL,25.
var DefaultTermSeq = []TermStep{
	{syscall.SIGTERM, 200 * time.Millisecond},
	{syscall.SIGTERM, 100 * time.Millisecond},
	{syscall.SIGTERM, 50 * time.Millisecond},
	{syscall.SIGKILL, 25 * time.Millisecond},
}

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
// The zero value is ready to use and uses DefaultTermSeq. A Local may be
// copied and used by many goroutines at once. Exec blocks until the job
// and its termination sequence (if any) are over; its cost is one fork and
// exec plus one goroutine per output stream that is not an *os.File.
type Local struct {
	// TermSeq is the sequence of signals sent to a job's process group when
	// its context is cancelled or its Timeout expires. A final SIGKILL is
	// always sent if the group is still alive at the end. Nil means
	// DefaultTermSeq.
	TermSeq []TermStep
	// Dir is the working directory of jobs; empty means crew's own.
	Dir string
}

var _ Executor = Local{}

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
	// The kernel sends Pdeathsig when the thread that forked the child
	// exits, not the process (go.dev/issue/27505). Keeping this goroutine
	// on its thread until the child is reaped stops the scheduler from
	// ending that thread under a live job; it costs one idle OS thread per
	// running job.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// The first job of the program starts the guard (see Main), before
	// any job could be left without one.
	guard.once.Do(startGuard)
	res.Start = time.Now()
	cmd, err := l.start(job, out, stderr)
	if err != nil && len(job.Argv) > 0 {
		// Let the shell report a missing or unrunnable program exactly
		// as it would have without the direct-exec shortcut.
		shJob := *job
		shJob.Argv = nil
		cmd, err = l.start(&shJob, out, stderr)
	}
	if err != nil {
		res.Runtime = time.Since(res.Start)
		res.Err = err
		return res
	}
	res.Send = int64(len(job.Stdin))

	pgid := cmd.Process.Pid
	guardTell('+', pgid)
	// Forgotten only once the leader is reaped: until then its pid, and so
	// the group id, cannot be reused by an unrelated process.
	defer guardTell('-', pgid)
	err, res.TimedOut = l.wait(ctx, cmd, pgid, job.Timeout)
	res.Runtime = time.Since(res.Start)
	res.Receive = out.n
	st, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case st.Signaled():
		res.Signal = int(st.Signal())
	case st.Exited():
		res.Exit = st.ExitStatus()
	default:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			res.Err = err
		}
	}
	return res
}

// start starts job.
func (l Local) start(job *Job, stdout, stderr io.Writer) (*exec.Cmd, error) {
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
	}
	cmd.Stdout = unwrapFile(stdout)
	cmd.Stderr = unwrapFile(stderr)
	// Pdeathsig takes the job's leader down with crew even on kill -9.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// wait reaps cmd, blocked in wait(2) on this goroutine's own locked
// thread: the kernel wakes that very thread when the job exits, so no
// other thread has to be woken to hand the job back (a futex wake of tens
// of microseconds per job on a small VM, the gap to xargs on short jobs).
// A cancelled ctx or an expired timeout runs the termination sequence
// from a goroutine of its own; the sequence ends with the group killed,
// which ends the wait. wait returns once that sequence is over too.
func (l Local) wait(ctx context.Context, cmd *exec.Cmd, pgid int, timeout time.Duration) (err error, timedOut bool) {
	reaped := make(chan error, 1)
	var (
		mu       sync.Mutex
		termDone chan struct{} // non-nil once the sequence has begun
		termErr  error
	)
	terminate := func(byTimeout bool) {
		mu.Lock()
		defer mu.Unlock()
		if termDone != nil {
			return
		}
		timedOut = byTimeout
		done := make(chan struct{})
		termDone = done
		go func() {
			termErr = l.terminate(pgid, reaped)
			close(done)
		}()
	}
	stop := context.AfterFunc(ctx, func() { terminate(false) })
	var timer *time.Timer
	if timeout > 0 {
		timer = time.AfterFunc(timeout, func() { terminate(true) })
	}
	err = cmd.Wait()
	stop()
	if timer != nil {
		timer.Stop()
	}
	mu.Lock()
	done := termDone
	// A sequence starting from now on finds the job already over, as if
	// it had lost the race by a hair.
	termDone = make(chan struct{})
	mu.Unlock()
	if done == nil {
		return err, false
	}
	reaped <- err
	<-done
	return termErr, timedOut
}

// terminate walks the termination sequence over the process group pgid
// until the group is empty, then returns the leader's wait error.
func (l Local) terminate(pgid int, waitErr <-chan error) error {
	seq := l.TermSeq
	if seq == nil {
		seq = DefaultTermSeq
	}
	var err error
	reaped := false
	for _, step := range seq {
		if syscall.Kill(-pgid, step.Signal) != nil {
			break // no process left in the group
		}
		if reaped {
			time.Sleep(step.Wait)
			continue
		}
		t := time.NewTimer(step.Wait)
		select {
		case err = <-waitErr:
			reaped = true
			// Wait out the step so background members get their chance
			// to exit too before the next signal.
			<-t.C
		case <-t.C:
		}
	}
	// Whatever survived the sequence is killed; the group must not outlive
	// the job.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	if !reaped {
		err = <-waitErr
	}
	return err
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
