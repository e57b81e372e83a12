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
	"testing"

	"crew/pool"

	"github.com/alitto/pond/v2"
	"github.com/panjf2000/ants/v2"
	conc "github.com/sourcegraph/conc/pool"
	"golang.org/x/sync/errgroup"
)

var workerCounts = []int{2, 1000}

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
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := p.Go(task); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.Wait(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
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
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				tasks <- task
			}
			close(tasks)
			wg.Wait()
			b.StopTimer()
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
			b.ReportAllocs()
			b.ResetTimer()
			wg.Add(b.N)
			for range b.N {
				if err := p.Submit(task); err != nil {
					b.Fatal(err)
				}
			}
			wg.Wait()
			b.StopTimer()
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
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := p.Go(task); err != nil {
					b.Fatal(err)
				}
			}
			p.StopAndWait()
			b.StopTimer()
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
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				g.Go(task)
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
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
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				p.Go(task)
			}
			p.Wait()
			b.StopTimer()
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
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		wg.Go(task)
	}
	wg.Wait()
	b.StopTimer()
	check(b, &n)
}
