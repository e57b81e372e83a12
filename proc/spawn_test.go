package proc_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"

	"crew/internal/testproc"
	"crew/proc"
)

// TestWorkersOutliveThreadChurn ends many OS threads of the parent while a
// pool runs: a worker's parent-death signal fires when the thread that
// forked it exits, so a spawner thread handed back to the scheduler and
// then ended would kill its workers.
func TestWorkersOutliveThreadChurn(t *testing.T) {
	for _, n := range []int{1, 2, 5} {
		t.Run(fmt.Sprint(n, " workers"), func(t *testing.T) {
			p := newPool(t, proc.WithWorkers(n))
			before := p.PIDs()
			for range 4 {
				var wg sync.WaitGroup
				for range 16 {
					wg.Go(func() {
						// A goroutine that exits locked takes its thread with it.
						runtime.LockOSThread()
					})
				}
				wg.Wait()
				// Give every idle thread a chance to be the one that dies.
				if _, err := add1.Map(context.Background(), p, make([]int, 64)); err != nil {
					t.Fatal(err)
				}
			}
			if after := p.PIDs(); !slices.Equal(after, before) {
				t.Fatalf("workers %v became %v", before, after)
			}
			for _, pid := range before {
				if !testproc.Alive(pid) {
					t.Fatalf("worker %d died", pid)
				}
			}
		})
	}
}
