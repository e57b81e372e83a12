// Package child starts, signals, terminates and reaps crew's child
// processes, and gives them files to write their output into. runner's
// local jobs, proc's workers and the cluster worker's jobs all go through
// it, so each of these mechanisms is written once:
//
//   - Start puts the child in a process group of its own, so that a
//     signal to the group reaches everything the child started, and gives
//     it SIGKILL as its parent-death signal, so that it dies with crew even
//     when crew is killed with SIGKILL;
//   - when the context given to Start ends, a termination sequence (a list
//     of TermSteps, GNU parallel's --term-seq) runs over the child's group;
//     and Start sets the Cmd's WaitDelay, so a child that leaves a
//     background process holding its output pipe cannot hold up the Wait
//     for it;
//   - Wait reaps the child and decodes its Status (exit code or signal);
//     WaitKillGroup also kills what the child left behind in its group;
//   - OutputFile gives the child a file in memory to write into, with no
//     pipe and no copying goroutine.
//
// # The locked thread
//
// Linux sends the parent-death signal when the thread that forked the
// child exits, not when the process does (go.dev/issue/27505), and the Go
// scheduler ends idle threads as it pleases. So the goroutine that calls
// Start must hold its OS thread (runtime.LockOSThread) from before Start
// until the child has been reaped, or hand the start to a goroutine that
// holds its thread for longer (proc's spawner threads hold theirs for the
// pool's life). The cost is one idle OS thread per live child; the gain,
// for a caller that also reaps on that thread, is that the kernel wakes
// that very thread when the child exits, with no hand-off to another.
//
// # Why not exec.CommandContext
//
// os/exec can run a termination itself: a Cmd made by CommandContext calls
// its Cancel when the context ends. But it watches the context from a
// goroutine of its own per Cmd, started with the child and woken again by
// Wait, and on a small machine running short jobs those wake-ups are a
// thread hand-off per child (crew run -j2 over 1,000 `true`: about one
// more voluntary context switch per job, 1-4% more wall time). Start instead
// registers the sequence with context.AfterFunc, which costs no goroutine
// until the context ends, and keeps os/exec's WaitDelay for the pipes.
// That also keeps os/exec's own SIGKILL, sent WaitDelay after the context
// ends, from cutting a longer sequence short.
package child

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// WaitDelay is the Cmd.WaitDelay that Start sets when the caller left it
// zero: how long Wait goes on reading a child's output pipes after the
// child exited (or after its termination sequence ended) before it closes
// them. It bounds the wait on a background process that inherited the
// pipes and outlives the child; that process is left running, as GNU
// parallel leaves it, but output it writes afterwards is lost (and a
// write may kill it with SIGPIPE). Output the child wrote before it
// exited is read in this time as long as the reading goroutine is not
// starved for longer.
const WaitDelay = 100 * time.Millisecond

// A Child is a process started by Start, in a process group of its own
// whose id is its pid. Its methods may be called from any goroutine; one
// call of Wait or WaitKillGroup reaps it, and the thread that started it
// must live until then (see the package doc). A Child costs a few small
// allocations beside the exec.Cmd, and a goroutine only while its
// termination sequence runs.
type Child struct {
	// Cmd is the command as started: Cmd.Process and, after Wait,
	// Cmd.ProcessState are set.
	Cmd *exec.Cmd

	seq        []TermStep // nil: DefaultTermSeq
	terminated atomic.Bool
	stopTerm   func() bool   // unregisters the termination sequence from ctx
	termDone   chan struct{} // closed when a sequence that began has ended

	mu     sync.Mutex
	reaped bool // after this the pid may name another process
}

// Start starts cmd in a process group of its own, with SIGKILL as its
// parent-death signal, and returns it as a Child. Fields of
// cmd.SysProcAttr other than Setpgid, Pgid and Pdeathsig are kept. The
// calling goroutine must hold its OS thread until the child is reaped:
// see the package doc. cmd must come from exec.Command or a literal, not
// exec.CommandContext: the context is Start's.
//
// When ctx ends before the child is reaped, the termination sequence seq
// (nil means DefaultTermSeq) runs over the child's group: each step sends
// its signal to the group, then waits up to its Wait for the group to
// empty, which it does once the child is reaped (by the Wait in progress)
// and whatever it started is gone; whatever is left after the last step
// is killed with SIGKILL. Wait returns only once the sequence is over.
//
// Start sets cmd.WaitDelay to WaitDelay if it is zero. It returns ctx's
// error if ctx has ended, and otherwise cmd.Start's error.
func Start(ctx context.Context, cmd *exec.Cmd, seq []TermStep) (*Child, error) {
	if cmd.Cancel != nil {
		return nil, errors.New("child: the command was made by exec.CommandContext; pass its context to Start instead")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &Child{Cmd: cmd, seq: seq}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pgid = 0
	// Pdeathsig takes the child down with crew even on kill -9; what the
	// child started is left to the caller (runner's guard, proc's group
	// kill).
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = WaitDelay
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if ctx.Done() != nil {
		c.termDone = make(chan struct{})
		c.stopTerm = context.AfterFunc(ctx, func() {
			c.terminate()
			close(c.termDone)
		})
	}
	return c, nil
}

// Pid returns the child's process id, which is also its process group id.
func (c *Child) Pid() int { return c.Cmd.Process.Pid }

// Signal sends sig to the child's process group, unless the child has been
// reaped: after that the id may belong to someone else. It returns the
// error of kill(2), or os.ErrProcessDone once the child is reaped.
func (c *Child) Signal(sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reaped {
		return os.ErrProcessDone
	}
	return KillGroup(c.Pid(), sig)
}

// Kill sends SIGKILL to the child's process group, as Signal does.
func (c *Child) Kill() error { return c.Signal(syscall.SIGKILL) }

// Terminated reports whether the end of Start's context ran the
// termination sequence, that is whether its first signal reached the
// group before the child was reaped and its group had emptied. It is
// meant to be read after Wait.
func (c *Child) Terminated() bool { return c.terminated.Load() }

// Wait waits for the child to exit, reaps it and returns how it ended.
// It blocks in wait(2) on the calling goroutine's thread. The error is
// Cmd.Wait's: an *exec.ExitError for an unsuccessful status,
// exec.ErrWaitDelay when output pipes had to be closed, or an I/O error;
// the Status says how the child ended either way.
//
// Processes the child started in its group and left behind are left
// running (a termination sequence, if one ran, has ended them).
func (c *Child) Wait() (Status, error) {
	err := c.Cmd.Wait()
	if c.stopTerm != nil && !c.stopTerm() {
		// The sequence began: the child is not done with until it ends.
		<-c.termDone
	}
	c.mu.Lock()
	c.reaped = true
	c.mu.Unlock()
	return StatusOf(c.Cmd.ProcessState), err
}

// WaitKillGroup waits for the child to exit, kills what is left of its
// process group while the unreaped child still holds the group's id (so
// the signal cannot reach an unrelated process that took the id), then
// reaps it as Wait does.
func (c *Child) WaitKillGroup() (Status, error) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, c.Pid(), &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	c.mu.Lock()
	_ = KillGroup(c.Pid(), syscall.SIGKILL)
	// No signal after this one: once Wait below reaps the child, its id
	// is free.
	c.reaped = true
	c.mu.Unlock()
	return c.Wait()
}

// KillGroup sends sig to the process group pgid. It refuses pgid 0 and 1,
// which kill(2) would take for "my own group" and "every process".
func KillGroup(pgid int, sig syscall.Signal) error {
	if pgid <= 1 {
		return syscall.EINVAL
	}
	return syscall.Kill(-pgid, sig)
}

// StartDetached starts cmd in a process group of its own with no
// parent-death signal, meant to outlive the caller, and releases it:
// nobody here waits for it, and whoever inherits it when the caller exits
// reaps it. Keyboard signals (Ctrl-C, Ctrl-Z), which go to the terminal's
// foreground group, do not reach it. It returns the process id, which
// cmd.Process no longer holds.
func StartDetached(cmd *exec.Cmd) (pid int, err error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pgid = 0
	cmd.SysProcAttr.Pdeathsig = 0
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pid = cmd.Process.Pid
	return pid, cmd.Process.Release()
}
