// Package poolbench measures crew's pool.Go against its peers on tiny tasks,
// where the pool's own overhead is all there is to see.
//
// Each benchmark iteration is one task (an atomic add), so ns/op is ns per
// task and allocs/op is allocations per task. Every task function is built
// once, before the timer starts, so only the pools' own allocations count.
// Run with -benchtime=1000000x for a million tasks per figure.
package poolbench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"crew/pool"

	"github.com/alitto/pond/v2"
	"github.com/panjf2000/ants/v2"
	conc "github.com/sourcegraph/conc/pool"
	"golang.org/x/sync/errgroup"
)

var workerCounts = []int{2, 1000}

// cpuNow returns the CPU time this process has used. On a machine shared
// with other work, wall time per task swings with the neighbours' load;
// CPU time swings much less, so both are reported.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// start resets the timer and returns a func that reports CPU ns per task.
func start(b *testing.B) func() {
	b.ReportAllocs()
	b.ResetTimer()
	t0 := cpuNow()
	return func() {
		b.StopTimer()
		b.ReportMetric(float64(cpuNow()-t0)/float64(b.N), "cpu-ns/task")
	}
}

// check fails the benchmark unless every task ran exactly once.
func check(b *testing.B, n *atomic.Int64) {
	b.Helper()
	if got := n.Load(); got != int64(b.N) {
		b.Fatalf("ran %d tasks, want %d", got, b.N)
	}
}

func BenchmarkCrew(b *testing.B) {
	for _, w := range workerCounts {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			var n atomic.Int64
			task := func(context.Context) error { n.Add(1); return nil }
			p, err := pool.New(w)
			if err != nil {
				b.Fatal(err)
			}
			stop := start(b)
			for range b.N {
				if err := p.Go(task); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.Wait(); err != nil {
				b.Fatal(err)
			}
			stop()
			check(b, &n)
		})
	}
}

// BenchmarkChannel is the floor: a buffered channel of funcs drained by a
// fixed set of goroutines, with the same buffer as crew's default queue and
// no error, panic or cancellation handling.
func BenchmarkChannel(b *testing.B) {
	for _, w := range workerCounts {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			var n atomic.Int64
			task := func() { n.Add(1) }
			tasks := make(chan func(), max(64, 2*w))
			var wg sync.WaitGroup
			for range w {
				wg.Go(func() {
					for t := range tasks {
						t()
					}
				})
			}
			stop := start(b)
			for range b.N {
				tasks <- task
			}
			close(tasks)
			wg.Wait()
			stop()
			check(b, &n)
		})
	}
}

func BenchmarkAnts(b *testing.B) {
	for _, w := range workerCounts {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			var n atomic.Int64
			var wg sync.WaitGroup
			task := func() { n.Add(1); wg.Done() }
			p, err := ants.NewPool(w)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Release()
			stop := start(b)
			wg.Add(b.N)
			for range b.N {
				if err := p.Submit(task); err != nil {
					b.Fatal(err)
				}
			}
			wg.Wait()
			stop()
			check(b, &n)
		})
	}
}

func BenchmarkPond(b *testing.B) {
	for _, w := range workerCounts {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			var n atomic.Int64
			task := func() { n.Add(1) }
			p := pond.NewPool(w)
			stop := start(b)
			for range b.N {
				if err := p.Go(task); err != nil {
					b.Fatal(err)
				}
			}
			p.StopAndWait()
			stop()
			check(b, &n)
		})
	}
}

func BenchmarkErrgroup(b *testing.B) {
	for _, w := range workerCounts {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			var n atomic.Int64
			task := func() error { n.Add(1); return nil }
			var g errgroup.Group
			g.SetLimit(w)
			stop := start(b)
			for range b.N {
				g.Go(task)
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
			stop()
			check(b, &n)
		})
	}
}

func BenchmarkConc(b *testing.B) {
	for _, w := range workerCounts {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			var n atomic.Int64
			task := func() { n.Add(1) }
			p := conc.New().WithMaxGoroutines(w)
			stop := start(b)
			for range b.N {
				p.Go(task)
			}
			p.Wait()
			stop()
			check(b, &n)
		})
	}
}

// BenchmarkGoroutinePerTask has no worker count: every task gets its own
// goroutine, bounded by nothing.
func BenchmarkGoroutinePerTask(b *testing.B) {
	var n atomic.Int64
	task := func() { n.Add(1) }
	var wg sync.WaitGroup
	stop := start(b)
	for range b.N {
		wg.Go(task)
	}
	wg.Wait()
	stop()
	check(b, &n)
}
