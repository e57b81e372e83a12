package queue

// Waiting reports how many Puts and Gets are blocked, so tests can order
// goroutines without sleeping.
func (q *Queue[T]) Waiting() (putters, getters int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for w := q.putters.head; w != nil; w = w.next {
		putters++
	}
	for w := q.getters.head; w != nil; w = w.next {
		getters++
	}
	return putters, getters
}
