// Package queue provides Queue, a joinable FIFO shared by goroutines: Go's
// answer to Python's queue.Queue.
//
// Producers Put items and consumers Get them; a consumer that has finished
// with an item calls TaskDone, and Join waits until every item ever put has
// been marked done. Close replaces Python's "put None once per worker"
// shutdown idiom: after Close, Put fails with ErrClosed while Get keeps
// handing out what is left and then fails with ErrClosed, so a worker loop is
//
//	for {
//		item, err := q.Get(ctx)
//		if err != nil {
//			return // ErrClosed: queue drained and closed; or ctx's error
//		}
//		handle(item)
//		q.TaskDone()
//	}
//
// # Ordering
//
// Items leave in the order they entered. When the queue is bounded and full,
// blocked Put calls enter in the order they started waiting (first come,
// first served), and blocked Get calls are served in the order they started
// waiting. An item is "entered" when its Put returns nil, so items from one
// goroutine keep that goroutine's order.
//
// # Cancellation
//
// Every blocking call takes a context. A Put that returns ctx's error has
// left nothing in the queue; a Get that returns ctx's error has taken
// nothing. If the context is cancelled at the same moment the call
// succeeds, the call reports success, so no item is ever lost or duplicated.
//
// # Cost
//
// Put and Get are one mutex acquisition each when they need not wait; a call
// that waits allocates one small waiter. Memory is proportional to the
// number of buffered items.
package queue

import (
	"context"
	"errors"
	"sync"
)

var (
	// ErrClosed is returned by Put and TryPut after Close, and by Get and
	// TryGet once the queue is closed and drained.
	ErrClosed = errors.New("queue: closed")
	// ErrFull is returned by TryPut when a bounded queue has no room.
	ErrFull = errors.New("queue: full")
	// ErrEmpty is returned by TryGet when there is nothing to get.
	ErrEmpty = errors.New("queue: empty")
	// ErrTaskDone is returned by TaskDone when it is called more times than
	// items were got.
	ErrTaskDone = errors.New("queue: TaskDone called more times than items were got")
)

// Queue is a first-in first-out queue of T, safe for concurrent use, that
// also counts unfinished work for Join.
//
// The zero value is an empty, open, unbounded queue ready to use. A Queue
// must not be copied after first use. Put blocks only when the queue is
// bounded and full; Get blocks only when it is empty and open; Join blocks
// until all work is done.
type Queue[T any] struct {
	mu       sync.Mutex
	buf      ring[T]
	capacity int // 0 means unbounded
	closed   bool

	getters waitList[T] // waiting Gets; non-empty only when buf is empty
	putters waitList[T] // waiting Puts; non-empty only when buf is full

	// unfinished counts items put and not yet marked done; outstanding
	// counts items got and not yet marked done, which bounds TaskDone.
	unfinished  int
	outstanding int
	joined      chan struct{} // closed when unfinished drops to zero
}

// New returns an empty queue holding at most capacity items; capacity 0 (or
// less) means unbounded.
func New[T any](capacity int) *Queue[T] {
	if capacity < 0 {
		capacity = 0
	}
	return &Queue[T]{capacity: capacity}
}

// Put appends v, blocking while a bounded queue is full. It returns
// ErrClosed if the queue is or becomes closed before v enters, and ctx's
// error if ctx ends first; in both cases v has not entered the queue.
func (q *Queue[T]) Put(ctx context.Context, v T) error {
	done := ctx.Done()
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	select {
	case <-done:
		q.mu.Unlock()
		return ctx.Err()
	default:
	}
	if q.offerLocked(v) {
		q.mu.Unlock()
		return nil
	}
	w := newWaiter[T]()
	w.v = v
	q.putters.push(w)
	q.mu.Unlock()

	select {
	case <-w.ready:
		return w.err
	case <-done:
		q.mu.Lock()
		defer q.mu.Unlock()
		if w.settled {
			// Taken (or refused by Close) just as ctx ended; report what happened.
			return w.err
		}
		q.putters.remove(w)
		return ctx.Err()
	}
}

// TryPut appends v if that can be done without waiting. It returns ErrFull
// when a bounded queue is full and ErrClosed after Close.
func (q *Queue[T]) TryPut(v T) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	if !q.offerLocked(v) {
		return ErrFull
	}
	return nil
}

// offerLocked makes v enter the queue if no Put is ahead of it and there is
// room, handing it straight to the oldest waiting Get if there is one.
func (q *Queue[T]) offerLocked(v T) bool {
	if w := q.getters.pop(); w != nil {
		q.unfinished++
		q.outstanding++
		w.v = v
		w.settle(nil)
		return true
	}
	if q.putters.head != nil || (q.capacity > 0 && q.buf.len() >= q.capacity) {
		return false
	}
	q.unfinished++
	q.buf.push(v)
	return true
}

// Get removes and returns the oldest item, blocking while the queue is empty
// and open. Once the queue is closed, Get returns the remaining items and
// then ErrClosed. If ctx ends first it returns ctx's error and takes nothing.
func (q *Queue[T]) Get(ctx context.Context) (T, error) {
	done := ctx.Done()
	q.mu.Lock()
	select {
	case <-done:
		q.mu.Unlock()
		var zero T
		return zero, ctx.Err()
	default:
	}
	if v, err := q.takeLocked(); err != ErrEmpty {
		q.mu.Unlock()
		return v, err
	}
	w := newWaiter[T]()
	q.getters.push(w)
	q.mu.Unlock()

	select {
	case <-w.ready:
		return w.v, w.err
	case <-done:
		q.mu.Lock()
		defer q.mu.Unlock()
		if w.settled {
			return w.v, w.err
		}
		q.getters.remove(w)
		var zero T
		return zero, ctx.Err()
	}
}

// TryGet removes and returns the oldest item if there is one. It returns
// ErrEmpty when the queue is empty and open, ErrClosed when it is empty and
// closed.
func (q *Queue[T]) TryGet() (T, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.takeLocked()
}

func (q *Queue[T]) takeLocked() (T, error) {
	if q.buf.len() == 0 {
		var zero T
		if q.closed {
			return zero, ErrClosed
		}
		return zero, ErrEmpty
	}
	v := q.buf.pop()
	q.outstanding++
	// Room has appeared: the oldest waiting Put enters now, which is what
	// keeps blocked putters in first-come first-served order.
	if w := q.putters.pop(); w != nil {
		q.unfinished++
		q.buf.push(w.v)
		var zero T
		w.v = zero
		w.settle(nil)
	}
	return v, nil
}

// TaskDone marks one item got from the queue as finished. It returns
// ErrTaskDone, changing nothing, if every item got has already been marked.
func (q *Queue[T]) TaskDone() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.outstanding == 0 {
		return ErrTaskDone
	}
	q.outstanding--
	q.unfinished--
	if q.unfinished == 0 && q.joined != nil {
		close(q.joined)
		q.joined = nil
	}
	return nil
}

// Join blocks until every item ever put has been got and marked done with
// TaskDone, and returns nil; it returns at once if nothing is unfinished. If
// ctx ends first it returns ctx's error. Close does not release Join: items
// left in a closed queue are still work to be done.
func (q *Queue[T]) Join(ctx context.Context) error {
	q.mu.Lock()
	if q.unfinished == 0 {
		q.mu.Unlock()
		return nil
	}
	if q.joined == nil {
		q.joined = make(chan struct{})
	}
	ch := q.joined
	q.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the queue from accepting items: waiting and later Puts fail
// with ErrClosed, and Gets fail with ErrClosed once the items already in the
// queue are gone. Calling Close again does nothing.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.closed = true
	for w := q.getters.pop(); w != nil; w = q.getters.pop() {
		w.settle(ErrClosed)
	}
	for w := q.putters.pop(); w != nil; w = q.putters.pop() {
		var zero T
		w.v = zero
		w.settle(ErrClosed)
	}
}

// Len returns the number of items in the queue, not counting Puts still
// waiting for room.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.buf.len()
}

// Cap returns the queue's capacity, 0 meaning unbounded.
func (q *Queue[T]) Cap() int { return q.capacity }

// Unfinished returns the number of items put and not yet marked done, the
// count Join waits on.
func (q *Queue[T]) Unfinished() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.unfinished
}
