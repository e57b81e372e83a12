package pool_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"crew/internal/wait"
	"crew/pool"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errBoom = errors.New("boom")

func mustNew(t *testing.T, workers int, opts ...pool.Option) *pool.Pool {
	t.Helper()
	p, err := pool.New(workers, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewBadInput(t *testing.T) {
	var nilCtx context.Context
	tests := []struct {
		name    string
		workers int
		opts    []pool.Option
		want    error // nil: any non-nil error
	}{
		{"zero workers", 0, nil, pool.ErrWorkers},
		{"negative workers", -3, nil, pool.ErrWorkers},
		{"negative queue", 2, []pool.Option{pool.WithQueue(-1)}, nil},
		{"nil context", 2, []pool.Option{pool.WithContext(nilCtx)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := pool.New(tt.workers, tt.opts...)
			if err == nil {
				p.Wait()
				t.Fatal("New succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "pool: ") {
				t.Fatalf("message %q lacks the package prefix", err)
			}
		})
	}
}

func TestGoRejects(t *testing.T) {
	p := mustNew(t, 1)
	if err := p.Go(nil); !errors.Is(err, pool.ErrNilTask) {
		t.Fatalf("Go(nil) = %v", err)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := p.Go(func(context.Context) error { return nil }); !errors.Is(err, pool.ErrClosed) {
		t.Fatalf("Go after Wait = %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close after Wait = %v", err)
	}
}

func TestRunsEveryTaskOnce(t *testing.T) {
	for _, tc := range []struct{ workers, queue, tasks int }{
		{1, 0, 100}, {2, 1, 1000}, {8, 64, 5000}, {100, 3, 2000},
	} {
		t.Run(fmt.Sprintf("w=%d/q=%d", tc.workers, tc.queue), func(t *testing.T) {
			p := mustNew(t, tc.workers, pool.WithQueue(tc.queue))
			ran := make([]atomic.Int32, tc.tasks)
			for i := range tc.tasks {
				if err := p.Go(func(context.Context) error { ran[i].Add(1); return nil }); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Wait(); err != nil {
				t.Fatal(err)
			}
			for i := range ran {
				if n := ran[i].Load(); n != 1 {
					t.Fatalf("task %d ran %d times", i, n)
				}
			}
			if s := p.Stats(); s.Submitted != int64(tc.tasks) || s.Done != int64(tc.tasks) || s.Running != 0 {
				t.Fatalf("Stats = %+v", s)
			}
		})
	}
}

// TestGoRacingWait submits from many goroutines while Wait closes the pool:
// every task Go accepted must run, and none that it refused.
func TestGoRacingWait(t *testing.T) {
	for range 20 {
		p := mustNew(t, 2, pool.WithQueue(1))
		var accepted, ran atomic.Int64
		done := make(chan struct{})
		for range 4 {
			go func() {
				defer func() { done <- struct{}{} }()
				for {
					err := p.Go(func(context.Context) error { ran.Add(1); return nil })
					if errors.Is(err, pool.ErrClosed) {
						return
					}
					accepted.Add(1)
				}
			}()
		}
		wait.For(t, "more than 10 tasks to run", func() bool { return ran.Load() > 10 })
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
		for range 4 {
			<-done
		}
		if accepted.Load() != ran.Load() {
			t.Fatalf("accepted %d tasks, ran %d", accepted.Load(), ran.Load())
		}
		if s := p.Stats(); s.Submitted != accepted.Load() {
			t.Fatalf("Stats.Submitted = %d, accepted %d", s.Submitted, accepted.Load())
		}
	}
}

func TestWaitJoinsErrors(t *testing.T) {
	p := mustNew(t, 3)
	var want []error
	for i := range 20 {
		var err error
		if i%4 == 0 {
			err = fmt.Errorf("task %d: %w", i, errBoom)
			want = append(want, err)
		}
		p.Go(func(context.Context) error { return err })
	}
	err := p.Wait()
	for _, w := range want {
		if !errors.Is(err, w) {
			t.Errorf("Wait's error lacks %v", w)
		}
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != len(want) {
		t.Fatalf("Wait joined %d errors, want %d", n, len(want))
	}
	if err2 := p.Wait(); err2 != err {
		t.Fatalf("second Wait = %v, want the same error", err2)
	}
	if s := p.Stats(); s.Done != 20 || s.Failed != int64(len(want)) {
		t.Fatalf("Stats = %+v", s)
	}
}

// A panic's value reaches the PanicError as it was, type and all, where
// proc.PanicError can only carry its text.
func TestPanicErrorKeepsValue(t *testing.T) {
	type custom struct{ code int }
	for _, v := range []any{42, custom{7}, errBoom} {
		p := mustNew(t, 1)
		p.Go(func(context.Context) error { panic(v) })
		err := p.Wait()
		var pe *pool.PanicError
		if !errors.As(err, &pe) {
			t.Fatalf("panic(%#v): Wait = %v, want a *PanicError", v, err)
		}
		if pe.Value != v {
			t.Errorf("Value = %#v, want %#v", pe.Value, v)
		}
		if want := fmt.Sprintf("pool: task panicked: %v", v); pe.Error() != want {
			t.Errorf("Error() = %q, want %q", pe.Error(), want)
		}
	}
}

func TestPanicBecomesError(t *testing.T) {
	p := mustNew(t, 1)
	p.Go(func(context.Context) error { panic("kaboom") })
	p.Go(func(context.Context) error { panic(errBoom) })
	var after atomic.Bool
	p.Go(func(context.Context) error { after.Store(true); return nil })
	err := p.Wait()

	var pe *pool.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("Wait = %v, want a *PanicError", err)
	}
	if pe.Value != "kaboom" {
		t.Fatalf("Value = %v", pe.Value)
	}
	if !strings.Contains(string(pe.Stack), "TestPanicBecomesError") {
		t.Fatalf("stack does not show the panicking task:\n%s", pe.Stack)
	}
	if !errors.Is(err, errBoom) {
		t.Fatal("panic(err) is not errors.Is-able through the PanicError")
	}
	if !after.Load() {
		t.Fatal("the worker stopped after a panic")
	}
	if s := p.Stats(); s.Failed != 2 || s.Done != 3 {
		t.Fatalf("Stats = %+v", s)
	}
}

func TestCancelAbandonsQueued(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := mustNew(t, 1, pool.WithContext(parent), pool.WithQueue(100))
	started := make(chan struct{})
	var sawDone atomic.Bool
	p.Go(func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		sawDone.Store(true)
		return nil
	})
	<-started
	var ran atomic.Int64
	for range 10 {
		p.Go(func(context.Context) error { ran.Add(1); return nil })
	}
	cancel()
	err := p.Wait()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 1 {
		t.Fatalf("Wait reported %d errors, want the context's once: %v", n, err)
	}
	if !sawDone.Load() || ran.Load() != 0 {
		t.Fatalf("running task saw Done: %v; queued tasks run: %d", sawDone.Load(), ran.Load())
	}
	if s := p.Stats(); s.Abandoned != 10 || s.Done != 1 {
		t.Fatalf("Stats = %+v", s)
	}
}

func TestCancelOnError(t *testing.T) {
	p := mustNew(t, 2, pool.WithCancelOnError())
	started, fire := make(chan struct{}), make(chan struct{})
	var cause error
	p.Go(func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		cause = context.Cause(ctx)
		return ctx.Err()
	})
	p.Go(func(context.Context) error { <-started; <-fire; return errBoom })
	var ran atomic.Int64
	for range 10 {
		p.Go(func(context.Context) error { ran.Add(1); return nil })
	}
	close(fire)
	err := p.Wait()
	if !errors.Is(err, errBoom) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want boom and the running task's context.Canceled", err)
	}
	if strings.Contains(err.Error(), "not run") {
		t.Fatalf("self-cancellation reported as an outside cancellation: %v", err)
	}
	if !errors.Is(cause, errBoom) {
		t.Fatalf("context cause = %v, want the failing task's error", cause)
	}
	if ran.Load() != 0 {
		t.Fatalf("%d queued tasks ran after the error", ran.Load())
	}
	if s := p.Stats(); s.Abandoned != 10 || s.Failed != 2 {
		t.Fatalf("Stats = %+v", s)
	}
}

func TestStatsWhileRunning(t *testing.T) {
	p := mustNew(t, 2, pool.WithQueue(10))
	release := make(chan struct{})
	for i := range 5 {
		p.Go(func(context.Context) error {
			<-release
			if i == 0 {
				return errBoom
			}
			return nil
		})
	}
	wait.For(t, "both workers to be busy", func() bool { return p.Stats().Running == 2 })
	if s := p.Stats(); s.Submitted != 5 || s.Done != 0 {
		t.Fatalf("Stats while blocked = %+v", s)
	}
	close(release)
	p.Wait()
	want := pool.Stats{Submitted: 5, Done: 5, Failed: 1}
	if s := p.Stats(); s != want {
		t.Fatalf("Stats = %+v, want %+v", s, want)
	}
}

func TestWorkerID(t *testing.T) {
	if id := pool.WorkerID(context.Background()); id != 0 {
		t.Fatalf("WorkerID outside a pool = %d", id)
	}
	const workers = 4
	p := mustNew(t, workers)
	var busy [workers + 1]atomic.Bool
	var seen [workers + 1]atomic.Int64
	for range 400 {
		p.Go(func(ctx context.Context) error {
			id := pool.WorkerID(ctx)
			if id < 1 || id > workers {
				return fmt.Errorf("WorkerID = %d", id)
			}
			if !busy[id].CompareAndSwap(false, true) {
				return fmt.Errorf("worker %d runs two tasks at once", id)
			}
			seen[id].Add(1)
			runtime.Gosched()
			busy[id].Store(false)
			return nil
		})
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
	var total int64
	for i := range seen {
		total += seen[i].Load()
	}
	if total != 400 {
		t.Fatalf("counted %d tasks", total)
	}
}
