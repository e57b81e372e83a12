package queue

// ring is a growable circular buffer; it never shrinks below what it held
// at its peak, which keeps a steady-state queue free of allocations.
type ring[T any] struct {
	items []T
	head  int
	n     int
}

func (r *ring[T]) len() int { return r.n }

func (r *ring[T]) push(v T) {
	if r.n == len(r.items) {
		r.grow()
	}
	r.items[(r.head+r.n)%len(r.items)] = v
	r.n++
}

func (r *ring[T]) pop() T {
	var zero T
	v := r.items[r.head]
	r.items[r.head] = zero // let the garbage collector have it
	r.head = (r.head + 1) % len(r.items)
	r.n--
	return v
}

func (r *ring[T]) grow() {
	size := 2 * len(r.items)
	if size < 8 {
		size = 8
	}
	items := make([]T, size)
	for i := 0; i < r.n; i++ {
		items[i] = r.items[(r.head+i)%len(r.items)]
	}
	r.items, r.head = items, 0
}

// waiter is one blocked Put or Get. Its fields other than ready are guarded
// by the queue's mutex until ready is closed, after which the owner reads
// them alone.
type waiter[T any] struct {
	prev, next *waiter[T]
	v          T
	err        error
	settled    bool
	ready      chan struct{}
}

func newWaiter[T any]() *waiter[T] {
	return &waiter[T]{ready: make(chan struct{})}
}

func (w *waiter[T]) settle(err error) {
	w.err = err
	w.settled = true
	close(w.ready)
}

// waitList is an intrusive doubly linked FIFO, so a cancelled waiter can
// leave from the middle in constant time.
type waitList[T any] struct {
	head, tail *waiter[T]
}

func (l *waitList[T]) push(w *waiter[T]) {
	w.prev, w.next = l.tail, nil
	if l.tail == nil {
		l.head = w
	} else {
		l.tail.next = w
	}
	l.tail = w
}

func (l *waitList[T]) pop() *waiter[T] {
	w := l.head
	if w != nil {
		l.remove(w)
	}
	return w
}

func (l *waitList[T]) remove(w *waiter[T]) {
	if w.prev == nil {
		l.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		l.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next = nil, nil
}
