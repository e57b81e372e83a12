package clusterbench

import (
	"context"
	"io"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"crew/cluster"
	"crew/runner"
)

// spans records when each job ran on one worker.
type spans struct {
	runner.Executor
	mu   sync.Mutex
	runs [][2]time.Time
}

func (s *spans) Exec(ctx context.Context, job *runner.Job, o, e io.Writer) runner.Result {
	start := time.Now()
	r := s.Executor.Exec(ctx, job, o, e)
	s.mu.Lock()
	s.runs = append(s.runs, [2]time.Time{start, time.Now()})
	s.mu.Unlock()
	return r
}

// TestGaps is a diagnostic, not a check (CREW_BENCH_GAPS=1 runs it): for
// 1,000 jobs of `true` on two -j1 workers it logs how long each worker's
// slot stayed empty between one job's end and the next one's start.
// Prefetching exists to make these gaps small.
func TestGaps(t *testing.T) {
	if os.Getenv("CREW_BENCH_GAPS") == "" {
		t.Skip("diagnostic; set CREW_BENCH_GAPS=1")
	}
	for _, prefetch := range []int{-1, 1, cluster.DefaultPrefetch} {
		e, url := startCluster(t, noop{}, 0, 1)
		ws := []*spans{{Executor: runner.Local{}}, {Executor: runner.Local{}}}
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for _, s := range ws {
			w, err := cluster.NewWorker(cluster.WorkerConfig{
				ConnConfig: cluster.ConnConfig{URL: url}, Executor: s, Concurrency: 1, Prefetch: prefetch,
			})
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() { _ = w.Run(ctx) })
		}
		d := runDirect(t, e, 1000, noopWindow)
		stop()
		wg.Wait()
		for i, s := range ws {
			var gaps []time.Duration
			for j := 1; j < len(s.runs); j++ {
				gaps = append(gaps, s.runs[j][0].Sub(s.runs[j-1][1]))
			}
			var busy, idle time.Duration
			for _, r := range s.runs {
				busy += r[1].Sub(r[0])
			}
			for _, g := range gaps {
				idle += g
			}
			slices.Sort(gaps)
			if n := len(gaps); n > 100 {
				t.Logf("prefetch %d, worker %d: wall %v, %d jobs, busy %v, idle between jobs %v, gap p10 %v p50 %v p90 %v p99 %v",
					prefetch, i, d.Round(time.Millisecond), len(s.runs), busy.Round(time.Millisecond), idle.Round(time.Millisecond),
					gaps[n/10], gaps[n/2], gaps[n*9/10], gaps[n*99/100])
			}
		}
	}
}
