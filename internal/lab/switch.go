package lab

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"crew/proc"
)

var switchParams = []Param{{"trips", ParamInt}, {"ktrips", ParamInt}, {"xtrips", ParamInt}, {"reps", ParamInt}, {"pairs", ParamInt}}

var switchExperiment = Experiment{
	Name: "switch",
	Claim: "Handing control between processes costs the most (a context switch through the kernel, saving one TCB and loading another, plus a change of address space); " +
		"between threads less; between goroutines or coroutines, switched in user space, least.",
	Run:    runSwitch,
	Params: switchParams,
}

// The modes, cheapest expected first.
const (
	switchCoroutine = "coroutines (iter.Pull)"
	switchGoroutine = "goroutines (channel)"
	switchThread    = "OS threads (pipe)"
	switchProcess   = "processes (pipe)"
)

var switchModes = []string{switchCoroutine, switchGoroutine, switchThread, switchProcess}

// The placements: both sides bound to one CPU, or to two different ones.
const (
	switchOneCPU  = "one CPU"
	switchTwoCPUs = "two CPUs"
)

// switchFigures are the fastest round trip in ns, by placement and mode (a
// busy machine only ever adds time), the spread (slowest over fastest) of
// the repetitions behind it, and, for each pair of short runs on one CPU,
// processes' time over threads': the two run alternately within a pair, so
// a change in the machine's load between pairs cancels out of the ratio.
type switchFigures struct {
	NS     map[string]map[string]float64
	Spread map[string]map[string]float64
	Paired []float64
}

func (f *switchFigures) set(place, mode string, ns, spread float64) {
	if f.NS == nil {
		f.NS, f.Spread = map[string]map[string]float64{}, map[string]map[string]float64{}
	}
	if f.NS[place] == nil {
		f.NS[place], f.Spread[place] = map[string]float64{}, map[string]float64{}
	}
	f.NS[place][mode], f.Spread[place][mode] = ns, spread
}

func runSwitch(ctx context.Context, cfg Config) (*Result, error) {
	p := newParams("switch", switchParams, cfg)
	trips := p.Int("trips", 30_000, 1_000_000)
	ktrips := p.Int("ktrips", 2_000, 30_000)
	// A hand-off to another CPU costs several times one on the same CPU
	// (the other CPU must be woken), so it gets fewer trips.
	xtrips := p.Int("xtrips", 300, 6_000)
	reps := p.Int("reps", 3, 9)
	// Processes and threads differ by a few percent, less than the noise
	// between repetitions, so they are also ranked in many short pairs.
	pairs := p.Int("pairs", 15, 41)
	if p.err != nil {
		return nil, p.err
	}
	cpus := allowedCPUs()
	if len(cpus) == 0 {
		return nil, errors.New("cannot read this thread's CPU affinity")
	}
	places := []string{switchOneCPU}
	if len(cpus) >= 2 {
		places = append(places, switchTwoCPUs)
	}
	p.used["cpus"] = fmt.Sprint(cpus[:min(2, len(cpus))])

	dir, err := os.MkdirTemp("", "crew-lab-switch-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	pool, err := proc.New(ctx, proc.WithWorkers(1))
	if err != nil {
		return nil, err
	}
	defer pool.Close()

	// Repetitions are interleaved, so a burst of load from elsewhere on the
	// machine spreads over every mode instead of spoiling one.
	samples := map[[2]string][]float64{}
	for rep := range reps {
		progress(cfg, "lab: switch: repetition %d of %d", rep+1, reps)
		for _, place := range places {
			a, b := cpus[0], cpus[0]
			if place == switchTwoCPUs {
				b = cpus[1]
			}
			for _, mode := range switchModes {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				n := switchTrips(mode, place, trips, ktrips, xtrips)
				var d time.Duration
				var err error
				switch mode {
				case switchCoroutine:
					d, err = switchCoroutines(place, a, cpus, n)
				case switchGoroutine:
					d, err = switchGoroutines(place, a, cpus, n)
				case switchThread:
					d, err = switchThreads(a, b, n)
				case switchProcess:
					d, err = switchProcesses(ctx, pool, filepath.Join(dir, fmt.Sprint(rep, place)), a, b, n)
				}
				if err != nil {
					return nil, fmt.Errorf("%s, %s: %w", mode, place, err)
				}
				k := [2]string{place, mode}
				samples[k] = append(samples[k], float64(d.Nanoseconds())/float64(n))
			}
		}
	}

	var fig switchFigures
	// Each pair keeps the fastest of three short runs of each side, run
	// alternately, since a busy machine only ever adds time to a run.
	pairTrips := max(ktrips/9, 1)
	progress(cfg, "lab: switch: %d pairs of processes and threads", pairs)
	for i := range pairs {
		var th, pr time.Duration
		for j := range 6 {
			// Alternate which runs first, so that whatever the first run
			// leaves behind (a warm cache, a woken CPU) favours neither.
			var d time.Duration
			var err error
			if (i+j)%2 == 0 {
				d, err = switchThreads(cpus[0], cpus[0], pairTrips)
				th = minPositive(th, d)
			} else {
				d, err = switchProcesses(ctx, pool, filepath.Join(dir, fmt.Sprint("pair", i, j)), cpus[0], cpus[0], pairTrips)
				pr = minPositive(pr, d)
			}
			if err != nil {
				return nil, fmt.Errorf("pair %d: %w", i, err)
			}
		}
		fig.Paired = append(fig.Paired, float64(pr)/float64(th))
	}
	p.used["pair_trips"] = pairTrips
	res := &Result{
		Columns: []string{"mode", "placement", "trips", "round_trip_ns", "switch_ns", "spread", "vs_goroutine"},
		Params:  p.used,
		Charts: []Chart{
			{Title: "round trip: hand control over and back (fastest of the repetitions)", Kind: "bar", X: "case", Y: "round_trip_ns", YLabel: "ns per round trip"},
			{Title: "round trip by placement (log scale)", Kind: "line", X: "cpus", Y: "round_trip_ns", Series: "mode",
				XLabel: "CPUs the two sides are bound to", YLabel: "ns per round trip", LogY: true},
		},
	}
	for _, place := range places {
		for _, mode := range switchModes {
			s := samples[[2]string{place, mode}]
			fig.set(place, mode, slices.Min(s), slices.Max(s)/slices.Min(s))
		}
		for _, mode := range switchModes {
			n := switchTrips(mode, place, trips, ktrips, xtrips)
			ns := fig.NS[place][mode]
			res.Rows = append(res.Rows, Row{
				"mode": mode, "placement": place, "case": mode + ", " + place, "cpus": switchCPUs(place), "trips": n,
				"round_trip_ns": ns, "switch_ns": ns / 2, "spread": fig.Spread[place][mode],
				"vs_goroutine": ns / fig.NS[place][switchGoroutine],
			})
		}
	}
	res.Holds, res.Inconclusive, res.Verdict = switchVerdict(fig)
	res.Notes = []string{
		fmt.Sprintf("a round trip hands control to the other side and back: two switches; round_trip_ns is the fastest of %d interleaved repetitions, spread the slowest over the fastest", reps),
		"threads and processes ping-pong one byte over a pair of pipes with blocking read(2) and write(2) on locked OS threads, lmbench lat_ctx's method for two tasks without subtracting the pipe's own cost; processes use a proc worker and named pipes",
		fmt.Sprintf("processes and threads are also ranked in %d pairs on one CPU, each the fastest of three runs of %d round trips per side, run alternately", pairs, pairTrips),
		"one CPU: both sides bound to the same CPU (sched_setaffinity), so every hand-off is a context switch on that CPU; two CPUs: each side bound to its own CPU, so a hand-off wakes the other CPU instead",
		"no Python twin: Python threads and processes hand off through the same pipes and kernel switch (a thread blocked in os.read has released the GIL), and its generators switch in user space like iter.Pull, so Python ranks the modes the same way",
		"goroutines and coroutines cannot be bound one to each CPU: on one CPU the whole process is bound there, on two it runs free; the scheduler keeps a channel pair on one thread anyway, and iter.Pull switches coroutines on the caller's thread without the scheduler",
	}
	return res, nil
}

// minPositive returns the smaller of a and b, a zero a meaning none yet.
func minPositive(a, b time.Duration) time.Duration {
	if a == 0 {
		return b
	}
	return min(a, b)
}

// switchCPUs is the number of CPUs a placement binds the two sides to.
func switchCPUs(place string) int {
	if place == switchTwoCPUs {
		return 2
	}
	return 1
}

// switchTrips is the number of round trips a mode makes at a placement.
func switchTrips(mode, place string, trips, ktrips, xtrips int) int {
	switch {
	case mode != switchThread && mode != switchProcess:
		return trips
	case place == switchTwoCPUs:
		return xtrips
	}
	return ktrips
}

// median returns the middle value of s (the lower one of an even count).
func median(s []float64) float64 {
	c := slices.Clone(s)
	slices.Sort(c)
	return c[(len(c)-1)/2]
}

// switchCoroutines times n round trips into a coroutine and back.
func switchCoroutines(place string, cpu int, cpus []int, n int) (time.Duration, error) {
	if place == switchOneCPU {
		restore, err := pinProcess(cpu, cpus)
		if err != nil {
			return 0, err
		}
		defer restore()
	}
	next, stop := iter.Pull(func(yield func(int) bool) {
		for i := 0; yield(i); i++ {
		}
	})
	defer stop()
	next() // start the coroutine before timing
	t0 := time.Now()
	for range n {
		next()
	}
	return time.Since(t0), nil
}

// switchGoroutines times n round trips between two goroutines over
// unbuffered channels.
func switchGoroutines(place string, cpu int, cpus []int, n int) (time.Duration, error) {
	if place == switchOneCPU {
		restore, err := pinProcess(cpu, cpus)
		if err != nil {
			return 0, err
		}
		defer restore()
	}
	ping, pong := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for range ping {
			pong <- struct{}{}
		}
	})
	ping <- struct{}{}
	<-pong
	t0 := time.Now()
	for range n {
		ping <- struct{}{}
		<-pong
	}
	d := time.Since(t0)
	close(ping)
	wg.Wait()
	return d, nil
}

// switchVerdict judges the one-CPU figures, where every hand-off is a
// context switch. The claim holds when a switch through the kernel (threads,
// processes) costs at least switchKernelFactor times a user-space one
// (goroutines, coroutines) and processes cost more than threads in enough
// paired repetitions that chance is unlikely (a one-sided sign test at 5%).
// When as many repetitions fall the other way, processes are cheaper and
// the claim differs; in between, this machine cannot rank the two:
// inconclusive.
func switchVerdict(f switchFigures) (holds, inconclusive bool, verdict string) {
	one := f.NS[switchOneCPU]
	for _, m := range switchModes {
		if one[m] <= 0 {
			return false, true, "not every mode ran on one CPU"
		}
	}
	co, gr, th, pr := one[switchCoroutine], one[switchGoroutine], one[switchThread], one[switchProcess]
	user := max(co, gr)
	kernel := min(th, pr)
	v := fmt.Sprintf("on one CPU a round trip took %s between coroutines, %s between goroutines, %s between OS threads and %s between processes",
		fmtNS(co), fmtNS(gr), fmtNS(th), fmtNS(pr))
	if two := f.NS[switchTwoCPUs]; two != nil {
		v += fmt.Sprintf("; across two CPUs %s, %s, %s and %s",
			fmtNS(two[switchCoroutine]), fmtNS(two[switchGoroutine]), fmtNS(two[switchThread]), fmtNS(two[switchProcess]))
	}
	if kernel < switchKernelFactor*user {
		return false, false, fmt.Sprintf("a switch through the kernel cost only %.1fx a user-space one (threshold %.0fx); %s",
			kernel/user, switchKernelFactor, v)
	}
	n := len(f.Paired)
	more := 0
	for _, r := range f.Paired {
		if r > 1 {
			more++
		}
	}
	ratio := 0.0
	if n > 0 {
		ratio = median(f.Paired)
	}
	switch {
	case n > 0 && signTest(more, n) <= 0.05:
		return true, false, fmt.Sprintf("processes cost %.2fx threads (median of pairs; more in %d of %d paired repetitions), and a switch through the kernel %.0fx a user-space one; %s",
			ratio, more, n, kernel/user, v)
	case n > 0 && signTest(n-more, n) <= 0.05:
		return false, false, fmt.Sprintf("processes cost less than threads (%.2fx, median of pairs; less in %d of %d paired repetitions), though a switch through the kernel still cost %.0fx a user-space one; %s",
			ratio, n-more, n, kernel/user, v)
	}
	return false, true, fmt.Sprintf("inconclusive between processes and threads: processes cost %.2fx threads (median of pairs), but more in just %d of %d paired repetitions, too few to rule out chance (the change of address space is small beside the kernel switch both pay); "+
		"that kernel switch cost %.0fx a user-space one; %s", ratio, more, n, kernel/user, v)
}

// signTest returns the chance of k or more successes in n fair coin
// tosses: the one-sided p-value of k of n paired comparisons going one way.
func signTest(k, n int) float64 {
	p, c := 0.0, 1.0 // c is n choose i
	for i := 0; i <= n; i++ {
		if i >= k {
			p += c
		}
		c = c * float64(n-i) / float64(i+1)
	}
	return p / math.Pow(2, float64(n))
}

// switchKernelFactor is how many times a user-space switch a switch through
// the kernel must cost for the claim to hold.
const switchKernelFactor = 5.0

// fmtNS prints a duration in ns with a readable unit.
func fmtNS(ns float64) string {
	if ns >= 10_000 {
		return fmt.Sprintf("%.1f µs", ns/1000)
	}
	return fmt.Sprintf("%.0f ns", ns)
}
