// Package proc_test measures crew's process pool against Python's
// multiprocessing in the same run; see README.md for the command.
package proc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"crew/proc"
)

type span struct{ Lo, Hi int }

var (
	add1     = proc.Register("add1", func(_ context.Context, x int) (int, error) { return x + 1, nil })
	sumRange = proc.Register("sumRange", func(_ context.Context, s span) (int, error) {
		t := 0
		for i := s.Lo; i < s.Hi; i++ {
			t += i
		}
		return t, nil
	})
)

func TestMain(m *testing.M) {
	probeMain()
	proc.Main()
	os.Exit(m.Run())
}

func python(b *testing.B, mode string, n int) map[string]float64 {
	b.Helper()
	out, err := exec.Command("python3", "pybench.py", mode, fmt.Sprint(n)).Output()
	if err != nil {
		b.Fatalf("python3 %s: %v", mode, err)
	}
	var r map[string]float64
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatalf("python3 %s said %q: %v", mode, out, err)
	}
	return r
}

func pool(b *testing.B, workers int) *proc.Pool {
	b.Helper()
	p, err := proc.New(context.Background(), proc.Workers(workers))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func rate(b *testing.B, p *proc.Pool, n, chunk int) float64 {
	ins := make([]int, n)
	for i := range ins {
		ins[i] = i
	}
	add1.Map(context.Background(), p, ins[:1000], proc.Chunk(chunk)) // warm up
	t := time.Now()
	out, err := add1.Map(context.Background(), p, ins, proc.Chunk(chunk))
	d := time.Since(t)
	if err != nil || out[n-1] != n {
		b.Fatalf("map: %v", err)
	}
	return float64(n) / d.Seconds()
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

// BenchmarkVsPython prints the comparison table. Run it with -benchtime 1x.
func BenchmarkVsPython(b *testing.B) {
	if _, err := exec.LookPath("python3"); err != nil {
		b.Skip("python3 not installed")
	}
	for b.Loop() {
		row := func(name string, crew, py float64, unit string) {
			fmt.Printf("%-36s %14.0f %14.0f %8.2fx %s\n", name, crew, py, crew/py, unit)
		}
		fmt.Printf("%-36s %14s %14s %9s\n", "measure (2 workers)", "crew", "python", "ratio")
		p := pool(b, 2)
		one := rate(b, p, 200_000, 1)
		row("one by one vs ProcessPoolExecutor", one, python(b, "submit", 50_000)["rate"], "tasks/s")
		row("one by one vs Pool.map(chunksize=1)", one, python(b, "map1", 200_000)["rate"], "tasks/s")
		chunked := rate(b, p, 10_000_000, 1000)
		row("chunk 1000 vs Pool.map(chunksize=1000)", chunked, python(b, "map1000", 5_000_000)["rate"], "tasks/s")
		p.Close()

		ready := measureReady(b, 5, 20)
		start, fork := ready.crew, ready.python
		spawn := python(b, "startup-spawn", 5)["seconds"]
		fmt.Printf("%-36s %12.2fms %12.2fms %8.2fx faster\n", "ready vs Pool(fork)", start*1e3, fork*1e3, fork/start)
		fmt.Printf("%-36s %12.2fms %12.2fms %8.2fx faster\n", "ready vs Pool(spawn)", start*1e3, spawn*1e3, spawn/start)
		fmt.Printf("%-36s %12.2fms %12.2fms %8.2fx faster\n", "floor: 2 bare re-execs vs Pool(fork)", ready.probe*1e3, fork*1e3, fork/ready.probe)

		// One and two workers take turns, round by round, so that a change
		// in the neighbours' load hits both alike; each keeps its fastest
		// round (the sum takes Go only tens of milliseconds, so one
		// descheduling can double a round).
		const n = 100_000_000
		p1, p2 := pool(b, 1), pool(b, 2)
		sum := func(p *proc.Pool, workers int) float64 {
			var spans []span
			for i := range workers {
				spans = append(spans, span{i * n / workers, (i + 1) * n / workers})
			}
			t := time.Now()
			out, err := sumRange.Map(context.Background(), p, spans)
			if err != nil {
				b.Fatal(err)
			}
			total := 0
			for _, v := range out {
				total += v
			}
			if total != n*(n-1)/2 {
				b.Fatalf("sum = %d", total)
			}
			return time.Since(t).Seconds()
		}
		t1, t2 := math.Inf(1), math.Inf(1)
		for range 9 {
			t1 = min(t1, sum(p1, 1))
			t2 = min(t2, sum(p2, 2))
		}
		p1.Close()
		p2.Close()
		fmt.Printf("%-36s %12.1fms %12.1fms %8.2fx speed-up\n", "sum 0..1e8: 2 workers vs 1", t2*1e3, t1*1e3, t1/t2)
	}
}
