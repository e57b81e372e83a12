package runner

import (
	"container/heap"
	"time"
)

// medianTracker keeps the running median of job run times in two heaps.
type medianTracker struct {
	lo maxHeap // lower half
	hi minHeap // upper half
}

func (m *medianTracker) add(d time.Duration) {
	if m.lo.Len() == 0 || d <= m.lo.minHeap[0] {
		heap.Push(&m.lo, d)
	} else {
		heap.Push(&m.hi, d)
	}
	if m.lo.Len() > m.hi.Len()+1 {
		heap.Push(&m.hi, heap.Pop(&m.lo))
	} else if m.hi.Len() > m.lo.Len() {
		heap.Push(&m.lo, heap.Pop(&m.hi))
	}
}

// median is the median once three jobs have finished, as a single fast or
// slow start should not set everyone's timeout.
func (m *medianTracker) median() (time.Duration, bool) {
	if m.lo.Len()+m.hi.Len() < 3 {
		return 0, false
	}
	return m.lo.minHeap[0], true
}

type minHeap []time.Duration

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h minHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(time.Duration)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type maxHeap struct{ minHeap }

func (h maxHeap) Less(i, j int) bool { return h.minHeap[i] > h.minHeap[j] }
