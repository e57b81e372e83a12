package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"crew/internal/child"
	"crew/proc/internal/wire"
)

// exitGrace is how long a worker whose reply pipe closed may take to exit
// before it is killed.
const exitGrace = 2 * time.Second

// A worker is the parent's side of one child process: a sender goroutine
// that writes call frames, a reader goroutine that reads replies, and the
// FIFO of calls in flight (a worker answers in order).
type worker struct {
	p     *Pool
	slot  int
	child *child.Child
	pid   int
	out   *prefixWriter
	reqW  *os.File
	repR  *os.File

	wmu  sync.Mutex // guards bw and reqW; released by unlockW
	bw   *bufio.Writer
	room chan struct{} // one token per call in flight

	cmu     sync.Mutex
	cancels []uint64 // cancel requests waiting for wmu

	fmu      sync.Mutex // guards the fields below
	fifo     []*task
	dead     bool
	deadline time.Time // zero while the running call has no limit
	timer    *time.Timer
	// victim is the call the pool killed the worker for (its deadline
	// passed, or it was cancelled with WithKillOnCancel), and why the
	// error it ends with.
	victim *task
	why    error

	retired   atomic.Bool
	helloOnce sync.Once
	ready     chan struct{}
	exited    chan struct{}
	quit      chan struct{}
	crash     *CrashError
}

// kill sends SIGKILL to the worker's process group, unless the worker has
// been reaped: after that its pid may belong to someone else.
func (w *worker) kill() { _ = w.child.Kill() }

// reap waits for the worker to exit, kills what is left of its process
// group while the zombie still holds the group id, and collects it.
func (w *worker) reap() (child.Status, error) {
	grace := time.AfterFunc(exitGrace, w.kill)
	st, err := w.child.WaitKillGroup()
	grace.Stop()
	w.out.flush()
	return st, err
}

// discard kills and reaps a worker whose goroutines never started.
func (w *worker) discard() {
	w.kill()
	w.reap()
	w.reqW.Close()
	w.repR.Close()
}

func (w *worker) closeInput() {
	w.wmu.Lock()
	w.reqW.Close()
	w.wmu.Unlock()
}

// sendCancel asks the worker to cancel call id. It never blocks: when the
// sender holds the pipe (it may be blocked writing to a full one), the
// request waits in cancels and the sender writes it when it lets go.
func (w *worker) sendCancel(id uint64) {
	w.cmu.Lock()
	w.cancels = append(w.cancels, id)
	w.cmu.Unlock()
	if w.wmu.TryLock() {
		w.unlockW()
	}
}

// unlockW writes the cancel requests queued while wmu was held and
// releases wmu. A request queued after the last look either finds wmu
// free or is seen by the look after the unlock, so none is left behind.
func (w *worker) unlockW() {
	for {
		w.cmu.Lock()
		ids := w.cancels
		w.cancels = nil
		w.cmu.Unlock()
		if len(ids) > 0 && w.bw != nil { // no bw: not ready, no call to cancel
			var frame []byte
			for _, id := range ids {
				frame, _ = wire.AppendFrame(frame, &wire.Message{Kind: wire.KindCancel, ID: id})
			}
			if _, err := w.bw.Write(frame); err == nil {
				w.bw.Flush()
			}
		}
		w.wmu.Unlock()
		w.cmu.Lock()
		more := len(w.cancels) > 0
		w.cmu.Unlock()
		if !more || !w.wmu.TryLock() {
			return
		}
	}
}

const (
	pushed = iota
	pushCanceled
	pushDead
)

// push records t as in flight before it is written, so its reply finds it.
func (w *worker) push(t *task) int {
	w.fmu.Lock()
	defer w.fmu.Unlock()
	if w.dead {
		return pushDead
	}
	// w is stored before canceled is loaded, as cancel stores canceled
	// before it loads w.
	t.w.Store(w)
	if t.canceled.Load() {
		return pushCanceled
	}
	w.fifo = append(w.fifo, t)
	if len(w.fifo) == 1 {
		w.armLocked()
	}
	return pushed
}

// armLocked starts the clock of the call at the head of the FIFO, the one
// the worker runs.
func (w *worker) armLocked() {
	d := w.fifo[0].timeout
	if d <= 0 {
		w.deadline = time.Time{}
		return
	}
	w.deadline = time.Now().Add(d)
	if w.timer == nil {
		w.timer = time.AfterFunc(d, w.onTimeout)
	} else {
		w.timer.Reset(d)
	}
}

func (w *worker) onTimeout() {
	w.fmu.Lock()
	if w.dead || w.victim != nil || len(w.fifo) == 0 || w.deadline.IsZero() {
		w.fmu.Unlock()
		return
	}
	if left := time.Until(w.deadline); left > 0 {
		w.timer.Reset(left)
		w.fmu.Unlock()
		return
	}
	// The task is remembered rather than assumed to be the head of the
	// FIFO when the worker dies: its reply may already be in the pipe, and
	// the worker, when the kill lands, running the next one.
	t := w.fifo[0]
	w.victim = t
	w.why = fmt.Errorf("%w after %v (worker %d killed)", ErrTimeout, t.timeout, w.slot+1)
	w.fmu.Unlock()
	w.kill()
}

// killFor kills the worker if t is the call it runs (the head of its
// FIFO), for WithKillOnCancel, and reports whether it did. A call queued
// behind the head has not started: the worker is asked to skip it instead.
func (w *worker) killFor(t *task, why error) bool {
	w.fmu.Lock()
	if w.dead || w.victim != nil || len(w.fifo) == 0 || w.fifo[0] != t {
		w.fmu.Unlock()
		return false
	}
	w.victim, w.why = t, why
	w.fmu.Unlock()
	w.kill()
	return true
}

// send moves tasks from the pool's queue to the worker, up to its in-flight
// limit, flushing only when no more work is at hand.
func (w *worker) send() {
	defer w.p.wg.Done()
	p := w.p
	if p.cfg.init != "" {
		// The worker reads its initializer's call first and says hello
		// only once it has run. A worker that died before reading it is
		// the reader's to report.
		w.wmu.Lock()
		_, err := w.reqW.Write(p.initFrame)
		w.unlockW()
		if err != nil {
			return
		}
	}
	select {
	case <-w.ready:
	case <-w.quit:
		return
	}
	// The buffer comes after the hello, off the pool's start-up path.
	w.wmu.Lock()
	w.bw = bufio.NewWriterSize(w.reqW, 32<<10)
	w.unlockW()
	sent := 0
	for {
		select {
		case w.room <- struct{}{}:
		case <-w.quit:
			return
		case <-p.done:
			return
		}
		var t *task
		select {
		case t = <-p.queue:
		case <-w.quit:
			return
		case <-p.done:
			return
		}
		w.wmu.Lock()
		var err error
		for t != nil {
			switch w.push(t) {
			case pushed:
				_, err = w.bw.Write(t.msg)
				t.written.Store(true)
				sent++
			case pushCanceled:
				<-w.room
				p.finish(t, ErrCanceled)
			case pushDead:
				w.unlockW()
				p.requeue([]*task{t})
				return
			}
			t = nil
			if err != nil || (p.cfg.maxTasks > 0 && sent >= p.cfg.maxTasks) {
				break
			}
			select {
			case w.room <- struct{}{}:
				select {
				case t = <-p.queue:
				default:
					<-w.room
				}
			default:
			}
		}
		if err == nil {
			err = w.bw.Flush()
		}
		retire := err == nil && p.cfg.maxTasks > 0 && sent >= p.cfg.maxTasks
		if retire {
			// The worker answers what it has, reads EOF and exits.
			w.retired.Store(true)
			w.reqW.Close()
		}
		w.unlockW()
		if err != nil {
			return // the reader sees the death and settles the tasks
		}
		if retire {
			p.replace(w.slot, false, nil)
			return
		}
	}
}

// read takes replies off the pipe until it closes, then settles the dead
// worker's tasks.
func (w *worker) read() {
	defer w.p.wg.Done()
	// The hello is read through a small buffer and the big one allocated
	// after it, off the pool's start-up path.
	small := bufio.NewReaderSize(w.repR, 16)
	br := small
	var cause error
	var fr *frame
	for cause == nil {
		if fr == nil {
			fr = frames.Get().(*frame)
		}
		body, err := wire.ReadFrame(br, wire.DefaultMaxFrame, fr.b)
		if err != nil {
			if err != io.EOF {
				cause = err
			}
			break
		}
		fr.b = body
		m, err := wire.Parse(body)
		if err != nil {
			cause = err
			break
		}
		switch m.Kind {
		case wire.KindHello:
			w.helloOnce.Do(func() { close(w.ready) })
			if br == small {
				// Whatever the small buffer holds beyond the hello is read
				// through it; it passes large reads straight to the pipe.
				src := io.Reader(w.repR)
				if small.Buffered() > 0 {
					src = small
				}
				br = bufio.NewReaderSize(src, 64<<10)
			}
		case wire.KindReply:
			w.fmu.Lock()
			if len(w.fifo) == 0 || w.fifo[0].id != m.ID {
				w.fmu.Unlock()
				cause = fmt.Errorf("%w: reply to call %d out of order", errProtocol, m.ID)
				break
			}
			t := w.fifo[0]
			w.fifo[0] = nil
			w.fifo = w.fifo[1:]
			if len(w.fifo) > 0 {
				w.armLocked()
			}
			w.fmu.Unlock()
			<-w.room
			if w.p.complete(t, nil, m, fr) {
				fr = nil
			}
		default:
			cause = fmt.Errorf("%w: unexpected message %q", errProtocol, m.Kind)
		}
	}
	w.die(cause)
}

func (w *worker) die(cause error) {
	p := w.p
	if cause != nil {
		w.kill()
	}
	close(w.quit)
	st, werr := w.reap()
	w.repR.Close()
	w.closeInput()

	crash := &CrashError{Worker: w.slot + 1, PID: w.pid, ExitCode: st.Code, Signal: st.Signal, Err: cause}
	if !st.Ended() && cause == nil {
		crash.Err = werr
	}
	started := false
	select {
	case <-w.ready:
		started = true
	default:
		if crash.Err == nil {
			crash.Err = errors.New("exited before it was ready")
		}
	}
	w.crash = crash

	w.fmu.Lock()
	w.dead = true
	fifo := w.fifo
	w.fifo = nil
	victim, why := w.victim, w.why
	if w.timer != nil {
		w.timer.Stop()
	}
	w.fmu.Unlock()

	p.mu.Lock()
	delete(p.live, w)
	stopping := p.stopping
	p.mu.Unlock()
	close(w.exited)

	// Unless the stream broke (cause), every reply the worker wrote has
	// been read, up to end of file; a worker answers its calls in order and
	// writes each reply before it starts the next call, so the head of the
	// FIFO is the call that was
	// running and the rest were never started: only the head fails, the
	// rest go to other workers. Hence a poison task is never sent again,
	// and no call is sent twice unless the pool killed its worker itself.
	switch {
	case len(fifo) == 0:
	case stopping:
		for _, t := range fifo {
			p.finish(t, p.failErr())
		}
	case victim == fifo[0]:
		p.finish(fifo[0], why)
		p.requeue(fifo[1:])
	case victim != nil:
		// The victim answered just before the kill landed: the worker
		// died under the next call, which had barely started and did
		// nothing wrong. It runs again, from the start, elsewhere.
		p.requeue(fifo)
	default:
		p.finish(fifo[0], crash)
		p.requeue(fifo[1:])
	}
	if !w.retired.Load() && !stopping {
		p.replace(w.slot, !started, crash)
	}
}

// prefixWriter passes a worker's output on line by line, each line prefixed
// with the worker's number. Only exec's copying goroutine writes to it.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix []byte
	line   []byte
}

func (pw *prefixWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			pw.line = append(pw.line, b...)
			if len(pw.line) >= 64<<10 {
				pw.flush()
			}
			break
		}
		pw.line = append(pw.line, b[:i+1]...)
		pw.emit()
		b = b[i+1:]
	}
	return n, nil
}

func (pw *prefixWriter) emit() {
	pw.mu.Lock()
	pw.w.Write(append(pw.prefix[:len(pw.prefix):len(pw.prefix)], pw.line...))
	pw.mu.Unlock()
	pw.line = pw.line[:0]
}

// flush writes a last unterminated line.
func (pw *prefixWriter) flush() {
	if len(pw.line) > 0 {
		pw.line = append(pw.line, '\n')
		pw.emit()
	}
}
