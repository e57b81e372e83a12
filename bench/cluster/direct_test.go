package clusterbench

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"crew/cluster"
	"crew/runner"
)

// runDirect sends n jobs through e.Exec with at most window in flight,
// as a program using the library (not runner's engine) would.
func runDirect(b testing.TB, e *cluster.Executor, n, window int) time.Duration {
	b.Helper()
	start := time.Now()
	sem := make(chan struct{}, window)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r := e.Exec(context.Background(), &runner.Job{Seq: int64(i + 1), Command: "true", Argv: []string{"true"}}, io.Discard, io.Discard)
			if r.Err != nil || r.Exit != 0 {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed != 0 {
		b.Fatalf("%d jobs failed", failed)
	}
	return time.Since(start)
}

// BenchmarkNoopDirect is BenchmarkNoop without runner's engine: the cluster
// library API alone against the JetStream ceiling.
func BenchmarkNoopDirect(b *testing.B) {
	benchNoop(b, func(e *cluster.Executor, n int) time.Duration { return runDirect(b, e, n, noopWindow) })
}

// BenchmarkEngineNoop measures runner's engine alone with an executor
// that does nothing, the floor under BenchmarkNoop.
func BenchmarkEngineNoop(b *testing.B) {
	const n = 10000
	var d time.Duration
	for b.Loop() {
		start := time.Now()
		sum, err := runner.Run(context.Background(), runner.Config{
			Command: []string{"true"}, Inputs: inputs(n), Jobs: noopWindow, Executor: noop{},
		})
		if err != nil || sum.Started != n {
			b.Fatal(sum, err)
		}
		d += time.Since(start)
	}
	b.ReportMetric(float64(n)*float64(b.N)/d.Seconds(), "jobs/s")
	b.ReportMetric(0, "ns/op")
}
