package proc_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"crew/proc"
)

// job tells victim what to do in the worker: Do "" returns I*10+1, "exit"
// exits the worker with status 3, "kill" sends it SIGKILL, "hang" never
// returns.
type job struct {
	I  int
	Do string
}

var victim = proc.Register("victim", func(ctx context.Context, j job) (int, error) {
	switch j.Do {
	case "exit":
		os.Exit(3)
	case "kill":
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	case "hang":
		select {}
	}
	// A little work, so that calls pile up in the workers' pipes behind
	// the one that is running.
	time.Sleep(time.Millisecond)
	return j.I*10 + 1, nil
})

// poisonEvery returns n jobs where every 7th (index 6, 13, ...) does how.
func poisonEvery(n int, how string) ([]job, map[int]bool) {
	jobs := make([]job, n)
	bad := map[int]bool{}
	for i := range jobs {
		jobs[i].I = i
		if i%7 == 6 {
			jobs[i].Do = how
			bad[i] = true
		}
	}
	return jobs, bad
}

// isolationCases are the ways a task takes its worker down, each with the
// error that task alone must get.
var isolationCases = []struct {
	how   string
	opts  []proc.Option
	check func(error) bool
}{
	{"exit", nil, func(err error) bool {
		var ce *proc.CrashError
		return errors.As(err, &ce) && errors.Is(err, proc.ErrWorkerCrashed) && ce.ExitCode == 3
	}},
	{"kill", nil, func(err error) bool {
		var ce *proc.CrashError
		return errors.As(err, &ce) && errors.Is(err, proc.ErrWorkerCrashed) && ce.Signal == syscall.SIGKILL
	}},
	{"hang", []proc.Option{proc.WithTimeout(300 * time.Millisecond)}, func(err error) bool {
		return errors.Is(err, proc.ErrTimeout) && !errors.Is(err, proc.ErrWorkerCrashed)
	}},
}

// isolationPool is the pool the isolation tests share the shape of: two
// workers, each holding several calls queued behind the running one.
func isolationPool(t *testing.T, opts ...proc.Option) *proc.Pool {
	return newPool(t, append([]proc.Option{proc.WithWorkers(2), proc.WithPrefetch(4), proc.WithStderr(nil)}, opts...)...)
}

// checkOne reports whether input i's outcome is what crash isolation
// promises: its own failure if it is poison, its result otherwise.
func checkOne(t *testing.T, how string, check func(error) bool, bad map[int]bool, i, out int, err error) {
	t.Helper()
	switch {
	case bad[i] && !check(err):
		t.Errorf("%s: poison input %d: got %d, %v; want its own failure", how, i, out, err)
	case !bad[i] && err != nil:
		t.Errorf("%s: innocent input %d failed: %v", how, i, err)
	case !bad[i] && out != i*10+1:
		t.Errorf("%s: innocent input %d = %d, want %d", how, i, out, i*10+1)
	}
}

func TestCrashIsolationMapUnordered(t *testing.T) {
	for _, tt := range isolationCases {
		t.Run(tt.how, func(t *testing.T) {
			p := isolationPool(t, tt.opts...)
			jobs, bad := poisonEvery(40, tt.how)
			seen := make([]bool, len(jobs))
			for r := range victim.MapUnordered(context.Background(), p, slices.Values(jobs)) {
				if r.Index < 0 || seen[r.Index] {
					t.Fatalf("bad or repeated result %+v", r)
				}
				seen[r.Index] = true
				checkOne(t, tt.how, tt.check, bad, r.Index, r.Out, r.Err)
			}
			if i := slices.Index(seen, false); i >= 0 {
				t.Fatalf("no result for input %d", i)
			}
		})
	}
}

func TestCrashIsolationCall(t *testing.T) {
	for _, tt := range isolationCases {
		t.Run(tt.how, func(t *testing.T) {
			p := isolationPool(t, tt.opts...)
			jobs, bad := poisonEvery(40, tt.how)
			outs := make([]int, len(jobs))
			errs := make([]error, len(jobs))
			var wg sync.WaitGroup
			for i, j := range jobs {
				wg.Go(func() { outs[i], errs[i] = victim.Call(context.Background(), p, j) })
			}
			wg.Wait()
			for i := range jobs {
				checkOne(t, tt.how, tt.check, bad, i, outs[i], errs[i])
			}
		})
	}
}

// Map stops sending at its first failed input but waits for the inputs in
// flight. With two workers and WithPrefetch(4) it has 2*2*(4+1) = 20 inputs in
// flight before it reads the first reply, so inputs 0 to 19 all ran, and
// every one that is not poison must have its result.
func TestCrashIsolationMap(t *testing.T) {
	const inFlight = 20
	for _, tt := range isolationCases {
		t.Run(tt.how, func(t *testing.T) {
			p := isolationPool(t, tt.opts...)
			jobs, bad := poisonEvery(40, tt.how)
			outs, err := victim.Map(context.Background(), p, jobs)
			if !tt.check(err) || !errContains(err, "input 6:") {
				t.Fatalf("err = %v, want input 6's own failure", err)
			}
			for i := range inFlight {
				if !bad[i] && outs[i] != i*10+1 {
					t.Errorf("innocent input %d = %d, want %d", i, outs[i], i*10+1)
				}
			}
			for i := inFlight; i < len(jobs); i++ {
				if outs[i] != 0 && outs[i] != i*10+1 {
					t.Errorf("input %d = %d, want %d or nothing", i, outs[i], i*10+1)
				}
			}
		})
	}
}

// A chunk is one unit: a crash fails every input of the chunk it was in,
// and only those.
func TestCrashIsolationChunk(t *testing.T) {
	p := isolationPool(t)
	jobs, bad := poisonEvery(40, "exit")
	const chunk = 3
	badChunk := map[int]bool{}
	for i := range bad {
		badChunk[i/chunk] = true
	}
	n := 0
	for r := range victim.MapUnordered(context.Background(), p, slices.Values(jobs), proc.WithChunk(chunk)) {
		n++
		switch {
		case badChunk[r.Index/chunk] && !errors.Is(r.Err, proc.ErrWorkerCrashed):
			t.Errorf("input %d, in a poison chunk: got %d, %v; want ErrWorkerCrashed", r.Index, r.Out, r.Err)
		case !badChunk[r.Index/chunk] && (r.Err != nil || r.Out != r.Index*10+1):
			t.Errorf("input %d, in an innocent chunk: got %d, %v", r.Index, r.Out, r.Err)
		}
	}
	if n != len(jobs) {
		t.Fatalf("%d results for %d inputs", n, len(jobs))
	}
}

// A pool of one worker where every call is poison must fail each once and
// go on: no call is retried into another crash, none hangs.
func TestCrashIsolationAllPoison(t *testing.T) {
	p := newPool(t, proc.WithWorkers(1), proc.WithPrefetch(4), proc.WithStderr(nil))
	jobs := make([]job, 6)
	for i := range jobs {
		jobs[i] = job{I: i, Do: "exit"}
	}
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { _, errs[i] = victim.Call(context.Background(), p, j) })
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, proc.ErrWorkerCrashed) {
			t.Errorf("call %d: %v, want ErrWorkerCrashed", i, err)
		}
	}
	if got, err := victim.Call(context.Background(), p, job{I: 4}); err != nil || got != 41 {
		t.Fatalf("after the poison: %d, %v", got, err)
	}
}

func errContains(err error, s string) bool {
	return err != nil && strings.Contains(err.Error(), s)
}
