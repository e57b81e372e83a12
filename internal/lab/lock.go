package lab

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

var lockParams = []Param{{"goroutines", ParamInt}, {"n", ParamInt}, {"pyn", ParamInt}}

var lockExperiment = Experiment{
	Name:   "lock",
	Claim:  "A lock around the critical section makes the shared counter exact, at some cost in speed.",
	Run:    runLock,
	Params: lockParams,
}

// A lockKind is one way of making the counter correct: count runs n
// increments of *c from one goroutine.
type lockKind struct {
	name string
	// setup returns the per-goroutine increment loop and a finish function
	// that must be called after every loop returned.
	setup func(c *int64) (loop func(n int), finish func())
}

var lockKinds = []lockKind{
	{"mutex around loop", func(c *int64) (func(int), func()) {
		var mu sync.Mutex
		return func(n int) {
			mu.Lock()
			for range n {
				*c++
			}
			mu.Unlock()
		}, func() {}
	}},
	{"mutex per increment", func(c *int64) (func(int), func()) {
		var mu sync.Mutex
		return func(n int) {
			for range n {
				mu.Lock()
				*c++
				mu.Unlock()
			}
		}, func() {}
	}},
	{"atomic add", func(c *int64) (func(int), func()) {
		return func(n int) {
			for range n {
				atomic.AddInt64(c, 1)
			}
		}, func() {}
	}},
	{"owner goroutine + channel", func(c *int64) (func(int), func()) {
		// One goroutine owns the counter; the others only send to it.
		ch := make(chan struct{}, 1024)
		done := make(chan struct{})
		go func() {
			for range ch {
				*c++
			}
			close(done)
		}()
		return func(n int) {
				for range n {
					ch <- struct{}{}
				}
			}, func() {
				close(ch)
				<-done
			}
	}},
	{"semaphore weight 1", func(c *int64) (func(int), func()) {
		sem := semaphore.NewWeighted(1)
		ctx := context.Background()
		return func(n int) {
			for range n {
				_ = sem.Acquire(ctx, 1) // cannot fail: the context is never cancelled
				*c++
				sem.Release(1)
			}
		}, func() {}
	}},
}

// lockFigures are what the lock verdict is computed from, one entry per kind.
type lockFigures struct {
	Kinds    []string
	Expected int64
	Actual   []int64
	NsPerInc []float64
}

func runLock(ctx context.Context, cfg Config) (*Result, error) {
	p := newParams("lock", lockParams, cfg)
	goroutines := p.Int("goroutines", 50, 50)
	n := p.Int("n", 20_000, 200_000)
	if p.err != nil {
		return nil, p.err
	}
	res := &Result{
		Columns: []string{"kind", "threads", "increments", "expected", "actual", "exact", "ns_per_inc", "seconds"},
		Params:  p.used,
		Charts:  []Chart{{Title: "cost of one correct increment", Kind: "bar", X: "kind", Y: "ns_per_inc", YLabel: "ns per increment"}},
	}
	fig := lockFigures{Expected: int64(goroutines) * int64(n)}
	for _, k := range lockKinds {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		got, d := countWith(k, goroutines, n)
		ns := float64(d.Nanoseconds()) / float64(fig.Expected)
		fig.Kinds = append(fig.Kinds, k.name)
		fig.Actual = append(fig.Actual, got)
		fig.NsPerInc = append(fig.NsPerInc, ns)
		res.Rows = append(res.Rows, Row{
			"kind": k.name, "threads": goroutines, "increments": n, "expected": fig.Expected,
			"actual": got, "exact": got == fig.Expected, "ns_per_inc": ns, "seconds": d.Seconds(),
		})
	}
	if cfg.Python != "" {
		var out struct {
			Count   int64
			Seconds float64
		}
		pyN := p.Int("pyn", 100_000, 200_000)
		if err := runPython(ctx, cfg, "lock", &out, fmt.Sprint(goroutines), fmt.Sprint(pyN)); err != nil {
			return nil, err
		}
		exp := int64(goroutines) * int64(pyN)
		res.Rows = append(res.Rows, Row{
			"kind": "python lock around loop", "threads": goroutines, "increments": pyN, "expected": exp,
			"actual": out.Count, "exact": out.Count == exp, "ns_per_inc": out.Seconds * 1e9 / float64(exp), "seconds": out.Seconds,
		})
	}
	res.Holds, res.Verdict = lockVerdict(fig)
	res.Notes = []string{"every kind runs the same goroutines x increments on one shared int64; ns_per_inc is wall time / total increments"}
	return res, nil
}

func countWith(k lockKind, goroutines, n int) (int64, time.Duration) {
	counter := new(int64)
	loop, finish := k.setup(counter)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			<-start
			loop(n)
		})
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	finish()
	return *counter, time.Since(t0)
}

// lockVerdict holds when every kind is exact.
func lockVerdict(f lockFigures) (bool, string) {
	if len(f.Kinds) == 0 {
		return false, "no kinds ran"
	}
	var wrong []string
	fast, slow := 0, 0
	for i := range f.Kinds {
		if f.Actual[i] != f.Expected {
			wrong = append(wrong, fmt.Sprintf("%s (%d of %d)", f.Kinds[i], f.Actual[i], f.Expected))
		}
		if f.NsPerInc[i] < f.NsPerInc[fast] {
			fast = i
		}
		if f.NsPerInc[i] > f.NsPerInc[slow] {
			slow = i
		}
	}
	if len(wrong) > 0 {
		return false, "not exact: " + strings.Join(wrong, "; ")
	}
	return true, fmt.Sprintf("all %d kinds reached exactly %d; the cost ranges from %.1f ns per increment (%s) to %.1f ns (%s), %.0fx",
		len(f.Kinds), f.Expected, f.NsPerInc[fast], f.Kinds[fast], f.NsPerInc[slow], f.Kinds[slow], f.NsPerInc[slow]/max(f.NsPerInc[fast], 0.001))
}
