package proc_test

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"crew/proc"
)

// submitRates measures one round of n calls of add1 on p: one at a time
// (Submit, then Wait, then the next; and the same with Call), and all
// submitted before any is waited for. Rates are calls per second.
func submitRates(b *testing.B, p *proc.Pool, n int) (trip, call, batch float64) {
	ctx := context.Background()
	t := time.Now()
	for i := range n {
		fu, err := add1.Submit(ctx, p, i)
		if err != nil {
			b.Fatal(err)
		}
		if y, err := fu.Wait(ctx); err != nil || y != i+1 {
			b.Fatalf("Wait: %d, %v", y, err)
		}
	}
	trip = float64(n) / time.Since(t).Seconds()
	t = time.Now()
	for i := range n {
		if y, err := add1.Call(ctx, p, i); err != nil || y != i+1 {
			b.Fatalf("Call: %d, %v", y, err)
		}
	}
	call = float64(n) / time.Since(t).Seconds()
	t = time.Now()
	fs := make([]*proc.Future[int], n)
	for i := range n {
		var err error
		if fs[i], err = add1.Submit(ctx, p, i); err != nil {
			b.Fatal(err)
		}
	}
	for i, fu := range fs {
		if y, err := fu.Wait(ctx); err != nil || y != i+1 {
			b.Fatalf("Wait: %d, %v", y, err)
		}
	}
	batch = float64(n) / time.Since(t).Seconds()
	return trip, call, batch
}

// BenchmarkSubmitVsPython compares a future's round trip (Submit, then
// Wait) with Python's ProcessPoolExecutor submit(...).result(), both with
// 2 fork-started (Python) or re-executed (crew) workers, in the same run.
// crew's rounds come before and after Python's, five each, and the median
// is taken, so load from elsewhere falls on both. Run it with -benchtime 1x.
func BenchmarkSubmitVsPython(b *testing.B) {
	if _, err := exec.LookPath("python3"); err != nil {
		b.Skip("python3 not installed")
	}
	const n = 5_000
	for b.Loop() {
		p := pool(b, 2)
		submitRates(b, p, 1000) // warm up
		var trips, calls, batches []float64
		round := func() {
			for range 5 {
				trip, call, batch := submitRates(b, p, n)
				trips, calls, batches = append(trips, trip), append(calls, call), append(batches, batch)
			}
		}
		round()
		py := python(b, "submit1", n)
		round()
		p.Close()
		row := func(name string, crew, py float64) {
			fmt.Printf("%-48s %10.0f %10.0f %8.2fx  (%.1f µs vs %.1f µs a call)\n", name, crew, py, crew/py, 1e6/crew, 1e6/py)
		}
		fmt.Printf("%-48s %10s %10s %9s\n", "calls/s, 2 workers, add1 (median of rounds)", "crew", "python", "ratio")
		row("Submit+Wait round trip vs submit().result()", median(trips), py["trip"])
		row("Call round trip vs submit().result()", median(calls), py["trip"])
		row(fmt.Sprintf("%d Submits, then Wait each vs the same", n), median(batches), py["batch"])
	}
}
