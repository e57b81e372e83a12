package lab

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"crew/pool"
	"crew/queue"
)

var queueParams = []Param{{"workers", ParamInt}, {"items", ParamInt}, {"work", ParamDuration}}

var queueExperiment = Experiment{
	Name:   "queue",
	Claim:  "A pool of worker threads (or processes, with a cross-process queue) fed by a queue processes every item once; join() returns only when every item was marked done, and the workers then stop.",
	Run:    runQueue,
	Params: queueParams,
}

// queueFigures are what the queue verdict is computed from.
type queueFigures struct {
	Items int
	// Seen counts how many times each item was processed.
	Seen []int
	// DoneAtJoin is how many items were marked done when Join returned.
	DoneAtJoin int
	// Exited is how many workers returned after Close.
	Exited, Workers int
}

func runQueue(ctx context.Context, cfg Config) (*Result, error) {
	p := newParams("queue", queueParams, cfg)
	workers := p.Int("workers", 5, 5)
	items := p.Int("items", 20, 20)
	work := p.Duration("work", 2*time.Millisecond, 2*time.Millisecond)
	if p.err != nil {
		return nil, p.err
	}
	res := &Result{
		Columns: []string{"mode", "item", "worker", "start_ms", "end_ms"},
		Params:  p.used,
	}
	q := queue.New[int](items)
	fig := queueFigures{Items: items, Seen: make([]int, items), Workers: workers}
	// The worker threads are a crew pool of exactly as many workers as
	// tasks: each task is one long-lived worker loop, as in the notes.
	pl, err := pool.New(workers)
	if err != nil {
		return nil, err
	}
	var (
		mu    sync.Mutex
		spans []Span
		done  atomic.Int64
		exits atomic.Int64
	)
	epoch := time.Now()
	for range workers {
		pl.Go(func(ctx context.Context) error {
			w := pool.WorkerID(ctx)
			for {
				item, err := q.Get(ctx)
				if errors.Is(err, queue.ErrClosed) {
					exits.Add(1)
					return nil
				}
				if err != nil {
					return err
				}
				start := time.Now()
				time.Sleep(work) // the work the notes' print stands for
				end := time.Now()
				mu.Lock()
				fig.Seen[item]++
				spans = append(spans, span(w, epoch, start, end))
				res.Rows = append(res.Rows, Row{
					"mode": "threads", "item": item, "worker": w,
					"start_ms": start.Sub(epoch).Seconds() * 1e3, "end_ms": end.Sub(epoch).Seconds() * 1e3,
				})
				mu.Unlock()
				done.Add(1)
				if err := q.TaskDone(); err != nil {
					return err
				}
			}
		})
	}
	for item := range items {
		if err = q.Put(ctx, item); err != nil {
			break
		}
	}
	if err == nil {
		err = q.Join(ctx)
	}
	fig.DoneAtJoin = int(done.Load())
	q.Close()
	if werr := pl.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		return nil, err
	}
	fig.Exited = int(exits.Load())
	res.Timelines = []Timeline{{Mode: fmt.Sprintf("%d threads", workers), Spans: spans}}
	// The same program with worker processes and an ipc.Queue, the notes'
	// multiprocessing.JoinableQueue.
	pfig, prows, pspans, err := runQueueProcs(ctx, workers, items, work)
	if err != nil {
		return nil, fmt.Errorf("processes: %w", err)
	}
	res.Rows = append(res.Rows, prows...)
	res.Timelines = append(res.Timelines, Timeline{Mode: fmt.Sprintf("%d processes", workers), Spans: pspans})
	tHolds, tVerdict := queueVerdict(fig)
	pHolds, pVerdict := queueVerdict(pfig)
	res.Holds = tHolds && pHolds
	res.Verdict = "threads: " + tVerdict + "; processes: " + pVerdict
	res.Notes = []string{
		fmt.Sprintf("each item stands for %v of work; the workers stop when Close makes Get return ErrClosed, as the notes' None sentinel does", work),
		"processes: a proc pool whose workers each run the worker loop over an ipc.Queue (a JoinableQueue shared through /dev/shm) that this process fills, joins and closes",
	}
	return res, nil
}

// queueVerdict holds when every item was processed exactly once, Join saw
// all of them done, and every worker stopped after Close.
func queueVerdict(f queueFigures) (bool, string) {
	var bad []string
	for i, n := range f.Seen {
		if n != 1 {
			bad = append(bad, fmt.Sprintf("item %d processed %d times", i, n))
		}
	}
	if f.DoneAtJoin != f.Items {
		bad = append(bad, fmt.Sprintf("Join returned with %d of %d items done", f.DoneAtJoin, f.Items))
	}
	if f.Exited != f.Workers {
		bad = append(bad, fmt.Sprintf("%d of %d workers stopped after Close", f.Exited, f.Workers))
	}
	if len(bad) > 0 {
		return false, strings.Join(bad, "; ")
	}
	return true, fmt.Sprintf("%d workers processed each of the %d items once, Join returned after all %d were done, and all workers stopped after Close",
		f.Workers, f.Items, f.Items)
}
