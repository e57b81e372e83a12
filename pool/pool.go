// Package pool runs functions on a fixed number of goroutines.
//
// A Pool is scoped: whoever creates it calls Wait (or Close), which stops
// new submissions, runs every task already queued and joins the workers.
//
//	p, err := pool.New(4)
//	if err != nil { ... }
//	for _, f := range files {
//		p.Go(func(ctx context.Context) error { return process(ctx, f) })
//	}
//	err = p.Wait() // errors.Join of every task's error
//
// Go blocks while the queue of submitted-but-not-started tasks is full, so a
// fast producer is slowed to the workers' pace instead of piling up memory
// (WithQueue sets its length). Inside a task, WorkerID says which worker
// (1..n) runs it.
//
// # Errors, panics and cancellation
//
// A task's error is collected and returned by Wait; it does not stop the
// pool unless WithCancelOnError was given, in which case the first error
// cancels the pool's context. A panic in a task is recovered and becomes a
// *PanicError carrying the value and the stack; the worker goes on with the
// next task.
//
// Every task receives the pool's context (WithContext sets its parent).
// Once it is cancelled, running tasks see ctx.Done() and queued tasks are
// abandoned: they are not run, and Wait reports the context's error once
// for all of them.
//
// # Map and Stream
//
// Map applies a function to a slice on the pool and returns results in input
// order. Stream does the same over an iter.Seq of any length, yielding
// results in input order while holding only a bounded window of items in
// flight.
//
// # Cost
//
// Go costs one atomic add and one buffered-channel send and makes no
// allocation of its own; a worker adds a deferred recover, a context check
// and one atomic add on a counter no other worker touches. A pool of n
// workers costs n goroutines for its lifetime. See bench/pool for figures
// against ants, pond, conc, errgroup and a bare channel.
package pool

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

var (
	// ErrWorkers is returned by New when the worker count is not positive.
	ErrWorkers = errors.New("pool: number of workers must be positive")
	// ErrNilTask is returned by Go when the task is nil.
	ErrNilTask = errors.New("pool: nil task")
	// ErrClosed is returned by Go after Wait or Close has begun.
	ErrClosed = errors.New("pool: closed")
)

// PanicError is the error a task's panic becomes.
//
// proc.PanicError has the same fields; there the value is only the text
// that crossed the process boundary, here it is the value itself, so
// Value keeps its type and a panic(err) stays errors.Is-able (see Unwrap).
type PanicError struct {
	// Value is what the task passed to panic.
	Value any
	// Stack is the panicking goroutine's stack trace, taken by
	// runtime/debug.Stack.
	Stack []byte
}

// Error reads "pool: task panicked: " and the value formatted with %v; the
// stack is left out to keep messages short, and is in the Stack field.
func (e *PanicError) Error() string {
	return fmt.Sprintf("pool: task panicked: %v", e.Value)
}

// Unwrap returns the panic value if it is an error, so errors.Is sees
// through a panic(err).
func (e *PanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// An Option configures a Pool in New.
type Option func(*config) error

type config struct {
	ctx           context.Context
	cancelOnError bool
	queue         int
	queueSet      bool
}

// WithContext makes ctx the parent of the context every task receives;
// cancelling it abandons queued tasks.
func WithContext(ctx context.Context) Option {
	return func(c *config) error {
		if ctx == nil {
			return errors.New("pool: nil context")
		}
		c.ctx = ctx
		return nil
	}
}

// WithCancelOnError makes the first task error (or panic) cancel the pool's
// context, so running tasks are told to stop and queued ones are abandoned.
func WithCancelOnError() Option {
	return func(c *config) error {
		c.cancelOnError = true
		return nil
	}
}

// WithQueue sets how many submitted tasks may wait for a worker before Go
// blocks; 0 makes Go wait until a worker takes the task. The default is
// 64 or twice the number of workers, whichever is larger.
func WithQueue(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("pool: negative queue length %d", n)
		}
		c.queue, c.queueSet = n, true
		return nil
	}
}

// Pool runs tasks on a fixed set of worker goroutines, started by New.
//
// The zero value is not usable; create pools with New. A Pool must not be
// copied. Go blocks while the queue is full; Wait and Close block until
// every queued task has run. A Pool is done after Wait: it cannot be reused.
type Pool struct {
	// state holds closedBit and the number of tasks Go has accepted: one
	// atomic operation both counts a task and orders it against Wait.
	state atomic.Int64
	// tasks is never closed, so a Go racing with Wait cannot panic; Wait
	// stops workers with nil sentinels instead and runs stragglers itself.
	tasks chan func(context.Context) error
	// The submitter writes state on every Go; keep workers' reads of the
	// fields below off its cache line.
	_ [64]byte

	ctx           context.Context
	cancel        context.CancelCauseFunc
	cancelOnError bool
	workers       []*worker
	wg            sync.WaitGroup

	mu   sync.Mutex
	errs []error

	waitOnce sync.Once
	err      error
}

const closedBit = 1 << 62

// worker's counters are written by its own goroutine only, and padded so
// that workers do not fight over a cache line.
type worker struct {
	id        int
	pctx      context.Context // the pool's, checked before each task
	ctx       context.Context // pctx plus the worker's id, given to tasks
	done      atomic.Int64
	failed    atomic.Int64
	abandoned atomic.Int64
	_         [64]byte
}

type workerKey struct{}

// New starts a pool of workers goroutines. It returns ErrWorkers if workers
// is not positive, or an option's error.
func New(workers int, opts ...Option) (*Pool, error) {
	if workers <= 0 {
		return nil, fmt.Errorf("%w: got %d", ErrWorkers, workers)
	}
	c := config{ctx: context.Background()}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	if !c.queueSet {
		c.queue = max(64, 2*workers)
	}
	p := &Pool{
		tasks:         make(chan func(context.Context) error, c.queue),
		cancelOnError: c.cancelOnError,
		workers:       make([]*worker, workers),
	}
	p.ctx, p.cancel = context.WithCancelCause(c.ctx)
	p.wg.Add(workers)
	for i := range p.workers {
		w := &worker{id: i + 1, pctx: p.ctx}
		w.ctx = context.WithValue(p.ctx, workerKey{}, w.id)
		p.workers[i] = w
		go p.work(w)
	}
	return p, nil
}

// Go queues task to run on a worker with the pool's context, blocking while
// the queue is full. It returns ErrNilTask for a nil task and ErrClosed once
// Wait or Close has begun. Do not call Go from a task when the queue may be
// full: the task would wait for workers that may all be waiting for it.
func (p *Pool) Go(task func(ctx context.Context) error) error {
	if task == nil {
		return ErrNilTask
	}
	if p.state.Add(1)&closedBit != 0 {
		p.state.Add(-1)
		return ErrClosed
	}
	p.tasks <- task
	return nil
}

func (p *Pool) work(w *worker) {
	defer p.wg.Done()
	for task := range p.tasks {
		if task == nil {
			return
		}
		p.runTask(w, task)
	}
}

func (p *Pool) runTask(w *worker, task func(context.Context) error) {
	// ctx.Err is an atomic load, cheaper than a non-blocking receive on
	// ctx.Done(), and is set by the time a task sees ctx.Done() closed.
	if w.pctx.Err() != nil {
		w.abandoned.Add(1)
		return
	}
	if err := w.run(task); err != nil {
		w.failed.Add(1)
		p.fail(err)
	}
	w.done.Add(1)
}

func (w *worker) run(task func(context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return task(w.ctx)
}

func (p *Pool) fail(err error) {
	p.mu.Lock()
	p.errs = append(p.errs, err)
	p.mu.Unlock()
	if p.cancelOnError {
		p.cancel(&cancelError{pool: p, err: err})
	}
}

// cancelError is the cause a pool gives its context when WithCancelOnError
// applies, so Wait can tell its own cancellation from its parent's.
type cancelError struct {
	pool *Pool
	err  error
}

func (e *cancelError) Error() string { return "pool: cancelled after task error: " + e.err.Error() }
func (e *cancelError) Unwrap() error { return e.err }

// Wait stops the pool accepting tasks, waits for Go calls already under way,
// runs every queued task (or abandons them if the pool's context is
// cancelled), joins the workers and returns errors.Join of the tasks' errors
// in the order they happened, plus the context's error once if any task was
// abandoned. Later and concurrent calls wait for the same end and return the
// same error. Calling Wait from inside a task deadlocks.
func (p *Pool) Wait() error {
	p.waitOnce.Do(func() {
		accepted := p.state.Or(closedBit) &^ closedBit
		for range p.workers {
			p.tasks <- nil
		}
		p.wg.Wait()
		var processed, abandoned int64
		for _, w := range p.workers {
			abandoned += w.abandoned.Load()
			processed += w.done.Load()
		}
		processed += abandoned
		// A Go accepted before closedBit was set may have sent its task
		// after the sentinels; its count is known, so take them here.
		for ; processed < accepted; processed++ {
			p.runTask(p.workers[0], <-p.tasks)
		}
		abandoned = 0
		for _, w := range p.workers {
			abandoned += w.abandoned.Load()
		}
		cause := context.Cause(p.ctx)
		p.cancel(ErrClosed) // so streams started on a closed pool report ErrClosed, whichever path sees it first
		errs := p.errs
		if ce, ok := cause.(*cancelError); abandoned > 0 && !(ok && ce.pool == p) {
			errs = append(errs, fmt.Errorf("pool: %d queued tasks not run: %w", abandoned, cause))
		}
		p.err = errors.Join(errs...)
	})
	return p.err
}

// Close is Wait under the name io.Closer users expect: it finishes queued
// work, joins the workers and returns the tasks' errors. To drop queued work
// instead, cancel the context given with WithContext and then call Close.
func (p *Pool) Close() error { return p.Wait() }

// Stats is a snapshot of a pool's counters. Fields are read one at a time
// while tasks run, so they need not add up exactly until Wait returns.
type Stats struct {
	// Submitted counts tasks accepted by Go.
	Submitted int64
	// Running counts tasks started and not yet finished. It is derived from
	// the other counts and the queue length rather than counted, which
	// keeps an atomic operation off every task's path.
	Running int64
	// Done counts tasks finished, successfully or not.
	Done int64
	// Failed counts tasks, among Done, that returned an error or panicked.
	Failed int64
	// Abandoned counts queued tasks dropped because the context ended.
	Abandoned int64
}

// Stats returns the pool's counters. It costs a few atomic loads per worker.
func (p *Pool) Stats() Stats {
	var s Stats
	for _, w := range p.workers {
		s.Failed += w.failed.Load()
		s.Done += w.done.Load()
		s.Abandoned += w.abandoned.Load()
	}
	st := p.state.Load()
	s.Submitted = st &^ closedBit
	if st&closedBit == 0 {
		// After Wait begins the queue also holds sentinels; by then only
		// Wait's end is of interest, and Running settles to 0.
		s.Running = s.Submitted - int64(len(p.tasks)) - s.Done - s.Abandoned
	}
	s.Running = min(max(s.Running, 0), int64(len(p.workers)))
	return s
}

// Workers returns the number of workers the pool runs.
func (p *Pool) Workers() int { return len(p.workers) }

// WorkerID returns the number, from 1 to the pool's worker count, of the
// worker running the task that received ctx (or a context derived from it),
// and 0 for a context that did not come from a pool.
func WorkerID(ctx context.Context) int {
	id, _ := ctx.Value(workerKey{}).(int)
	return id
}
