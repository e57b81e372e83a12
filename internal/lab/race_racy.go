//go:build !race

package lab

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// raceDetector reports whether this is a -race build, where the racy
// counter is left out.
const raceDetector = false

// racyCount runs goroutines that each increment one shared counter n times
// with a plain, unsynchronised x++, and returns what the counter ended at.
// This is a data race on purpose: it is what the experiment measures.
func racyCount(goroutines, n int) int64 {
	counter := new(int64)
	// The first goroutines wait for one another, spinning, so that the
	// increments start on every core at once: on a busy machine the whole
	// trial (a few ms) could otherwise run on one core before the scheduler
	// brings the second in.
	var arrived atomic.Int64
	together := int64(min(goroutines, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			arrived.Add(1)
			for arrived.Load() < together {
			}
			for range n {
				*counter++
			}
		})
	}
	wg.Wait()
	return *counter
}
