//go:build !race

package lab

import "sync"

// raceDetector reports whether this is a -race build, where the racy
// counter is left out.
const raceDetector = false

// racyCount runs goroutines that each increment one shared counter n times
// with a plain, unsynchronised x++, and returns what the counter ended at.
// This is a data race on purpose: it is what the experiment measures.
func racyCount(goroutines, n int) int64 {
	counter := new(int64)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			<-start
			for range n {
				*counter++
			}
		})
	}
	close(start)
	wg.Wait()
	return *counter
}
