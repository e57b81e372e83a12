package lab

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// MinCeiling is the lowest ceiling a speed-up can be judged against. Below
// it, N threads ran a pure CPU loop barely faster than one, so a parallel
// mode and a serial one reach nearly the same figure and noise decides
// which looks faster: a verdict on a speed-up is then inconclusive.
const MinCeiling = 1.2

// ParallelShare is the share of the ceiling a mode must reach to count as
// running in parallel. It leaves room for what a real mode pays and the
// pure loop does not: starting workers, gathering results, noise.
const ParallelShare = 0.85

// serialMaxSpeedup caps Ceiling.SerialMax: whatever the ceiling, a mode
// 1.2x faster than one thread is not "no faster than one".
const serialMaxSpeedup = 1.2

// ceilingRounds is how many mix rounds the pure loop runs per item: the
// gil experiment's own loop, so the ceiling measures the same kind of work.
const ceilingRounds = 4

// disturbedWhy explains, in a verdict, a run whose control mode (Go's
// threads, the ceiling's loop with no lock) fell short of the ceiling.
const disturbedWhy = "Go's threads, the same loop with no lock and the control, fell short of the ceiling too, so something other than processes or the GIL held the modes back (a machine busier during the modes than during the ceiling's samples, or a run too short); "

// CeilingMode labels the ceiling's row in a result's table.
const CeilingMode = "ceiling: pure loop"

// A Ceiling is what this machine's CPUs did in parallel during one run: the
// speed-up of a pure CPU loop (multiplies and shifts in registers, no memory
// traffic, locks or system calls) split over Threads locked OS threads at
// once, over the same loop on one locked thread. On an idle machine with
// Threads cores it is close to Threads; on a shared VM whose CPUs run at
// different speeds, or slow each other down when both are busy, it is
// lower, and no program can beat it. Speed-up claims are therefore judged
// as a share of it ([Ceiling.Share], [Ceiling.Parallel], [Ceiling.Serial]),
// so that a busy machine does not read as evidence against a claim.
//
// A Ceiling is a plain value; copy it freely. The zero value means "not
// measured" and is never [Ceiling.Conclusive].
type Ceiling struct {
	// Threads is the number of OS threads the loop was split over.
	Threads int `json:"threads"`
	// One is the fastest time, in seconds, of the loop on one thread
	// (samples compare per item; the time is for the loop's last length).
	One float64 `json:"one_s"`
	// Many is the fastest time of the same work split over Threads
	// threads running at once.
	Many float64 `json:"many_s"`
	// Speedup is One/Many: the ceiling itself.
	Speedup float64 `json:"speedup"`
	// Samples is how many pairs of runs One and Many are the fastest of.
	Samples int `json:"samples"`
}

// Conclusive reports whether the ceiling is at least [MinCeiling], high
// enough to tell a parallel speed-up from a serial one.
func (c Ceiling) Conclusive() bool { return c.Speedup >= MinCeiling }

// Share returns speed-up x as a share of the ceiling: 1 means x reached
// what this machine did with a pure loop. It is 0 for an unmeasured
// ceiling.
func (c Ceiling) Share(x float64) float64 {
	if c.Speedup <= 0 {
		return 0
	}
	return x / c.Speedup
}

// Of describes speed-up x against the ceiling, as in "1.25x of a 1.28x
// ceiling (98%)".
func (c Ceiling) Of(x float64) string {
	return fmt.Sprintf("%.2fx of a %.2fx ceiling (%.0f%%)", x, c.Speedup, 100*c.Share(x))
}

// ParallelMin is the least speed-up that counts as running in parallel:
// [ParallelShare] of the ceiling.
func (c Ceiling) ParallelMin() float64 { return ParallelShare * c.Speedup }

// Parallel reports whether speed-up x reached [Ceiling.ParallelMin].
func (c Ceiling) Parallel(x float64) bool { return c.Conclusive() && x >= c.ParallelMin() }

// Midpoint is the speed-up half-way between one thread (1x) and the
// ceiling. A figure that misses its threshold counts against a claim only
// on the far side of it: a "serial" mode above it ran nearer the ceiling
// than one thread, a "parallel" mode below it nearer one thread. Between
// a threshold and the midpoint the figure is ambiguous, and on a low
// ceiling that band is wider than the noise of a busy machine.
func (c Ceiling) Midpoint() float64 { return (1 + c.Speedup) / 2 }

// Beyond reports whether speed-up x is further above the ceiling than
// noise explains (more than the ceiling over [ParallelShare], 118% of
// it). No mode beats what the machine did with a pure loop, so such a
// figure says the baseline it was measured against (the one-thread run)
// was slowed by something else, and every speed-up over that baseline is
// suspect.
func (c Ceiling) Beyond(x float64) bool { return c.Conclusive() && x > c.Speedup/ParallelShare }

// SerialMax is the greatest speed-up that still counts as serial ("no
// faster than one thread"): half-way between one thread's share of the
// ceiling (1/ceiling) and [ParallelShare], so that a figure is called
// serial only when it is nearer one thread than the parallel threshold,
// and never more than 1.2x.
func (c Ceiling) SerialMax() float64 {
	return min(serialMaxSpeedup, (1+ParallelShare*c.Speedup)/2)
}

// Serial reports whether speed-up x is at most [Ceiling.SerialMax].
func (c Ceiling) Serial(x float64) bool { return c.Conclusive() && x <= c.SerialMax() }

// Thresholds states both thresholds as shares of the ceiling and as
// speed-ups, for a verdict: "parallel >= 85% of the ceiling (1.09x),
// serial <= 82% (1.04x)".
func (c Ceiling) Thresholds() string {
	return fmt.Sprintf("parallel >= %.0f%% of the ceiling (%.2fx), serial <= %.0f%% (%.2fx)",
		100*ParallelShare, c.ParallelMin(), 100*c.Share(c.SerialMax()), c.SerialMax())
}

// TooLow says why an inconclusive ceiling cannot judge a speed-up, for a
// verdict.
func (c Ceiling) TooLow() string {
	if c.Samples == 0 {
		return "the ceiling was not measured"
	}
	x := fmt.Sprintf("%.2f", c.Speedup)
	if x == fmt.Sprintf("%.2f", MinCeiling) {
		x = fmt.Sprintf("%.3f", c.Speedup) // not "1.20x (under 1.20x)"
	}
	return fmt.Sprintf("the ceiling was only %sx (under %.2fx): %d OS threads ran a pure CPU loop barely faster than one in this run (one CPU, or a busy or unevenly shared machine), so a parallel speed-up cannot be told from a serial one",
		x, MinCeiling, c.Threads)
}

// Describe is the ceiling in one sentence, for a note under a table.
func (c Ceiling) Describe() string {
	if c.Samples == 0 {
		return "ceiling: not measured"
	}
	return fmt.Sprintf("ceiling: a pure CPU loop split over %d locked OS threads at once reached %.2fx the speed of one thread (%.3f s against %.3f s, the fastest of %d samples interleaved with the rounds); speed-ups are judged as a share of it",
		c.Threads, c.Speedup, c.Many, c.One, c.Samples)
}

// Row returns the ceiling as a table row with the keys mode, workers,
// seconds, speedup and of_ceiling (the speed-up rows' share of the
// ceiling, 1 here); callers add their own keys (a workload, a series).
func (c Ceiling) Row() Row {
	return Row{"mode": CeilingMode, "workers": c.Threads, "seconds": c.Many, "speedup": c.Speedup, "of_ceiling": 1.0}
}

// A CeilingMeter measures a [Ceiling] in samples that an experiment
// interleaves with its own rounds (one Sample per round), so that the
// ceiling sees the same machine, neighbours and CPU speeds as the figures
// it judges. Each sample runs the pure loop once on one locked OS thread
// and once split over Threads locked threads at once, alternating which
// goes first, and the meter keeps the fastest of each, as the experiments
// keep their fastest rounds.
//
// The zero value is not usable; use [NewCeilingMeter]. A meter must not be
// used by two goroutines at once. Copying one copies its samples.
type CeilingMeter struct {
	threads int
	work    time.Duration
	items   uint64 // the loop's length, calibrated to take about work
	// one and many are the fastest seconds per item so far: the length
	// is recalibrated after a sample, so runs compare per item.
	one, many float64
	samples   int
}

// NewCeilingMeter returns a meter whose loop takes about work on one
// thread (calibrated on the first sample and adjusted after each) and is split over threads
// threads (at least 1; an experiment passes its worker count). A sample
// then costs about work plus work/threads of wall time: 50 to 100 ms is
// enough for quick runs, as the fastest of several samples is kept.
func NewCeilingMeter(threads int, work time.Duration) *CeilingMeter {
	return &CeilingMeter{threads: max(threads, 1), work: max(work, time.Millisecond)}
}

// Sample runs the loop once on one thread and once on all threads. It
// blocks for the whole sample and returns ctx.Err() without sampling when
// ctx is already done. Samples compare per item of the loop, so the meter
// may adjust the loop's length between samples to keep it near work.
func (m *CeilingMeter) Sample(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.items == 0 {
		m.items = calibrateLoop(m.work)
	}
	var one, many float64
	// Alternate the order: the second run of a pair may find a CPU warmer
	// or a neighbour gone.
	if m.samples%2 == 0 {
		one, many = runLoop(m.items, 1), runLoop(m.items, m.threads)
	} else {
		many, one = runLoop(m.items, m.threads), runLoop(m.items, 1)
	}
	n := float64(m.items)
	if m.samples == 0 || one/n < m.one {
		m.one = one / n
	}
	if m.samples == 0 || many/n < m.many {
		m.many = many / n
	}
	m.samples++
	// A probe of a few milliseconds can be off by half on a busy machine;
	// the sample's own one-thread run sets the next length, at most
	// doubling or halving it.
	m.items = uint64(n * min(max(m.work.Seconds()/max(one, 1e-9), 0.5), 2))
	m.items = max(m.items, 1024)
	return nil
}

// Ceiling returns the ceiling from the samples so far: the fastest
// one-thread run over the fastest all-threads run. Before the first
// sample it is the zero Ceiling (not measured).
func (m *CeilingMeter) Ceiling() Ceiling {
	if m.samples == 0 {
		return Ceiling{Threads: m.threads}
	}
	// Report times for a loop of about work, the length last calibrated.
	n := float64(m.items)
	return Ceiling{Threads: m.threads, One: m.one * n, Many: m.many * n, Speedup: speedup(m.one, m.many), Samples: m.samples}
}

// MeasureCeiling takes samples samples back to back, for an experiment with
// no rounds to interleave them with.
func MeasureCeiling(ctx context.Context, threads int, work time.Duration, samples int) (Ceiling, error) {
	m := NewCeilingMeter(threads, work)
	for range max(samples, 1) {
		if err := m.Sample(ctx); err != nil {
			return m.Ceiling(), err
		}
	}
	return m.Ceiling(), nil
}

// calibrateLoop returns how many items of the pure loop take about d on
// this thread: a probe doubles until it runs for at least 5 ms, then runs
// twice more and the fastest of the three counts, since a neighbour
// stealing the CPU during the probe would make the samples short. A poor
// estimate changes how long a sample takes, never what it measures.
func calibrateLoop(d time.Duration) uint64 {
	n := uint64(1 << 14)
	probe := func() time.Duration {
		t0 := time.Now()
		ceilingSink.Add(sumRange(0, n, ceilingRounds))
		return time.Since(t0)
	}
	el := probe()
	for el < 5*time.Millisecond && n < 1<<34 {
		n *= 2
		el = probe()
	}
	el = min(el, probe(), probe())
	return max(uint64(float64(n)*float64(d)/float64(max(el, time.Microsecond))), 1024)
}

// ceilingSink keeps the loop's result alive so the compiler cannot drop it.
var ceilingSink atomic.Uint64

// startLead is how far ahead runLoop sets the moment its threads start:
// long enough for every locked thread to be woken and spinning on its
// CPU by then. Woken by a channel instead, a parked thread of a VM took
// 2-20 ms to run, and that wait, not the CPUs, set a low ceiling on a
// quiet machine (1.09x where goroutines reached 1.60x in the same second).
const startLead = 5 * time.Millisecond

// runLoop splits items of the pure loop over threads goroutines, each locked
// to its own OS thread, spinning until a common start time and timing its
// own end, and returns the wall time from that start until the last one
// ended.
func runLoop(items uint64, threads int) float64 {
	var done sync.WaitGroup
	start := time.Now().Add(startLead)
	totals := make([]uint64, threads)
	ends := make([]time.Time, threads)
	for i, part := range split(items, threads) {
		done.Add(1)
		go func() {
			defer done.Done()
			// Locked, so each share of the loop has an OS thread of its
			// own, as a thread of a C or Python program would; unlocked
			// afterwards, so the thread is reused rather than destroyed.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for time.Now().Before(start) {
				// Spin: a thread that sleeps until the start has to be
				// woken again, which is the delay the lead is there to
				// absorb.
			}
			totals[i] = sumRange(part[0], part[1], ceilingRounds)
			ends[i] = time.Now()
		}()
	}
	done.Wait()
	var t uint64
	last := start
	for i, v := range totals {
		t += v
		if ends[i].After(last) {
			last = ends[i]
		}
	}
	ceilingSink.Add(t)
	return last.Sub(start).Seconds()
}
