package pool

import (
	"context"
	"fmt"
	"iter"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Map calls fn on every input using p's workers and returns the results in
// input order. fn receives a context that carries WorkerID and is cancelled
// when ctx is, when p's context is, or when an earlier call failed.
//
// The first failing call (an error or a panic, as a *PanicError) cancels the
// rest: inputs not yet started are skipped, and Map returns, once every
// started call has returned, the results gathered so far and that error
// wrapped with its index. If ctx or p's context ends first, Map returns
// context.Cause of it. Results of inputs that did not succeed are R's zero
// value. Map returns ErrClosed if p is closed.
//
// Map does not count towards p's Wait error or its Failed count: its errors
// are returned here. It blocks while p's queue is full, so calling it from a
// task of the same pool can deadlock. It allocates one closure per input.
func Map[T, R any](ctx context.Context, p *Pool, inputs []T, fn func(context.Context, T) (R, error)) ([]R, error) {
	if fn == nil {
		return nil, ErrNilTask
	}
	if p.state.Load()&closedBit != 0 {
		return nil, ErrClosed
	}
	results := make([]R, len(inputs))
	if len(inputs) == 0 {
		return results, nil
	}
	sub := newScope(ctx, p)
	defer sub.close()

	var (
		remaining atomic.Int64
		succeeded atomic.Int64
		done      = make(chan struct{})
	)
	remaining.Store(int64(len(inputs)))
	finish := func(n int64) {
		if remaining.Add(-n) == 0 {
			close(done)
		}
	}
	submitted := 0
	for i := range inputs {
		if sub.ctx.Err() != nil {
			break
		}
		err := p.Go(func(tctx context.Context) error {
			if !sub.enter() {
				return nil
			}
			defer sub.leave()
			defer finish(1)
			if sub.ctx.Err() != nil {
				return nil
			}
			r, err := call(sub.workerCtx(tctx), fn, inputs[i])
			if err != nil {
				sub.fail(fmt.Errorf("pool: Map input %d: %w", i, err))
				return nil
			}
			results[i] = r
			succeeded.Add(1)
			return nil
		})
		if err != nil {
			sub.fail(fmt.Errorf("pool: Map: %w", err))
			break
		}
		submitted++
	}
	if rest := len(inputs) - submitted; rest > 0 {
		finish(int64(rest))
	}
	select {
	case <-done:
	case <-sub.ctx.Done():
		sub.stop()
	}
	if err := sub.err(); err != nil {
		return results, err
	}
	if succeeded.Load() == int64(len(inputs)) {
		return results, nil
	}
	return results, context.Cause(sub.ctx)
}

// Stream calls fn on each input using p's workers and yields the results in
// input order, keeping at most twice p's worker count of inputs taken and not
// yet yielded. It is StreamN with that window.
func Stream[T, R any](ctx context.Context, p *Pool, inputs iter.Seq[T], fn func(context.Context, T) (R, error)) iter.Seq2[R, error] {
	return StreamN(ctx, p, 2*p.Workers(), inputs, fn)
}

// StreamN calls fn on each input using p's workers and yields each result
// with its error in input order, so a slow input holds back the ones after
// it. At most window inputs (at least 1) have been taken from inputs and not
// yet yielded: Stream pulls the next input only when the loop body has taken
// a result, so a slow consumer slows the producer and memory stays bounded
// whatever the length of inputs.
//
// A failed call is yielded as (zero R, err) and the stream goes on; a panic
// in fn becomes a *PanicError. If ctx or p's context ends, Stream yields
// (zero R, context.Cause) once and stops. Breaking out of the loop cancels
// the context of calls still running, waits for them to return, and stops
// inputs; no goroutine is left behind. If p is closed, Stream yields
// (zero R, ErrClosed) once. Each input costs one closure and one small
// result slot.
func StreamN[T, R any](ctx context.Context, p *Pool, window int, inputs iter.Seq[T], fn func(context.Context, T) (R, error)) iter.Seq2[R, error] {
	window = max(window, 1)
	return func(yield func(R, error) bool) {
		var zero R
		if fn == nil {
			yield(zero, ErrNilTask)
			return
		}
		sub := newScope(ctx, p)
		defer sub.close()
		next, stopInputs := iter.Pull(inputs)
		defer stopInputs()

		pending := make([]*slot[R], window) // a ring: head, n
		head, n := 0, 0
		exhausted := false
		refill := func() {
			for n < window && !exhausted && sub.ctx.Err() == nil {
				v, ok := next()
				if !ok {
					exhausted = true
					return
				}
				s := &slot[R]{done: make(chan struct{})}
				pending[(head+n)%window] = s
				n++
				if err := goCall(p, sub, fn, v, sink[R](s)); err != nil {
					s.put(zero, err)
					exhausted = true
				}
			}
		}

		refill()
		for n > 0 {
			s := pending[head]
			pending[head] = nil
			head, n = (head+1)%window, n-1
			select {
			case <-s.done:
			case <-sub.ctx.Done():
			}
			if sub.ctx.Err() != nil {
				yield(zero, context.Cause(sub.ctx))
				return
			}
			if !yield(s.r, s.err) {
				return
			}
			refill()
		}
	}
}

// StreamUnordered is StreamN without the ordering: results are yielded as
// calls finish, so one slow input does not hold back the rest. The window,
// cancellation, early-break and closed-pool behaviour are StreamN's. Return
// the input inside R if the caller needs to match results to inputs.
func StreamUnordered[T, R any](ctx context.Context, p *Pool, window int, inputs iter.Seq[T], fn func(context.Context, T) (R, error)) iter.Seq2[R, error] {
	window = max(window, 1)
	return func(yield func(R, error) bool) {
		var zero R
		if fn == nil {
			yield(zero, ErrNilTask)
			return
		}
		sub := newScope(ctx, p)
		defer sub.close()
		next, stopInputs := iter.Pull(inputs)
		defer stopInputs()

		// Buffered to the window, so a finishing call never blocks even
		// after the consumer has gone.
		results := make(resultChan[R], window)
		inFlight := 0
		exhausted := false
		for {
			for inFlight < window && !exhausted && sub.ctx.Err() == nil {
				v, ok := next()
				if !ok {
					exhausted = true
					break
				}
				inFlight++
				if err := goCall(p, sub, fn, v, sink[R](results)); err != nil {
					results.put(zero, err)
					exhausted = true
				}
			}
			if inFlight == 0 {
				return
			}
			var res result[R]
			select {
			case res = <-results:
			case <-sub.ctx.Done():
			}
			if sub.ctx.Err() != nil {
				yield(zero, context.Cause(sub.ctx))
				return
			}
			inFlight--
			if !yield(res.r, res.err) {
				return
			}
		}
	}
}

// A sink takes the outcome of one call of a stream.
type sink[R any] interface{ put(R, error) }

// A slot holds one call's outcome for StreamN, which yields in order.
type slot[R any] struct {
	r    R
	err  error
	done chan struct{}
}

func (s *slot[R]) put(r R, err error) {
	s.r, s.err = r, err
	close(s.done)
}

type result[R any] struct {
	r   R
	err error
}

// A resultChan collects outcomes for StreamUnordered as they come.
type resultChan[R any] chan result[R]

func (c resultChan[R]) put(r R, err error) { c <- result[R]{r, err} }

// goCall submits fn(v) to p as one of sub's calls, and puts its outcome
// into out: fn's result, or the scope's cause if the scope ended before
// the call began. A call the scope never lets in puts nothing: the scope
// is closing, and its consumer has stopped waiting.
func goCall[T, R any](p *Pool, sub *scope, fn func(context.Context, T) (R, error), v T, out sink[R]) error {
	return p.Go(func(tctx context.Context) error {
		if !sub.enter() {
			return nil
		}
		defer sub.leave()
		if sub.ctx.Err() != nil {
			var zero R
			out.put(zero, context.Cause(sub.ctx))
			return nil
		}
		out.put(call(sub.workerCtx(tctx), fn, v))
		return nil
	})
}

// call runs fn, turning a panic into a *PanicError: Map and Stream catch
// panics themselves because the pool's recovery would leave their result
// slot unfilled.
func call[T, R any](ctx context.Context, fn func(context.Context, T) (R, error), v T) (r R, err error) {
	defer func() {
		if x := recover(); x != nil {
			err = &PanicError{Value: x, Stack: debug.Stack()}
		}
	}()
	return fn(ctx, v)
}

// scope tracks the calls one Map or Stream submits, so it can stop the ones
// not yet started and wait for the running ones: a pool that abandons queued
// tasks never runs them, so waiting for every task to finish could hang.
type scope struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc
	unwatch func() bool
	ctxs    []context.Context // per worker, touched only by that worker

	mu      sync.Mutex
	stopped bool
	first   error
	running sync.WaitGroup
}

func newScope(ctx context.Context, p *Pool) *scope {
	s := &scope{ctxs: make([]context.Context, p.Workers())}
	s.ctx, s.cancel = context.WithCancelCause(ctx)
	s.unwatch = context.AfterFunc(p.ctx, func() { s.cancel(context.Cause(p.ctx)) })
	return s
}

// enter reports whether a task may start, counting it as running if so.
func (s *scope) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.running.Add(1)
	return true
}

func (s *scope) leave() { s.running.Done() }

// stop keeps tasks not yet started from starting and waits for the others.
func (s *scope) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.running.Wait()
}

func (s *scope) fail(err error) {
	s.mu.Lock()
	if s.first == nil {
		s.first = err
	}
	s.mu.Unlock()
	s.cancel(err)
}

func (s *scope) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// workerCtx gives fn the scope's cancellation together with the worker's
// identity, built once per worker rather than once per call.
func (s *scope) workerCtx(tctx context.Context) context.Context {
	id := WorkerID(tctx)
	c := s.ctxs[id-1]
	if c == nil {
		c = context.WithValue(s.ctx, workerKey{}, id)
		s.ctxs[id-1] = c
	}
	return c
}

func (s *scope) close() {
	s.cancel(context.Canceled)
	s.stop()
	s.unwatch()
}
