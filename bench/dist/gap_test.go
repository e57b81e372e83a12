package distbench

import (
	"context"
	"io"
	"sort"
	"sync"
	"testing"
	"time"

	"crew/dist"
	"crew/runner"
	"os"
	"strconv"
)

type timed struct {
	runner.Executor
	mu    sync.Mutex
	spans map[int][][2]time.Time // by slot goroutine id
}

type slotKey struct{}

func (t *timed) Exec(ctx context.Context, job *runner.Job, o, e io.Writer) runner.Result {
	s := time.Now()
	r := t.Executor.Exec(ctx, job, o, e)
	t.mu.Lock()
	t.spans[0] = append(t.spans[0], [2]time.Time{s, time.Now()})
	t.mu.Unlock()
	return r
}

func TestGaps(t *testing.T) {
	prefetch, _ := strconv.Atoi(os.Getenv("PREFETCH"))
	if testing.Short() {
		t.Skip()
	}
	for _, mode := range []string{"local", "cluster"} {
		tm := &timed{Executor: runner.Local{}, spans: map[int][][2]time.Time{}}
		start := time.Now()
		if mode == "local" {
			runner.Run(context.Background(), runner.Config{Command: []string{"true"}, Inputs: inputs(1000), Jobs: 2, Executor: tm})
		} else {
			e, url := cluster(t, noop{}, 0, 1)
			tms := []*timed{tm, {Executor: runner.Local{}, spans: map[int][][2]time.Time{}}}
			ctx, stop := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for _, x := range tms {
				w := &dist.Worker{Config: dist.Config{URL: url}, Executor: x, Concurrency: 1, Prefetch: prefetch}
				wg.Go(func() { _ = w.Run(ctx) })
			}
			defer func() { stop(); wg.Wait() }()
			defer func() {
				for i, x := range tms {
					sp := x.spans[0]
					var gaps []time.Duration
					for j := 1; j < len(sp); j++ {
						gaps = append(gaps, sp[j][0].Sub(sp[j-1][1]))
					}
					sort.Slice(gaps, func(a, b int) bool { return gaps[a] < gaps[b] })
					if len(gaps) > 10 {
						n := len(gaps)
						t.Logf("worker %d: %d jobs, gap p10 %v p50 %v p90 %v p99 %v", i, len(sp), gaps[n/10], gaps[n/2], gaps[n*9/10], gaps[n*99/100])
					}
				}
			}()
			start = time.Now()
			if win, _ := strconv.Atoi(os.Getenv("WINDOW")); win > 0 {
				runner.Run(context.Background(), runner.Config{Command: []string{"true"}, Inputs: inputs(1000), Jobs: win, Executor: e})
			} else {
				runDirect(&testing.B{}, e, 1000, 256)
			}
		}
		d := time.Since(start)
		sp := tm.spans[0]
		sort.Slice(sp, func(i, j int) bool { return sp[i][0].Before(sp[j][0]) })
		var busy time.Duration
		for _, s := range sp {
			busy += s[1].Sub(s[0])
		}
		t.Logf("%s: wall %v, jobs %d, mean exec %v, busy fraction of 2 slots %.2f", mode, d, len(sp), busy/time.Duration(max(len(sp), 1)), busy.Seconds()/(2*d.Seconds()))
	}
}
