package lab

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"crew/ipc"
	"crew/proc"
)

var semaphoreParams = []Param{{"limit", ParamInt}, {"threads", ParamInt}, {"rounds", ParamInt}, {"hold", ParamDuration}}

var semaphoreExperiment = Experiment{
	Name:   "semaphore",
	Claim:  "A mutex lets one thread into the critical section at a time; a semaphore of n lets n in at once.",
	Run:    runSemaphore,
	Params: semaphoreParams,
}

// semFigures are the limits and the observed peak concurrency per mode.
type semFigures struct {
	Modes  []string
	Limits []int
	Peaks  []int64
}

func runSemaphore(ctx context.Context, cfg Config) (*Result, error) {
	p := newParams("semaphore", semaphoreParams, cfg)
	limit := p.Int("limit", 3, 3)
	workers := p.Int("threads", 8, 10)
	rounds := p.Int("rounds", 4, 10)
	hold := p.Duration("hold", 3*time.Millisecond, 5*time.Millisecond)
	if p.err != nil {
		return nil, p.err
	}
	res := &Result{
		Columns: []string{"mode", "limit", "workers", "entries", "observed_max", "seconds"},
		Params:  p.used,
	}
	var fig semFigures
	add := func(mode string, lim int, peak int64, d time.Duration) {
		fig.Modes = append(fig.Modes, mode)
		fig.Limits = append(fig.Limits, lim)
		fig.Peaks = append(fig.Peaks, peak)
		res.Rows = append(res.Rows, Row{"mode": mode, "limit": lim, "workers": workers,
			"entries": workers * rounds, "observed_max": peak, "seconds": d.Seconds()})
	}

	var mu sync.Mutex
	sem := semaphore.NewWeighted(int64(limit))
	for _, k := range []struct {
		mode string
		lim  int
		lock func() error
		free func()
	}{
		{"goroutines, sync.Mutex", 1, func() error { mu.Lock(); return nil }, mu.Unlock},
		{fmt.Sprintf("goroutines, semaphore(%d)", limit), limit, func() error { return sem.Acquire(ctx, 1) }, func() { sem.Release(1) }},
	} {
		var inside, peak atomic.Int64
		t0 := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for range workers {
			wg.Go(func() {
				for range rounds {
					if err := k.lock(); err != nil {
						errs <- err
						return
					}
					raisePeak(&peak, inside.Add(1))
					time.Sleep(hold)
					inside.Add(-1)
					k.free()
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return nil, err
		}
		add(k.mode, k.lim, peak.Load(), time.Since(t0))
	}

	dir, err := os.MkdirTemp("", "crew-lab-sem-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	pool, err := proc.New(ctx, proc.WithWorkers(workers))
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	for i, lim := range []int{1, limit} {
		mode := "processes, ipc.Mutex"
		if lim > 1 {
			mode = fmt.Sprintf("processes, ipc.Semaphore(%d)", lim)
		}
		task := shmTask{Segment: fmt.Sprintf("sem%d", i), Mutex: fmt.Sprintf("sem%d", i), Dir: dir, N: rounds, Hold: hold, Limit: lim}
		seg, err := ipc.CreateSegment(task.Segment, 64, ipc.WithDir(dir))
		if err != nil {
			return nil, err
		}
		tasks := make([]shmTask, workers)
		for j := range tasks {
			tasks[j] = task
		}
		t0 := time.Now()
		_, err = procAdmit.Map(ctx, pool, tasks, proc.WithChunk(1))
		d := time.Since(t0)
		var peak int64
		if c, cerr := seg.Counter(8); cerr == nil {
			peak = c.Load()
		}
		seg.Close()
		if err != nil {
			return nil, err
		}
		add(mode, lim, peak, d)
	}
	res.Holds, res.Verdict = semVerdict(fig)
	res.Notes = []string{fmt.Sprintf("each worker enters %d times and stays %v; observed_max is the most workers seen inside at once, counted with atomics (shared memory across processes)", rounds, hold)}
	return res, nil
}

// semVerdict holds when every mode's observed peak equals its limit: never
// more (the lock works) and, for a semaphore, really more than one at once.
func semVerdict(f semFigures) (bool, string) {
	if len(f.Modes) == 0 {
		return false, "no modes ran"
	}
	var bad, seen []string
	for i, m := range f.Modes {
		seen = append(seen, fmt.Sprintf("%s let in %d at once (limit %d)", m, f.Peaks[i], f.Limits[i]))
		if f.Peaks[i] != int64(f.Limits[i]) {
			bad = append(bad, seen[i])
		}
	}
	if len(bad) > 0 {
		return false, "not reproduced: " + strings.Join(bad, "; ")
	}
	return true, "the most inside at once matched each limit: " + strings.Join(seen, "; ")
}
