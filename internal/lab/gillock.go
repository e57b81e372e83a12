package lab

import (
	"sync"
	"sync/atomic"
	"time"
)

// gil emulates CPython's global interpreter lock (Python/ceval_gil.c) for
// goroutines: one holder at a time; a waiter that has waited a whole switch
// interval without the lock changing hands sets a drop request; the holder
// sees it at its next check (CPython's eval breaker), releases, and does not
// take the lock back before another thread has (forced switching).
//
// The zero value is not usable; use newGIL. A gil must not be copied.
type gil struct {
	interval time.Duration
	dropReq  atomic.Bool

	mu       sync.Mutex
	held     bool
	switches uint64        // bumped on every acquisition
	released chan struct{} // closed and replaced on every release
	taken    chan struct{} // closed and replaced on every acquisition

	// spans records, per worker, when it held the lock, for the timeline.
	spansMu sync.Mutex
	spans   []Span
	epoch   time.Time
}

func newGIL(interval time.Duration, epoch time.Time) *gil {
	return &gil{
		interval: interval,
		released: make(chan struct{}),
		taken:    make(chan struct{}),
		epoch:    epoch,
	}
}

// acquire blocks until the calling worker holds the lock and returns the
// time it got it.
func (g *gil) acquire() time.Time {
	g.mu.Lock()
	for g.held {
		released, seen := g.released, g.switches
		g.mu.Unlock()
		timer := time.NewTimer(g.interval)
		select {
		case <-released:
			timer.Stop()
		case <-timer.C:
			g.mu.Lock()
			// Only ask for a drop when nobody else got the lock meanwhile,
			// as CPython does, so a busy holder is not interrupted twice.
			if g.held && g.switches == seen {
				g.dropReq.Store(true)
			}
			g.mu.Unlock()
		}
		g.mu.Lock()
	}
	g.held = true
	g.switches++
	g.dropReq.Store(false)
	close(g.taken)
	g.taken = make(chan struct{})
	g.mu.Unlock()
	return time.Now()
}

// release gives the lock up and records the holding as a span of worker.
func (g *gil) release(worker int, since time.Time) {
	now := time.Now()
	g.spansMu.Lock()
	g.spans = append(g.spans, Span{Worker: worker, Start: since.Sub(g.epoch).Seconds(), End: now.Sub(g.epoch).Seconds()})
	g.spansMu.Unlock()
	g.mu.Lock()
	g.held = false
	close(g.released)
	g.released = make(chan struct{})
	g.mu.Unlock()
}

// check is the eval breaker: when a waiter asked for the lock, the holder
// releases it, waits until another worker has taken it, and queues for it
// again. It returns the time the caller holds the lock from.
func (g *gil) check(worker int, since time.Time) time.Time {
	if !g.dropReq.Load() {
		return since
	}
	g.mu.Lock()
	taken := g.taken
	g.mu.Unlock()
	g.release(worker, since)
	<-taken
	return g.acquire()
}

// timeline returns the recorded holdings.
func (g *gil) timeline() []Span {
	g.spansMu.Lock()
	defer g.spansMu.Unlock()
	return append([]Span(nil), g.spans...)
}
