package lab

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"crew/proc"
)

var cpuIOParams = []Param{{"tasks", ParamInt}, {"items", ParamInt}, {"rounds", ParamInt}, {"trips", ParamInt}, {"delay", ParamDuration}, {"pyitems", ParamInt}, {"reps", ParamInt}, {"maxworkers", ParamInt}, {"switch", ParamDuration}, {"ceiling", ParamDuration}}

var cpuIOExperiment = Experiment{
	Name:   "cpu-vs-io",
	Claim:  "Threads under the GIL help I/O-bound work but not CPU-bound work; processes help both; concurrency without parallelism (async) still helps I/O.",
	Run:    runCPUIO,
	Params: cpuIOParams,
}

const (
	modeThreads = "threads"
	modeGIL     = "threads + GIL"
	modeProcs   = "processes"
	modeAsync   = "async (GOMAXPROCS=1)"
)

// cpuIOFigures hold the seconds per workload ("cpu", "io"), mode and
// worker count.
type cpuIOFigures struct {
	CPUs    int
	Workers []int
	Seconds map[string]map[string]map[int]float64
	// Ceiling is measured on as many threads as the most workers.
	Ceiling Ceiling
	// Rounds is how many rounds ran every CPU-bound mode, and ProcsBehind
	// in how many of them processes' best gain within the round stayed
	// under ParallelShare of Go's threads' in the same round: a shortfall
	// that is not in every round is a neighbour's doing.
	Rounds, ProcsBehind int
}

func (f *cpuIOFigures) set(work, mode string, w int, s float64) {
	if f.Seconds == nil {
		f.Seconds = map[string]map[string]map[int]float64{}
	}
	if f.Seconds[work] == nil {
		f.Seconds[work] = map[string]map[int]float64{}
	}
	if f.Seconds[work][mode] == nil {
		f.Seconds[work][mode] = map[int]float64{}
	}
	f.Seconds[work][mode][w] = s
}

// gain is how much faster mode ran work with the most workers than with one.
func (f *cpuIOFigures) gain(work, mode string) float64 {
	m := f.Seconds[work][mode]
	return speedup(m[1], m[slices.Max(f.Workers)])
}

// bestGain is mode's greatest gain on work over one worker, and the
// worker count that reached it. CPU-bound work is judged by it rather than
// by the most workers: past the CPU count, processes pay for their own
// oversubscription (8 workers on 2 CPUs: 1.17x where 2 reached 1.63x),
// which is no part of the claim.
func (f *cpuIOFigures) bestGain(work, mode string) (float64, int) {
	m := f.Seconds[work][mode]
	best, at := 0.0, 0
	for _, w := range f.Workers {
		if g := speedup(m[1], m[w]); w > 1 && g > best {
			best, at = g, w
		}
	}
	return best, at
}

func runCPUIO(ctx context.Context, cfg Config) (*Result, error) {
	p := newParams("cpu-vs-io", cpuIOParams, cfg)
	tasks := p.Int("tasks", 8, 16)
	items := p.Int("items", 3_000_000, 10_000_000)
	rounds := p.Int("rounds", 3, 3)
	trips := p.Int("trips", 4, 10)
	delay := p.Duration("delay", 2*time.Millisecond, 5*time.Millisecond)
	pyItems := p.Int("pyitems", 300_000, 1_000_000)
	reps := p.Int("reps", 3, 3)
	maxW := p.Int("maxworkers", max(4, cfg.Workers), max(8, cfg.Workers))
	interval := p.Duration("switch", 5*time.Millisecond, 5*time.Millisecond)
	ceilWork := p.Duration("ceiling", 20*time.Millisecond, 200*time.Millisecond)
	if p.err != nil {
		return nil, p.err
	}
	fig := cpuIOFigures{CPUs: runtime.NumCPU()}
	for w := 1; w <= maxW; w *= 2 {
		fig.Workers = append(fig.Workers, w)
	}
	const size = 64
	srv, err := startEcho(delay, size)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	res := &Result{
		Columns: []string{"workload", "mode", "workers", "seconds", "speedup", "of_ceiling"},
		Params:  p.used,
		Charts: []Chart{{Title: "speed-up over the same mode with one worker", Kind: "line", X: "workers", Y: "speedup",
			Series: "series", XLabel: "workers", YLabel: "x one worker"}},
	}
	task := func(io bool, i int) cpuIOTask {
		if io {
			return cpuIOTask{IO: true, Addr: srv.Addr(), Trips: trips, Size: size}
		}
		a := uint64(i * items)
		return cpuIOTask{A: a, B: a + uint64(items), Rounds: rounds}
	}
	meter := NewCeilingMeter(slices.Max(fig.Workers), ceilWork)
	modes := []string{modeThreads, modeGIL, modeProcs, modeAsync}
	for _, io := range []bool{false, true} {
		work := "cpu"
		if io {
			work = "io"
		}
		// Each round runs every mode at every worker count once, so a
		// neighbour busy for a second slows the modes alike rather than
		// all the rounds of one of them (and Go's threads, the control,
		// see what processes saw); each keeps its fastest round, the one
		// least disturbed by other work.
		best := map[string]map[int]float64{}
		// Waiting is not disturbed by a busy neighbour as computing is, so
		// the I/O-bound modes run one round fewer.
		runs := reps
		if io {
			runs = max(reps-1, 1)
		}
		for rep := range runs {
			round := map[string]map[int]float64{}
			for _, mode := range modes {
				round[mode] = map[int]float64{}
				if !io {
					// A ceiling sample before each CPU-bound mode, so the
					// ceiling sees the machine as the modes did.
					progress(cfg, "lab: cpu-vs-io: ceiling")
					if err := meter.Sample(ctx); err != nil {
						return nil, err
					}
				}
				if best[mode] == nil {
					best[mode] = map[int]float64{}
				}
				for _, w := range fig.Workers {
					if err := ctx.Err(); err != nil {
						return nil, err
					}
					progress(cfg, "lab: cpu-vs-io: %s, %s, %d workers (run %d of %d)", work, mode, w, rep+1, runs)
					var s float64
					var err error
					if mode == modeProcs {
						s, err = cpuIOProcs(ctx, w, tasks, func(i int) cpuIOTask { return task(io, i) })
					} else {
						s, err = cpuIOLocal(ctx, mode, w, tasks, interval, func(i int) cpuIOTask { return task(io, i) })
					}
					if err != nil {
						return nil, err
					}
					if rep == 0 || s < best[mode][w] {
						best[mode][w] = s
					}
					round[mode][w] = s
				}
			}
			if !io {
				fig.Rounds++
				if roundGain(round[modeProcs], fig.Workers) < ParallelShare*roundGain(round[modeThreads], fig.Workers) {
					fig.ProcsBehind++
				}
			}
		}
		for _, mode := range modes {
			for _, w := range fig.Workers {
				fig.set(work, mode, w, best[mode][w])
				res.Rows = append(res.Rows, Row{"workload": work, "mode": mode, "workers": w, "seconds": best[mode][w],
					"speedup": speedup(best[mode][1], best[mode][w]), "series": work + ", " + mode})
			}
		}
	}
	fig.Ceiling = meter.Ceiling()
	res.Ceiling = &fig.Ceiling
	for _, row := range res.Rows {
		if row["workload"] == "cpu" && row["workers"] != 1 {
			row["of_ceiling"] = fig.Ceiling.Share(row["speedup"].(float64))
		}
	}
	ceil := fig.Ceiling.Row()
	ceil["workload"], ceil["series"] = "cpu", CeilingMode
	res.Rows = append(res.Rows, ceil)
	if cfg.Python != "" {
		var counts []string
		for _, w := range fig.Workers {
			counts = append(counts, strconv.Itoa(w))
		}
		var out []struct {
			Workload, Mode string
			Workers        int
			Seconds        float64
		}
		if err := runPython(ctx, cfg, "cpu-vs-io", &out, srv.Addr(), strconv.Itoa(tasks), strconv.Itoa(pyItems),
			strconv.Itoa(trips), strconv.Itoa(size), strings.Join(counts, ",")); err != nil {
			return nil, err
		}
		slices.SortStableFunc(out, func(a, b struct {
			Workload, Mode string
			Workers        int
			Seconds        float64
		}) int {
			return strings.Compare(a.Workload+a.Mode, b.Workload+b.Mode)
		})
		base := map[string]float64{}
		for _, r := range out {
			if r.Workers == 1 {
				base[r.Workload+r.Mode] = r.Seconds
			}
		}
		for _, r := range out {
			res.Rows = append(res.Rows, Row{"workload": r.Workload, "mode": r.Mode, "workers": r.Workers, "seconds": r.Seconds,
				"speedup": speedup(base[r.Workload+r.Mode], r.Seconds), "series": r.Workload + ", " + r.Mode})
		}
		res.Notes = append(res.Notes, fmt.Sprintf("python rows: the cpu tasks sum 0..%d plainly; python processes use a fork pool started before timing", pyItems))
	}
	res.Holds, res.Verdict = cpuIOVerdict(fig)
	res.Inconclusive = cpuIOInconclusive(fig)
	res.Notes = []string{
		fmt.Sprintf("cpu: %d tasks, each summing mix^%d over %d items; io: %d tasks, each %d round trips of %d B over loopback TCP to an echo server that waits %v per request", tasks, rounds, items, tasks, trips, size, delay),
		"threads + GIL: the emulated GIL is released around every blocking socket call, as CPython does",
		"processes: a crew proc pool started (and each worker given a small task) before the clock starts, each worker then taking one equal chunk of the tasks; async: the same goroutines with runtime.GOMAXPROCS(1), one OS thread running Go code",
		fmt.Sprintf("each Go figure is the fastest of %d runs (%d for I/O)", reps, max(reps-1, 1)),
		fig.Ceiling.Describe(),
	}
	return res, nil
}

// cpuIOSink keeps the CPU-bound tasks' sums alive.
var cpuIOSink atomic.Uint64

// cpuIOLocal runs tasks on w goroutines in this process under mode.
func cpuIOLocal(ctx context.Context, mode string, w, tasks int, interval time.Duration, task func(int) cpuIOTask) (float64, error) {
	if mode == modeAsync {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	}
	t0 := time.Now()
	var g *gil
	if mode == modeGIL {
		g = newGIL(interval, t0)
	}
	next := make(chan int)
	errs := make(chan error, w)
	var wg sync.WaitGroup
	for worker := 1; worker <= w; worker++ {
		wg.Go(func() {
			// The sums go to cpuIOSink: a sum nobody reads lets the
			// compiler drop the loop's work once sumRange is inlined,
			// and the threads then timed an empty loop (0.36 s where
			// processes, doing the work, took 0.67 s).
			var sum uint64
			defer func() { cpuIOSink.Add(sum) }()
			for i := range next {
				t := task(i)
				var err error
				switch {
				case t.IO:
					if g != nil {
						// Python code runs under the GIL; only the wait is free.
						g.release(worker, g.acquire())
					}
					err = echoTrips(ctx, t.Addr, t.Trips, t.Size, g, worker)
				case g != nil:
					sum += sumRangeGIL(g, worker, t.A, t.B, t.Rounds)
				default:
					sum += sumRange(t.A, t.B, t.Rounds)
				}
				if err != nil {
					select { // keep the first error per worker; drain the rest
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range tasks {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return time.Since(t0).Seconds(), nil
}

// cpuIOProcs runs tasks on a pool of w worker processes.
func cpuIOProcs(ctx context.Context, w, tasks int, task func(int) cpuIOTask) (float64, error) {
	// WithPrefetch(0): a worker takes a task only when it is free, so one long
	// task per worker lands on each worker instead of queueing two on the
	// worker that said hello first while the other is still starting.
	pool, err := proc.New(ctx, proc.WithWorkers(w), proc.WithPrefetch(0))
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	ins := make([]cpuIOTask, tasks)
	for i := range ins {
		ins[i] = task(i)
	}
	// A worker that has said hello has not yet run a task: its first one
	// pays for the decoder, the function lookup and a cold cache. Threads
	// pay none of that, so one small task per worker goes first, untimed.
	warm := make([]cpuIOTask, w)
	for i := range warm {
		warm[i] = cpuIOTask{A: 0, B: 1 << 16, Rounds: 1}
	}
	if _, err := procCPUIO.Map(ctx, pool, warm, proc.WithChunk(1)); err != nil {
		return 0, err
	}
	t0 := time.Now()
	// One chunk per worker: the tasks are equal, and handing them out one
	// at a time needs the parent on a CPU between tasks, which on a busy
	// machine costs a scheduler wait per task that threads never pay.
	if _, err := procCPUIO.Map(ctx, pool, ins, proc.WithChunk((tasks+w-1)/w)); err != nil {
		return 0, err
	}
	return time.Since(t0).Seconds(), nil
}

// roundGain is the best gain over one worker among secs, one round's
// seconds by worker count.
func roundGain(secs map[int]float64, workers []int) float64 {
	g := 0.0
	for _, w := range workers {
		if w > 1 {
			g = max(g, speedup(secs[1], secs[w]))
		}
	}
	return g
}

// cpuIOVerdict holds when, at their best worker count, the emulated GIL
// stays serial on CPU-bound work (Ceiling.Serial) and processes run it in
// parallel (Ceiling.Parallel), while on I/O-bound work, going from 1 to
// the most workers, the GIL threads and async both gain at least half the
// worker count: waiting needs no
// CPU, so the I/O half is judged against the worker count, not the
// ceiling. Go's threads on CPU-bound work are the control: a CPU-bound
// miss counts only when they reached the ceiling (when they fell short
// too, something other than processes or the GIL held the modes back) and
// only past Ceiling.Midpoint. That, a gain beyond the ceiling
// (Ceiling.Beyond: its one-worker run was slowed) or a ceiling under
// MinCeiling leaves the CPU-bound half undecided; cpuIOInconclusive tells
// those cases apart.
func cpuIOVerdict(f cpuIOFigures) (bool, string) {
	holds, _, v := cpuIOJudge(f)
	return holds, v
}

// cpuIOInconclusive reports that the CPU-bound half could not be judged
// (a ceiling under MinCeiling, or a machine busier during the modes than
// during the ceiling's samples) and nothing else failed.
func cpuIOInconclusive(f cpuIOFigures) bool {
	_, inconclusive, _ := cpuIOJudge(f)
	return inconclusive
}

// cpuIOJudge is cpuIOVerdict, also reporting whether the outcome is
// inconclusive.
func cpuIOJudge(f cpuIOFigures) (holds, inconclusive bool, verdict string) {
	if len(f.Workers) < 2 {
		return false, false, "needs at least two worker counts"
	}
	c := f.Ceiling
	maxW := slices.Max(f.Workers)
	gilIO, asyncIO := f.gain("io", modeGIL), f.gain("io", modeAsync)
	gilCPU, gilAt := f.bestGain("cpu", modeGIL)
	procCPU, procAt := f.bestGain("cpu", modeProcs)
	thrCPU, thrAt := f.bestGain("cpu", modeThreads)
	ioNeed := float64(maxW) / 2
	ioSeen := fmt.Sprintf("on I/O from 1 to %d workers GIL threads gained %.1fx and async %.1fx (threshold: >= %.1fx, half the workers)", maxW, gilIO, asyncIO, ioNeed)
	cpuSeen := fmt.Sprintf("on CPU, each at its best worker count, processes reached %.2fx of a %.2fx ceiling (%.0f%%, %d workers), GIL threads %.2fx (%.0f%%, %d workers), Go threads %.2fx (%.0f%%, %d workers)",
		procCPU, c.Speedup, 100*c.Share(procCPU), procAt, gilCPU, 100*c.Share(gilCPU), gilAt, thrCPU, 100*c.Share(thrCPU), thrAt)
	var failed []string
	if gilIO < ioNeed {
		failed = append(failed, "the GIL threads did not overlap their I/O")
	}
	if asyncIO < ioNeed {
		failed = append(failed, "async did not overlap its I/O")
	}
	if !c.Conclusive() {
		if len(failed) > 0 {
			return false, false, fmt.Sprintf("not reproduced (%s): %s; the CPU-bound half cannot be told in this run: %s; %s", strings.Join(failed, "; "), ioSeen, c.TooLow(), cpuSeen)
		}
		return false, true, fmt.Sprintf("cannot tell the CPU-bound half in this run: %s; %s; the I/O-bound half held: %s", c.TooLow(), cpuSeen, ioSeen)
	}
	seen := fmt.Sprintf("%s (thresholds: %s); %s", cpuSeen, c.Thresholds(), ioSeen)
	if c.Beyond(gilCPU) || c.Beyond(procCPU) || c.Beyond(thrCPU) {
		// Each mode's gain is over its own one-worker run; one beyond the
		// ceiling had that run slowed by something else.
		if len(failed) > 0 {
			return false, false, "not reproduced (" + strings.Join(failed, "; ") + "); the CPU-bound half cannot be told in this run, a gain went beyond the ceiling: " + seen
		}
		return false, true, "cannot tell the CPU-bound half in this run: a gain went beyond the ceiling, which no mode can, so the one-worker run it is measured against was slowed by something else; " + seen
	}
	// Go's threads are the control: a CPU-bound miss counts only when they
	// reached the ceiling. Each mode's gain is over its own one-worker run,
	// and a neighbour slowing that one run can lift a gain into any zone.
	control := c.Parallel(thrCPU)
	cpuOK := c.Serial(gilCPU) && c.Parallel(procCPU)
	if !c.Serial(gilCPU) && gilCPU > c.Midpoint() && control {
		failed = append(failed, "the GIL threads sped up CPU-bound work")
	}
	// A shortfall in some rounds only is a neighbour's doing.
	procsNoisy := f.Rounds > 0 && f.ProcsBehind < f.Rounds
	if !c.Parallel(procCPU) && procCPU < c.Midpoint() && control && !procsNoisy {
		failed = append(failed, "processes fell short of the ceiling on CPU-bound work while Go's threads reached it")
	}
	switch {
	case len(failed) > 0:
		return false, false, "not reproduced (" + strings.Join(failed, "; ") + "): " + seen
	case !cpuOK && !control:
		return false, true, "cannot tell the CPU-bound half in this run: " + disturbedWhy + seen
	case !c.Parallel(procCPU) && procCPU < c.Midpoint() && procsNoisy:
		return false, true, fmt.Sprintf("cannot tell the CPU-bound half in this run: processes fell short of the ceiling at their best, yet kept pace with Go's threads in %d of %d rounds run side by side, so a neighbour rather than the processes held them back; ", f.Rounds-f.ProcsBehind, f.Rounds) + seen
	case !cpuOK:
		return false, true, fmt.Sprintf("cannot tell the CPU-bound half in this run: a figure fell between its threshold and the midpoint (%.2fx) of one worker and the ceiling, nearer neither, while Go's threads, the control, reached the ceiling; ", c.Midpoint()) + seen
	}
	return true, false, seen
}
