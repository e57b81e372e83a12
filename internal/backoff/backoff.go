// Package backoff spaces out the retries of something that fails or finds
// nothing to do yet: each delay doubles from a minimum up to a cap,
// optionally with jitter so that waiters that began together do not retry
// in lockstep.
//
// crew has three such waits: an ipc lock polled with a non-blocking flock,
// the termination sequence of package child polling for a process group to
// empty, and the cluster worker's reconnects and result retries. They all
// use this one type.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"

	"golang.org/x/sys/unix"
)

// A Backoff hands out the delays between retries: Min first, then each
// twice the one before, up to Max. Set Min (and Max, if the delays should
// grow) before use; a zero Min makes every delay zero, and a Max below Min
// means Min. After Reset the delays start again from Min.
//
// A Backoff is a value each waiter keeps for itself: it must not be used
// by two goroutines at once, and a copy carries on from the same delay.
// Next and Peek cost a few nanoseconds; Sleep costs one timer or, below a
// millisecond, one nanosleep(2).
type Backoff struct {
	// Min is the first delay.
	Min time.Duration
	// Max caps the doubling.
	Max time.Duration
	// Jitter draws each delay Next returns uniformly from [d/2, 3d/2)
	// around its nominal value d, which keeps the average at d.
	Jitter bool

	cur time.Duration // the nominal delay Next returns next; 0 before the first
}

// Peek returns the nominal delay the next call to Next is based on (Next
// may jitter it), without advancing: for a log line saying when the next
// attempt comes.
func (b *Backoff) Peek() time.Duration {
	if b.cur == 0 {
		return b.Min
	}
	return b.cur
}

// Next returns the delay to wait before the next attempt and doubles the
// one after it, up to Max.
func (b *Backoff) Next() time.Duration {
	d := b.Peek()
	b.cur = min(2*d, max(b.Max, b.Min))
	if b.Jitter && d > 0 {
		d = d/2 + rand.N(d)
	}
	return d
}

// Reset starts the delays again from Min, after an attempt succeeded.
func (b *Backoff) Reset() { b.cur = 0 }

// shortSleep is the delay below which Sleep uses nanosleep(2) rather than
// a Go timer.
const shortSleep = time.Millisecond

// Sleep waits the delay Next returns. It returns ctx.Err() if ctx is done
// first, and nil otherwise.
//
// Go's timers do not fire much sooner than a millisecond in an otherwise
// idle program, which would turn a 50µs delay into 1ms; so a delay under a
// millisecond is slept in nanosleep(2), which is precise but holds the
// goroutine's thread and notices ctx only when it wakes.
func (b *Backoff) Sleep(ctx context.Context) error {
	d := b.Next()
	if d < shortSleep {
		ts := unix.NsecToTimespec(int64(d))
		_ = unix.Nanosleep(&ts, nil) // EINTR only makes the retry sooner
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
