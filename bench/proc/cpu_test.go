package proc_test

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"crew/proc"
)

// sumTo is the CPU-bound task: the sum of 0..sumTo-1, done by a plain loop
// so that every run costs the same instructions wherever it runs.
const sumTo = 100_000_000

func sumSpan(s span) int {
	t := 0
	for i := s.Lo; i < s.Hi; i++ {
		t += i
	}
	return t
}

// spans cuts 0..sumTo into k equal ranges.
func spans(k int) []span {
	s := make([]span, k)
	for i := range s {
		s[i] = span{i * sumTo / k, (i + 1) * sumTo / k}
	}
	return s
}

// cpuMask is the kernel's cpu_set_t: room for 1024 CPUs.
type cpuMask [16]uint64

func (m *cpuMask) has(cpu int) bool { return m[cpu/64]&(1<<(cpu%64)) != 0 }

// affinity gets (get true) or sets the calling thread's CPU mask. The
// standard library has no wrapper for these calls, and golang.org/x/sys is
// not a direct requirement of this module, so the raw system call is used.
func affinity(get bool, m *cpuMask) error {
	nr := uintptr(syscall.SYS_SCHED_SETAFFINITY)
	if get {
		nr = syscall.SYS_SCHED_GETAFFINITY
	}
	_, _, e := syscall.RawSyscall(nr, 0, unsafe.Sizeof(*m), uintptr(unsafe.Pointer(m)))
	if e != 0 {
		return e
	}
	return nil
}

// allowedCPUs lists the CPUs this process may run on.
func allowedCPUs() ([]int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var m cpuMask
	if err := affinity(true, &m); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var cpus []int
	for c := range len(m) * 64 {
		if m.has(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// onCPU times the whole sum in this process with its thread pinned to cpu.
// It runs on a goroutine of its own, locked to its thread, and gives the
// thread back to the scheduler only once the old mask is restored: if the
// restore fails, the thread dies with the goroutine rather than leave a
// pinned thread to the rest of the benchmark.
func onCPU(cpu int) (time.Duration, error) {
	type result struct {
		d   time.Duration
		err error
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread()
		var old, one cpuMask
		if err := affinity(true, &old); err != nil {
			done <- result{err: fmt.Errorf("sched_getaffinity: %w", err)}
			return
		}
		one[cpu/64] = 1 << (cpu % 64)
		if err := affinity(false, &one); err != nil {
			done <- result{err: fmt.Errorf("sched_setaffinity cpu %d: %w", cpu, err)}
			return
		}
		t := time.Now()
		got := sumSpan(span{0, sumTo})
		d := time.Since(t)
		var err error
		if got != sumTo*(sumTo-1)/2 {
			err = fmt.Errorf("sum on cpu %d = %d", cpu, got)
		}
		if rerr := affinity(false, &old); rerr != nil {
			done <- result{err: fmt.Errorf("restoring the CPU mask: %w", rerr)}
			return
		}
		runtime.UnlockOSThread()
		done <- result{d, err}
	}()
	r := <-done
	return r.d, r.err
}

// cpuBound holds the CPU-bound figures, each the fastest of its rounds, in
// seconds.
type cpuBound struct {
	cpus    []int     // the CPUs this process may use
	pinned  []float64 // the whole sum in this process, pinned to cpus[i]
	one     float64   // 1 worker, 1 span
	two     float64   // 2 workers, 2 equal spans
	sixteen float64   // 2 workers, 16 spans handed out as workers free up
}

// fastTwo returns the times of the two fastest CPUs, fast first.
func (c cpuBound) fastTwo() (fast, slow float64) {
	ts := slices.Clone(c.pinned)
	slices.Sort(ts)
	return ts[0], ts[1]
}

// balancedBound is the best speed-up any 2-worker split can reach over one
// worker on the faster CPU: both CPUs' rates added, over the faster's.
func (c cpuBound) balancedBound() float64 {
	fast, slow := c.fastTwo()
	return (1/fast + 1/slow) / (1 / fast)
}

// equalBound is the best speed-up of two equal halves over one worker on
// the faster CPU: the half on the slower CPU decides.
func (c cpuBound) equalBound() float64 {
	fast, slow := c.fastTwo()
	return fast / (slow / 2)
}

// measureCPU times the sum on each CPU alone and through 1- and 2-worker
// pools. All take turns, round by round, so that a change in the
// neighbours' load hits them alike; each keeps its fastest round (the sum
// takes Go only tens of milliseconds, so one descheduling can double a
// round).
func measureCPU(b *testing.B, rounds int) cpuBound {
	cpus, err := allowedCPUs()
	if err != nil {
		b.Fatal(err)
	}
	if len(cpus) < 2 {
		b.Skipf("this process may run on %d CPU(s); the 2-worker rows need 2", len(cpus))
	}
	p1, p2 := pool(b, 1), pool(b, 2)
	// WithPrefetch(0): a worker gets its next span only when it has returned
	// the last, so the faster CPU takes more of them.
	p2free, err := proc.New(context.Background(), proc.WithWorkers(2), proc.WithPrefetch(0))
	if err != nil {
		b.Fatal(err)
	}
	defer p2free.Close()
	defer p2.Close()
	defer p1.Close()
	sum := func(p *proc.Pool, k int) float64 {
		t := time.Now()
		out, err := sumRange.Map(context.Background(), p, spans(k))
		d := time.Since(t)
		if err != nil {
			b.Fatal(err)
		}
		total := 0
		for _, v := range out {
			total += v
		}
		if total != sumTo*(sumTo-1)/2 {
			b.Fatalf("sum over %d spans = %d", k, total)
		}
		return d.Seconds()
	}
	c := cpuBound{cpus: cpus, pinned: make([]float64, len(cpus))}
	c.one, c.two, c.sixteen = math.Inf(1), math.Inf(1), math.Inf(1)
	for i := range c.pinned {
		c.pinned[i] = math.Inf(1)
	}
	for range rounds {
		for i, cpu := range cpus {
			d, err := onCPU(cpu)
			if err != nil {
				b.Fatal(err)
			}
			c.pinned[i] = min(c.pinned[i], d.Seconds())
		}
		c.one = min(c.one, sum(p1, 1))
		c.two = min(c.two, sum(p2, 2))
		c.sixteen = min(c.sixteen, sum(p2free, 16))
	}
	return c
}

// cpuRounds is how many rounds the CPU-bound rows take the fastest of.
// A round lasts under 0.1 s, so many are cheap, and the fastest rounds
// are the ones no neighbour and no slow spell of a CPU disturbed.
const cpuRounds = 30
