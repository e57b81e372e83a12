package pool_test

import (
	"context"
	"errors"
	"iter"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"crew/pool"
)

func square(_ context.Context, v int) (int, error) {
	// Later inputs finish first, so order must come from Map, not timing.
	for range (100 - v%100) % 7 {
		runtime.Gosched()
	}
	return v * v, nil
}

func TestMapOrder(t *testing.T) {
	for _, n := range []int{0, 1, 7, 500} {
		p := mustNew(t, 4)
		inputs := make([]int, n)
		for i := range inputs {
			inputs[i] = i
		}
		got, err := pool.Map(context.Background(), p, inputs, square)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("len = %d, want %d", len(got), n)
		}
		for i, v := range got {
			if v != i*i {
				t.Fatalf("result %d = %d, want %d", i, v, i*i)
			}
		}
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMapFailFast(t *testing.T) {
	p := mustNew(t, 1)
	defer p.Wait()
	var calls atomic.Int64
	inputs := make([]int, 100)
	for i := range inputs {
		inputs[i] = i
	}
	got, err := pool.Map(context.Background(), p, inputs, func(_ context.Context, v int) (int, error) {
		calls.Add(1)
		if v == 13 {
			return 0, errBoom
		}
		return v + 1, nil
	})
	if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), "input 13") {
		t.Fatalf("Map = %v, want boom at input 13", err)
	}
	// One worker runs inputs in order, so the failure stops it at 13.
	if calls.Load() != 14 {
		t.Fatalf("fn called %d times, want 14", calls.Load())
	}
	if got[12] != 13 || got[14] != 0 {
		t.Fatalf("results around the failure: %v", got[10:16])
	}
}

func TestMapPanic(t *testing.T) {
	p := mustNew(t, 2)
	defer p.Wait()
	_, err := pool.Map(context.Background(), p, []int{1, 2, 3}, func(_ context.Context, v int) (int, error) {
		if v == 2 {
			panic("two")
		}
		return v, nil
	})
	var pe *pool.PanicError
	if !errors.As(err, &pe) || pe.Value != "two" {
		t.Fatalf("Map = %v, want a PanicError", err)
	}
}

func TestMapBadInput(t *testing.T) {
	p := mustNew(t, 1)
	ctx := context.Background()
	if _, err := pool.Map[int, int](ctx, p, []int{1}, nil); !errors.Is(err, pool.ErrNilTask) {
		t.Fatalf("nil fn: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := pool.Map(cancelled, p, []int{1, 2}, square); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
	p.Wait()
	if _, err := pool.Map(ctx, p, []int{1}, square); !errors.Is(err, pool.ErrClosed) {
		t.Fatalf("closed pool: %v", err)
	}
}

// TestMapPoolCancelled checks Map does not wait forever for inputs its pool
// abandons.
func TestMapPoolCancelled(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	p := mustNew(t, 1, pool.WithContext(parent))
	started := make(chan struct{})
	go func() { <-started; cancel() }()
	_, err := pool.Map(context.Background(), p, []int{0, 1, 2, 3}, func(ctx context.Context, v int) (int, error) {
		if v == 0 {
			close(started)
			<-ctx.Done()
		}
		return v, ctx.Err()
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Map = %v, want context.Canceled", err)
	}
	if err := p.Wait(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v", err)
	}
}

func count(n int, taken *atomic.Int64) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := range n {
			taken.Add(1)
			if !yield(i) {
				return
			}
		}
	}
}

func TestStreamOrderAndWindow(t *testing.T) {
	for _, window := range []int{1, 3, 16} {
		p := mustNew(t, 4)
		var taken, yielded, worst atomic.Int64
		inputs := func(yield func(int) bool) {
			for i := range 300 {
				in := taken.Add(1) - yielded.Load()
				if in > worst.Load() {
					worst.Store(in)
				}
				if !yield(i) {
					return
				}
			}
		}
		want := 0
		for v, err := range pool.StreamN(context.Background(), p, window, inputs, square) {
			yielded.Add(1)
			if err != nil || v != want*want {
				t.Fatalf("item %d: %d, %v", want, v, err)
			}
			want++
		}
		if want != 300 {
			t.Fatalf("yielded %d items", want)
		}
		if w := worst.Load(); w > int64(window) || (window > 1 && w < 2) {
			t.Fatalf("window %d: up to %d inputs in flight", window, w)
		}
		p.Wait()
	}
}

func TestStreamEarlyBreak(t *testing.T) {
	p := mustNew(t, 3)
	var running atomic.Int64
	inputsStopped := make(chan struct{})
	endless := func(yield func(int) bool) {
		defer close(inputsStopped)
		for i := 0; ; i++ {
			if !yield(i) {
				return
			}
		}
	}
	n := 0
	for _, err := range pool.Stream(context.Background(), p, endless, func(ctx context.Context, v int) (int, error) {
		running.Add(1)
		defer running.Add(-1)
		if v > 5 {
			<-ctx.Done() // only breaking the loop releases these
		}
		return v, nil
	}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 5 {
			break
		}
	}
	<-inputsStopped
	if r := running.Load(); r != 0 {
		t.Fatalf("%d calls still running after break", r)
	}
	// Wrappers of inputs that never started may still sit in the pool's
	// queue; they return at once, and Wait must not report them.
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestStreamErrors(t *testing.T) {
	p := mustNew(t, 2)
	var taken atomic.Int64
	var got []string
	for v, err := range pool.Stream(context.Background(), p, count(6, &taken), func(_ context.Context, v int) (int, error) {
		if v%2 == 1 {
			return 0, errBoom
		}
		return v, nil
	}) {
		if err != nil {
			got = append(got, "err")
		} else {
			got = append(got, string(rune('0'+v)))
		}
	}
	if s := strings.Join(got, ","); s != "0,err,2,err,4,err" {
		t.Fatalf("got %s", s)
	}
	p.Wait()

	for _, err := range pool.Stream(context.Background(), p, count(3, &taken), square) {
		if !errors.Is(err, pool.ErrClosed) {
			t.Fatalf("Stream on closed pool yielded %v", err)
		}
	}
}

func TestStreamCancel(t *testing.T) {
	p := mustNew(t, 2)
	defer p.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var taken atomic.Int64
	var oks, errs int
	for _, err := range pool.Stream(ctx, p, count(1000, &taken), square) {
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v", err)
			}
			errs++
			continue
		}
		if oks++; oks == 3 {
			cancel()
		}
	}
	if oks != 3 || errs != 1 {
		t.Fatalf("after cancel: %d results, %d errors; want 3 and 1", oks, errs)
	}
	if taken.Load() > 3+int64(2*p.Workers()) {
		t.Fatalf("took %d inputs", taken.Load())
	}
}

func TestStreamUnordered(t *testing.T) {
	p := mustNew(t, 3)
	defer p.Wait()
	const n, window = 200, 5
	var taken, yielded, worst atomic.Int64
	inputs := func(yield func(int) bool) {
		for i := range n {
			if in := taken.Add(1) - yielded.Load(); in > worst.Load() {
				worst.Store(in)
			}
			if !yield(i) {
				return
			}
		}
	}
	seen := make(map[int]int)
	for v, err := range pool.StreamUnordered(context.Background(), p, window, inputs, square) {
		yielded.Add(1)
		if err != nil {
			t.Fatal(err)
		}
		seen[v]++
	}
	for i := range n {
		if seen[i*i] != 1 {
			t.Fatalf("result %d seen %d times", i*i, seen[i*i])
		}
	}
	if worst.Load() > window {
		t.Fatalf("%d inputs in flight, window %d", worst.Load(), window)
	}

	// Breaking early leaves nothing running.
	var running atomic.Int64
	k := 0
	for range pool.StreamUnordered(context.Background(), p, window, count(1000, &taken), func(ctx context.Context, v int) (int, error) {
		running.Add(1)
		defer running.Add(-1)
		return v, nil
	}) {
		if k++; k == 3 {
			break
		}
	}
	if running.Load() != 0 {
		t.Fatal("calls still running after break")
	}
}
