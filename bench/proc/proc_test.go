// Package proc_test measures crew's process pool against Python's
// multiprocessing in the same run; see README.md for the command.
package proc_test

import (
	"context"
	"encoding/json"
	"fmt"
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
	sumRange = proc.Register("sumRange", func(_ context.Context, s span) (int, error) { return sumSpan(s), nil })
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
	p, err := proc.New(context.Background(), proc.WithWorkers(workers))
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
	add1.Map(context.Background(), p, ins[:1000], proc.WithChunk(chunk)) // warm up
	t := time.Now()
	out, err := add1.Map(context.Background(), p, ins, proc.WithChunk(chunk))
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

		c := measureCPU(b, cpuRounds)
		fast, _ := c.fastTwo()
		fmt.Printf("\n%-36s %12s %12s %10s %10s\n", fmt.Sprintf("sum 0..1e8, fastest of %d rounds", cpuRounds), "time", "speed-up", "bound", "target")
		for i, cpu := range c.cpus {
			fmt.Printf("%-36s %10.1fms %8s %.2f of the fastest\n", fmt.Sprintf("cpu %d alone (this process, pinned)", cpu), c.pinned[i]*1e3, "speed", fast/c.pinned[i])
		}
		fmt.Printf("%-36s %10.1fms\n", "1 worker", c.one*1e3)
		fmt.Printf("%-36s %10.1fms %11.2fx %9.2fx %9.2fx\n", "2 workers, 2 equal spans", c.two*1e3, c.one/c.two, c.equalBound(), 1.85)
		fmt.Printf("%-36s %10.1fms %11.2fx %9.2fx %9.2fx\n", "16 spans over 2 workers", c.sixteen*1e3, c.one/c.sixteen, c.balancedBound(), 1.85)
		fmt.Println("  bound: 2 equal spans 2·t_fast/t_slow; any split (1/t0 + 1/t1) / (1/t_fast),")
		fmt.Println("  the single worker assumed on the fast CPU")
		py := python(b, "cpu", 10_000_000)
		fmt.Printf("%-36s %10.0fms %11.2fx (Pool(1) %.0fms)\n", "python 0..1e7: Pool(2) vs Pool(1)", py["two"]*1e3, py["one"]/py["two"], py["one"]*1e3)
	}
}
