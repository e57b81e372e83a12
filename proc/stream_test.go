package proc_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"testing"
	"time"

	"crew/proc"
)

// count yields 0..n-1.
func count(n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	}
}

// Stream yields in input order whatever order the workers finish in: here
// the first input of every ten sleeps, so later ones finish first.
func TestStreamOrder(t *testing.T) {
	p := newPool(t, proc.WithWorkers(2))
	ins := make([]int, 200)
	for i := range ins {
		if i%10 == 0 {
			ins[i] = 5
		}
	}
	for _, chunk := range []int{1, 3, 64, 1000} {
		t.Run(fmt.Sprint("chunk", chunk), func(t *testing.T) {
			i := 0
			for r := range nap.Stream(context.Background(), p, slices.Values(ins), proc.WithChunk(chunk)) {
				if r.Index != i || r.Err != nil || r.Out != ins[i] {
					t.Fatalf("result %d: %+v, want index %d out %d", i, r, i, ins[i])
				}
				i++
			}
			if i != len(ins) {
				t.Fatalf("%d results for %d inputs", i, len(ins))
			}
		})
	}
}

func TestStreamErrors(t *testing.T) {
	p := newPool(t, proc.WithWorkers(2))
	ctx := context.Background()
	ins := []int{1, -2, 3, -4, 5}
	var got []string
	for r := range failIf.Stream(ctx, p, slices.Values(ins), proc.WithChunk(2)) {
		got = append(got, fmt.Sprintf("%d:%d:%v", r.Index, r.Out, r.Err))
	}
	want := []string{"0:1:<nil>", "1:0:negative -2", "2:3:<nil>", "3:0:negative -4", "4:5:<nil>"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}

	// Breaking out returns at once, and the pool goes on.
	n := 0
	for range add1.Stream(ctx, p, count(1_000_000)) {
		if n++; n == 5 {
			break
		}
	}
	if got, err := add1.Call(ctx, p, 1); got != 2 || err != nil {
		t.Fatalf("after break: %d, %v", got, err)
	}

	// A cancelled ctx, a closed pool and bad options end it with Index -1.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	closed, err := proc.New(ctx, proc.WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	tests := []struct {
		name string
		seq  iter.Seq[proc.Result[int]]
		err  error
	}{
		{"cancelled", add1.Stream(cctx, p, count(10)), context.Canceled},
		{"closed pool", add1.Stream(ctx, closed, count(10)), proc.ErrClosed},
		{"nil pool", add1.Stream(ctx, nil, count(10)), proc.ErrClosed},
		{"bad option", add1.Stream(ctx, p, count(10), proc.WithCallTimeout(-1)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last proc.Result[int]
			for r := range tt.seq {
				last = r
			}
			if last.Index != -1 || last.Err == nil || (tt.err != nil && !errors.Is(last.Err, tt.err)) {
				t.Fatalf("last result %+v, want Index -1 and %v", last, tt.err)
			}
		})
	}
}

// TestStreamBoundedMemory streams ten million inputs through the pool and
// checks that the heap never holds more than a small fraction of them:
// Stream takes inputs only as it yields results. A Stream that gathered
// its inputs first, or a Map, would hold 10M ints of inputs or outputs,
// 80 MB each, far above the bound.
func TestStreamBoundedMemory(t *testing.T) {
	const n = 10_000_000
	const bound = 16 << 20 // bytes of heap in use, at any sample
	p := newPool(t, proc.WithWorkers(2))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	start := time.Now()
	next := 0
	for r := range add1.Stream(context.Background(), p, count(n), proc.WithChunk(10_000)) {
		if r.Index != next || r.Err != nil || r.Out != next+1 {
			t.Fatalf("result %+v, want index %d out %d", r, next, next+1)
		}
		next++
		if next%250_000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	if next != n {
		t.Fatalf("%d results, want %d", next, n)
	}
	t.Logf("%d inputs in %v; heap %d KiB before, peak %d KiB", n, time.Since(start).Round(time.Millisecond), base>>10, peak>>10)
	if peak > base+bound {
		t.Fatalf("peak heap %d KiB, more than %d KiB above the %d KiB before: Stream is not lazy", peak>>10, bound>>10, base>>10)
	}
}
