package proc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"crew/internal/child"
)

// Workers are started by spawner goroutines, each locked to its own OS
// thread for the pool's life: the kernel sends a child its parent-death
// signal when the thread that forked it exits, not the process
// (go.dev/issue/27505, see internal/child), so a thread that forked a live
// worker must never be handed back to the Go scheduler, which may end it.
//
// A pool has one spawner per CPU, at most one per worker. New hands each its
// share of the slots at once, so the children's fork, exec and runtime
// start-up overlap; respawns go to whichever spawner is free. A spawner runs
// the whole start of a worker (pipes, fork/exec, goroutines) itself, rather
// than only the fork, which saves two thread hand-offs per worker.

// spawnResult is a started worker or why it could not start.
type spawnResult struct {
	w   *worker
	err error
}

// spawnReq asks a spawner to start a worker in slot.
type spawnReq struct {
	slot int
	done chan<- spawnResult
}

// spawners is how many spawner threads a pool of n workers has.
func spawners(n int) int {
	return max(1, min(n, runtime.NumCPU()))
}

// spawner starts the slots given, reporting each on first, then serves
// respawn requests until the pool closes spawnc, which it does only once
// every worker has been reaped.
func (p *Pool) spawner(slots []int, first chan<- spawnResult) {
	defer p.spawnWG.Done()
	runtime.LockOSThread()
	for _, slot := range slots {
		w, err := p.start(slot)
		first <- spawnResult{w, err}
	}
	for r := range p.spawnc {
		w, err := p.start(r.slot)
		r.done <- spawnResult{w, err}
	}
	runtime.UnlockOSThread()
}

// spawn starts a worker in slot on one of the spawner threads.
func (p *Pool) spawn(slot int) (*worker, error) {
	done := make(chan spawnResult, 1)
	p.spawnc <- spawnReq{slot: slot, done: done}
	r := <-done
	return r.w, r.err
}

// start starts a worker in slot and its two goroutines. It must run on a
// spawner thread.
func (p *Pool) start(slot int) (*worker, error) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("proc: %w", err)
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, fmt.Errorf("proc: %w", err)
	}
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Env = append(os.Environ(), envWorker+"="+strconv.Itoa(slot+1), envInit+"="+p.cfg.init)
	cmd.ExtraFiles = []*os.File{reqR, repW}
	out := &prefixWriter{mu: &p.outMu, w: p.cfg.stderr, prefix: []byte("[worker " + strconv.Itoa(slot+1) + "] ")}
	cmd.Stdout, cmd.Stderr = out, out
	// The worker's children share its output pipe; once the group is
	// killed, they are given this long to let go of it.
	cmd.WaitDelay = time.Second
	c, err := child.Start(context.Background(), cmd, nil)
	reqR.Close()
	repW.Close()
	if err != nil {
		reqW.Close()
		repR.Close()
		return nil, fmt.Errorf("proc: start worker: %w", err)
	}
	w := &worker{
		p: p, slot: slot, child: c, pid: c.Pid(), out: out,
		reqW: reqW, repR: repR,
		room:  make(chan struct{}, p.cfg.prefetch+1),
		ready: make(chan struct{}), exited: make(chan struct{}), quit: make(chan struct{}),
	}
	if p.cfg.memLimit > 0 {
		lim := unix.Rlimit{Cur: uint64(p.cfg.memLimit), Max: uint64(p.cfg.memLimit)}
		if err := unix.Prlimit(w.pid, unix.RLIMIT_DATA, &lim, nil); err != nil {
			w.discard()
			return nil, fmt.Errorf("proc: set memory limit: %w", err)
		}
	}
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		w.discard()
		return nil, ErrClosed
	}
	p.live[w] = struct{}{}
	p.wg.Add(2)
	p.mu.Unlock()
	go w.read()
	go w.send()
	return w, nil
}
