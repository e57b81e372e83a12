// Package ipc_test compares crew/ipc's cross-process primitives with their
// in-process peers, to show what crossing the kernel costs:
//
//	cd bench && go test -run '^$' -bench . -benchtime 2s ./ipc/
package ipc_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"

	"crew/ipc"
)

type locker interface {
	Lock()
	Unlock()
}

// ipcLocker adapts ipc.Mutex and ipc.Semaphore to locker for the loops.
type ipcLocker struct {
	l interface {
		Lock(context.Context) error
		Unlock() error
	}
}

func (l ipcLocker) Lock() {
	if err := l.l.Lock(context.Background()); err != nil {
		panic(err)
	}
}

func (l ipcLocker) Unlock() {
	if err := l.l.Unlock(); err != nil {
		panic(err)
	}
}

type weighted struct{ *semaphore.Weighted }

func (w weighted) Lock() {
	if err := w.Acquire(context.Background(), 1); err != nil {
		panic(err)
	}
}

func (w weighted) Unlock() { w.Release(1) }

// BenchmarkUncontended is one Lock and Unlock with no one else waiting.
func BenchmarkUncontended(b *testing.B) {
	dir := b.TempDir()
	m, err := ipc.NewMutex("m", ipc.WithDir(dir))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	s, err := ipc.NewSemaphore("s", 4, ipc.WithDir(dir))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	cases := []struct {
		name string
		l    locker
	}{
		{"sync.Mutex", &sync.Mutex{}},
		{"ipc.Mutex", ipcLocker{m}},
		{"x-sync.Weighted(4)", weighted{semaphore.NewWeighted(4)}},
		{"ipc.Semaphore(4)", ipcLocker{s}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.l.Lock()
				c.l.Unlock()
			}
		})
	}
}

// BenchmarkContended has every goroutine take the lock in turn, each
// through its own ipc.Mutex value as separate processes would; the
// critical section is empty, so this measures hand-over.
func BenchmarkContended(b *testing.B) {
	b.Run("sync.Mutex", func(b *testing.B) {
		var mu sync.Mutex
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mu.Lock()
				mu.Unlock()
			}
		})
	})
	b.Run("ipc.Mutex", func(b *testing.B) {
		dir := b.TempDir()
		b.RunParallel(func(pb *testing.PB) {
			m, err := ipc.NewMutex("m", ipc.WithDir(dir))
			if err != nil {
				panic(err)
			}
			defer m.Close()
			l := ipcLocker{m}
			for pb.Next() {
				l.Lock()
				l.Unlock()
			}
		})
	})
}

// BenchmarkCounter adds to a 64-bit counter on the Go heap and in a shared
// memory segment: the same instruction on memory mapped differently.
func BenchmarkCounter(b *testing.B) {
	name := fmt.Sprintf("crew-bench-%d", os.Getpid())
	seg, err := ipc.CreateSegment(name, 64)
	if err != nil {
		b.Fatal(err)
	}
	defer seg.Remove()
	defer seg.Close()
	shared, err := seg.Counter(0)
	if err != nil {
		b.Fatal(err)
	}
	var heap atomic.Int64
	for _, c := range []struct {
		name string
		c    *atomic.Int64
	}{{"heap", &heap}, {"segment", shared}} {
		b.Run(c.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.c.Add(1)
				}
			})
		})
	}
}

// BenchmarkHandoff measures how long a waiter takes to notice a release:
// one locker holds the lock for a millisecond while another waits in Lock,
// then releases it. The handoff metric is the time from Unlock to the
// waiter's Lock returning. Two ipc.Mutex values exclude each other exactly
// as two processes do (flock locks belong to open files), so this is the
// cross-process figure. ipc's waiter polls with back-off, which is what it
// pays here; sync.Mutex wakes its waiter directly.
func BenchmarkHandoff(b *testing.B) {
	const hold = time.Millisecond
	dir := b.TempDir()
	pair := func(opts ...ipc.Option) (locker, locker) {
		x, err := ipc.NewMutex("h", append([]ipc.Option{ipc.WithDir(dir)}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		y, err := ipc.NewMutex("h", append([]ipc.Option{ipc.WithDir(dir)}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { x.Close(); y.Close() })
		return ipcLocker{x}, ipcLocker{y}
	}
	var mu sync.Mutex
	defHolder, defWaiter := pair()
	fastHolder, fastWaiter := pair(ipc.WithBackoff(2*time.Microsecond, 100*time.Microsecond))
	cases := []struct {
		name           string
		holder, waiter locker
	}{
		{"sync.Mutex", &mu, &mu},
		{"ipc.Mutex-default-backoff", defHolder, defWaiter},
		{"ipc.Mutex-backoff-2us-100us", fastHolder, fastWaiter},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var total time.Duration
			n := 0
			for b.Loop() {
				c.holder.Lock()
				waiting := make(chan struct{})
				got := make(chan time.Time)
				go func() {
					close(waiting)
					c.waiter.Lock()
					got <- time.Now()
					c.waiter.Unlock()
				}()
				<-waiting
				time.Sleep(hold)
				released := time.Now()
				c.holder.Unlock()
				total += (<-got).Sub(released)
				n++
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(n)/1e3, "µs-handoff")
		})
	}
}
