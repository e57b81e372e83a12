package proc

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sync"
)

// A Future is the handle of one call submitted with Func.Submit: Python's
// concurrent.futures.Future. Wait for its result with Wait, select on Done,
// stop it with Cancel, or wait for the first of several (of any result
// types) with AsCompleted and Wait.
//
// Its methods are safe for concurrent use and may be called any number of
// times: every Wait after completion returns the same result. A Future must
// not be copied. A nil *Future is done, and its Wait and Err return an
// error. It costs the Future, its channel and its call frame; its result
// is decoded once, by the first Wait or Err.
type Future[Out any] struct {
	c    call
	dec  decoder[Out]
	once sync.Once
	out  Out
	err  error
}

// decoder is the Func a Future's reply is decoded by.
type decoder[Out any] interface {
	one(t *task) (Out, error)
}

// call is the part of a Future that does not depend on its result type:
// its task, what completion does, and who waits for it.
type call struct {
	p    *Pool
	t    task
	done chan struct{}

	mu      sync.Mutex
	fired   bool
	stop    func() bool // ends the watch on Submit's context
	waiters []waiter
}

// A waiter is told a call completed by the send of i on ch, which has room.
type waiter struct {
	ch chan<- int
	i  int
}

// fire runs once, when the call completes.
func (c *call) fire() {
	close(c.done)
	c.mu.Lock()
	c.fired = true
	ws, stop := c.waiters, c.stop
	c.waiters, c.stop = nil, nil
	c.mu.Unlock()
	for _, w := range ws {
		w.ch <- w.i
	}
	if stop != nil {
		stop()
	}
}

// notify sends i on ch when the call completes, or now if it has.
func (c *call) notify(ch chan<- int, i int) {
	c.mu.Lock()
	if !c.fired {
		c.waiters = append(c.waiters, waiter{ch, i})
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	ch <- i
}

// unnotify forgets the waiters on ch.
func (c *call) unnotify(ch chan<- int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waiters = slices.DeleteFunc(c.waiters, func(w waiter) bool { return w.ch == ch })
}

var errNilFuture = errors.New("proc: nil Future")

// Submit sends f(in) to one of p's workers and returns its Future at once:
// Python's executor.submit. It blocks only while p's queue is full (the
// pool's back-pressure: at most 2 × workers × (prefetch+1) calls wait for a
// worker), and returns ctx.Err() if ctx ends first, or ErrClosed on a
// closed pool.
//
// ctx bounds the call too: if it ends before the call completes, the call
// is cancelled as by Future.Cancel, and Wait returns an error that is both
// ErrCanceled and the context's cause. Pass context.WithoutCancel(ctx) for
// a call that outlives it. Options: WithCallTimeout.
func (f *Func[In, Out]) Submit(ctx context.Context, p *Pool, in In, opts ...CallOption) (*Future[Out], error) {
	fu, err := f.submit(ctx, p, in, opts)
	if err != nil {
		return nil, err
	}
	if ctx.Done() != nil {
		c := &fu.c
		c.mu.Lock()
		if !c.fired {
			c.stop = context.AfterFunc(ctx, func() {
				p.cancel(&c.t, fmt.Errorf("%w: %w", ErrCanceled, context.Cause(ctx)))
			})
		}
		c.mu.Unlock()
	}
	return fu, nil
}

// submit queues one call of f(in) on p: the path of Submit and Call.
func (f *Func[In, Out]) submit(ctx context.Context, p *Pool, in In, opts []CallOption) (*Future[Out], error) {
	if p == nil {
		return nil, ErrClosed
	}
	cfg := callOptions(opts)
	if cfg.err != nil {
		return nil, cfg.err
	}
	fu := &Future[Out]{dec: f}
	c := &fu.c
	c.p, c.done = p, make(chan struct{})
	c.t.fut = c
	c.t.timeout = cfg.timeoutFor(p)
	if err := f.fill(&c.t, p, []In{in}, nil); err != nil {
		return nil, err
	}
	if err := p.submit(ctx, &c.t); err != nil {
		return nil, err
	}
	return fu, nil
}

// one decodes the reply of a one-input task.
func (f *Func[In, Out]) one(t *task) (Out, error) {
	outs, errs := f.result(t, 1, nil)
	if errs != nil && errs[0] != nil {
		var zero Out
		return zero, errs[0]
	}
	return outs[0], nil
}

// Wait blocks until the call completes and returns its result, or until
// ctx ends and returns ctx.Err(); a Wait that gives up leaves the call
// running (Cancel stops it). The call's errors are Call's: *RemoteError,
// *PanicError, *CrashError, ErrTimeout, ErrClosed, and ErrCanceled after a
// cancel.
func (fu *Future[Out]) Wait(ctx context.Context) (Out, error) {
	if fu == nil {
		var zero Out
		return zero, errNilFuture
	}
	select {
	case <-fu.c.done:
	case <-ctx.Done():
		var zero Out
		return zero, ctx.Err()
	}
	return fu.result()
}

// result decodes the reply, once, and releases its buffer.
func (fu *Future[Out]) result() (Out, error) {
	fu.once.Do(func() {
		fu.out, fu.err = fu.dec.one(&fu.c.t)
		// The call frame stays: a sender may still be writing it out.
		fu.c.t.release()
	})
	return fu.out, fu.err
}

// closedChan is the Done of a nil Future.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Done returns a channel that is closed when the call completes: its result
// arrived, it failed, or it was cancelled. Wait then returns at once.
func (fu *Future[Out]) Done() <-chan struct{} {
	if fu == nil {
		return closedChan
	}
	return fu.c.done
}

// Err returns nil until Done is closed, then the call's error, nil if it
// succeeded: what Wait would return beside the result.
func (fu *Future[Out]) Err() error {
	if fu == nil {
		return errNilFuture
	}
	select {
	case <-fu.c.done:
	default:
		return nil
	}
	_, err := fu.result()
	return err
}

// Cancel stops the call, unless it has completed, and reports whether it
// did: then Wait returns ErrCanceled at once, and a result that arrives
// later is dropped. A call still queued in the pool is never sent. A call
// that a worker runs is killed with its worker, which is replaced, if the
// pool was made WithKillOnCancel; otherwise the worker is sent a cancel
// request, which cancels the function's context (or skips the call if the
// worker has not reached it), and the worker is busy until the function
// returns. Cancel does not block.
func (fu *Future[Out]) Cancel() bool {
	if fu == nil {
		return false
	}
	return fu.c.p.cancel(&fu.c.t, ErrCanceled)
}

func (fu *Future[Out]) base() *call {
	if fu == nil {
		return nil
	}
	return &fu.c
}

// A Handle is a Future of any result type, as AsCompleted and Wait take
// them: a *Future[int] and a *Future[string] are both Handles. Only this
// package's Futures implement it. Compare a Handle with the Futures you hold
// (h == fu) or switch on its type to get at its result.
type Handle interface {
	// Done returns a channel closed when the call completes.
	Done() <-chan struct{}
	// Err returns nil until Done is closed, then the call's error.
	Err() error
	// Cancel stops the call unless it has completed.
	Cancel() bool
	base() *call
}

var _ Handle = (*Future[int])(nil)

// AsCompleted yields hs as their calls complete, the first to complete
// first: Python's concurrent.futures.as_completed, across functions of any
// result types. Handles already complete come first, in the order given.
// The sequence ends when every handle has been yielded, when the loop
// breaks, or when ctx ends, whichever is first; after a short sequence,
// ctx.Err() says whether ctx ended it. Nil handles are skipped. It leaves
// the calls alone (breaking out cancels nothing) and starts no goroutine:
// each call tells the iterator when it completes, which costs a slot in a
// channel per handle.
func AsCompleted(ctx context.Context, hs ...Handle) iter.Seq[Handle] {
	return func(yield func(Handle) bool) {
		ch := make(chan int, len(hs))
		calls := make([]*call, len(hs))
		n := 0
		for i, h := range hs {
			if h == nil || h.base() == nil {
				continue
			}
			calls[i] = h.base()
			calls[i].notify(ch, i)
			n++
		}
		defer func() {
			for _, c := range calls {
				if c != nil {
					c.unnotify(ch)
				}
			}
		}()
		for ; n > 0; n-- {
			var i int
			select {
			case i = <-ch:
			case <-ctx.Done():
				return
			}
			if !yield(hs[i]) {
				return
			}
		}
	}
}

// A WaitMode says when Wait returns: Python's return_when.
type WaitMode int

const (
	// FirstCompleted returns when any call completes, whatever its outcome
	// (FIRST_COMPLETED).
	FirstCompleted WaitMode = iota + 1
	// FirstError returns when any call fails, or when all have completed
	// if none failed (FIRST_EXCEPTION). A cancelled call counts as failed.
	FirstError
	// AllCompleted returns when every call has completed (ALL_COMPLETED).
	AllCompleted
)

// Wait blocks until the calls of hs reach mode, then returns those that
// have completed (done) and the rest (pending), each in the order given:
// Python's concurrent.futures.wait. If ctx ends first it returns the same
// split and ctx.Err(). It cancels nothing. Nil handles are left out of
// both lists; with no handle left it returns at once. An unknown mode is
// an error.
func Wait(ctx context.Context, mode WaitMode, hs ...Handle) (done, pending []Handle, err error) {
	if mode < FirstCompleted || mode > AllCompleted {
		return nil, nil, fmt.Errorf("proc: unknown WaitMode %d", mode)
	}
	reached := false
	for h := range AsCompleted(ctx, hs...) {
		if mode == FirstCompleted || (mode == FirstError && h.Err() != nil) {
			reached = true
			break
		}
	}
	for _, h := range hs {
		if h == nil || h.base() == nil {
			continue
		}
		select {
		case <-h.Done():
			done = append(done, h)
		default:
			pending = append(pending, h)
		}
	}
	if !reached && len(pending) > 0 {
		err = ctx.Err()
	}
	return done, pending, err
}
