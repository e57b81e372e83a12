package ipc_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"crew/internal/testproc"
	"crew/internal/wait"
	"crew/ipc"
)

// The int64 array the array-adder helpers share with the benchmark.
const (
	elemCount = 0 // the counter
	elemReady = 1 // helpers waiting to start
	elemGo    = 2 // set to release them together
)

// array-adder NAME N: add 1 to the counter of array NAME N times.
func init() {
	testproc.Register("array-adder", func(args []string) int {
		if err := arrayAdder(args); err != nil {
			fmt.Fprintf(os.Stderr, "array-adder: %v\n", err)
			return 2
		}
		return 0
	})
}

func arrayAdder(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("want NAME N, got %q", args)
	}
	n, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	a, err := ipc.OpenArray[int64](args[0])
	if err != nil {
		return err
	}
	defer a.Close()
	a.Add(elemReady, 1)
	// Spin, so that the helpers start within microseconds of each other.
	for v, _ := a.Load(elemGo); v == 0; v, _ = a.Load(elemGo) {
		runtime.Gosched()
	}
	for range n {
		if _, err := a.Add(elemCount, 1); err != nil {
			return err
		}
	}
	return nil
}

// goArrayRate runs procs helper processes that each Add 1 to the same
// element n times and returns the additions per second, from their release
// until the last has exited (as the Python peer measures).
func goArrayRate(b *testing.B, n, procs int) float64 {
	b.Helper()
	name := fmt.Sprintf("crew-bench-array-%d", os.Getpid())
	a, err := ipc.CreateArray[int64](name, 3)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Remove()
	defer a.Close()
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmds[i] = testproc.Command("array-adder", name, strconv.Itoa(n))
		cmds[i].Stderr = os.Stderr
		if err := cmds[i].Start(); err != nil {
			b.Fatal(err)
		}
	}
	wait.For(b, "adders ready", func() bool { v, _ := a.Load(elemReady); return v == int64(procs) })
	t := time.Now()
	a.Store(elemGo, 1)
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	d := time.Since(t)
	if got, _ := a.Load(elemCount); got != int64(n*procs) {
		b.Fatalf("counter = %d, want %d", got, n*procs)
	}
	return float64(n*procs) / d.Seconds()
}

// pyValueRate runs pyarray.py: procs Python processes adding to one
// multiprocessing.Value under its lock, n times each.
func pyValueRate(b *testing.B, n, procs int) float64 {
	b.Helper()
	out, err := exec.Command("python3", "pyarray.py", strconv.Itoa(n), strconv.Itoa(procs)).Output()
	if err != nil {
		b.Fatalf("python3 pyarray.py: %v", err)
	}
	var r struct {
		OpsPerS float64 `json:"ops_per_s"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatalf("python3 pyarray.py said %q: %v", out, err)
	}
	return r.OpsPerS
}

// BenchmarkArrayVsPython prints additions per second to one shared counter
// by 1 and 2 processes: crew's ipc.Array Add against Python's
// multiprocessing.Value with its lock, measured in the same run. Run it
// with -benchtime 1x:
//
//	cd bench && go test -run '^$' -bench ArrayVsPython -benchtime 1x ./ipc/
//
// On 2026-11-27 (2 vCPUs, load average 8) three runs gave 150-176M adds/s
// for one process and 158-197M/s for two against Python's 0.64-0.88M/s and
// 0.42-0.77M/s: 180-373x. Two Go processes are no slower than one here,
// which suggests the two vCPUs share a core's cache.
func BenchmarkArrayVsPython(b *testing.B) {
	if _, err := exec.LookPath("python3"); err != nil {
		b.Skip("python3 not installed")
	}
	for b.Loop() {
		fmt.Printf("%-42s %14s %14s %8s\n", "adds to one shared counter", "ipc.Array.Add", "mp.Value+lock", "ratio")
		for _, procs := range []int{1, 2} {
			crew := goArrayRate(b, 20_000_000, procs)
			py := pyValueRate(b, 200_000, procs)
			fmt.Printf("%-42s %12.1fM/s %12.2fM/s %7.0fx\n",
				fmt.Sprintf("%d process(es)", procs), crew/1e6, py/1e6, crew/py)
		}
	}
}

// BenchmarkArray is the cost of one access in one process, uncontended,
// beside an atomic add on the Go heap.
func BenchmarkArray(b *testing.B) {
	name := fmt.Sprintf("crew-bench-array1-%d", os.Getpid())
	a, err := ipc.CreateArray[int64](name, 8)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Remove()
	defer a.Close()
	var heap atomic.Int64
	b.Run("atomic.Int64.Add", func(b *testing.B) {
		for b.Loop() {
			heap.Add(1)
		}
	})
	b.Run("Array.Add", func(b *testing.B) {
		for b.Loop() {
			a.Add(3, 1)
		}
	})
	b.Run("Array.At", func(b *testing.B) {
		for b.Loop() {
			a.At(3)
		}
	})
	b.Run("Slice", func(b *testing.B) {
		s := a.Slice()
		for b.Loop() {
			s[3]++
		}
	})
}
