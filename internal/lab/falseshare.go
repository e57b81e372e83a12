package lab

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

var falseShareParams = []Param{{"n", ParamInt}, {"natomic", ParamInt}, {"rounds", ParamInt}, {"maxrounds", ParamInt}, {"ceiling", ParamDuration}}

var falseShareExperiment = Experiment{
	Name: "falseshare",
	Claim: "The ideal threading has no shared resource: threads that share memory slow each other down even without a lock, " +
		"whether they add to one atomic counter or each to its own counter on one cache line, against threads whose counters lie apart.",
	Run:    runFalseShare,
	Params: falseShareParams,
}

// The modes, in table order.
const (
	fsOne    = "1 thread, own counter"
	fsPadded = "own counters, padded apart"
	fsPacked = "own counters, one cache line"
	fsAtomic = "one shared atomic counter"
)

var fsModes = []string{fsOne, fsPadded, fsPacked, fsAtomic}

// cacheLine is the stride that keeps two counters off one cache line and
// off the line next to it, which some CPUs fetch in pairs.
const cacheLine = 128

// fsFigures are what the falseshare verdict is computed from: for each
// mode, the time per add as each of its threads saw it (ns) in its fastest
// round among those in which its threads all ran at once (Together of
// Rounds), since a busy machine only ever adds time, while a round in
// which one thread waited for a CPU hides the contention.
//
// Ceiling is the pure loop's speed-up measured in the same rounds: the
// claim is about cost, judged against the padded counters, but the
// ceiling tells the reader what the speed-ups in the table could have been.
type fsFigures struct {
	Threads  int
	Rounds   int
	NS       map[string]float64
	Together map[string]int
	Ceiling  Ceiling
}

// speedup is a mode's throughput (adds per second over all its threads)
// over one thread's.
func (f fsFigures) speedup(mode string) float64 {
	ns := f.NS[mode]
	if ns <= 0 {
		return 0
	}
	threads := f.Threads
	if mode == fsOne {
		threads = 1
	}
	return float64(threads) * f.NS[fsOne] / ns
}

// cost is how many times longer an add took in mode than in padded
// counters, which share nothing.
func (f fsFigures) cost(mode string) float64 { return f.NS[mode] / f.NS[fsPadded] }

func runFalseShare(ctx context.Context, cfg Config) (*Result, error) {
	p := newParams("falseshare", falseShareParams, cfg)
	n := p.Int("n", 10_000_000, 100_000_000)
	// A contended atomic add costs ten to thirty plain ones, so that mode
	// makes fewer for a run of about the same length.
	nAtomic := p.Int("natomic", 1_000_000, 10_000_000)
	rounds := p.Int("rounds", 5, 9)
	// On a busy machine a thread often waits for a CPU while the others
	// run; more rounds are run, up to maxrounds, until every mode has had
	// fsWantTogether rounds with its threads running at once.
	maxRounds := p.Int("maxrounds", 15, 30)
	ceilWork := p.Duration("ceiling", 50*time.Millisecond, 200*time.Millisecond)
	w := cfg.workers()
	p.used["threads"] = w
	if p.err != nil {
		return nil, p.err
	}
	cpus := allowedCPUs()
	if len(cpus) == 0 {
		return nil, errors.New("cannot read this thread's CPU affinity")
	}
	fig := fsFigures{Threads: w, NS: map[string]float64{}, Together: map[string]int{}}
	adds := func(mode string) int {
		if mode == fsAtomic {
			return nAtomic
		}
		return n
	}
	enough := func() bool {
		for _, m := range fsModes {
			if fig.Together[m] < fsWantTogether {
				return false
			}
		}
		return true
	}
	meter := NewCeilingMeter(w, ceilWork)
	for r := 0; r < max(rounds, 1) || (r < maxRounds && !enough()); r++ {
		fig.Rounds++
		progress(cfg, "lab: falseshare: round %d", fig.Rounds)
		// One ceiling sample per round, so that the ceiling sees the
		// machine as this round's modes did.
		if err := meter.Sample(ctx); err != nil {
			return nil, err
		}
		// Rotate the order, so that no mode always runs first (or right
		// after the slowest one).
		for i := range fsModes {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			mode := fsModes[(i+r)%len(fsModes)]
			d, overlap := countApart(mode, w, adds(mode), cpus)
			if overlap < fsTogether {
				continue
			}
			fig.Together[mode]++
			if ns := float64(d.Nanoseconds()) / float64(adds(mode)); fig.NS[mode] == 0 || ns < fig.NS[mode] {
				fig.NS[mode] = ns
			}
		}
	}
	p.used["rounds_run"] = fig.Rounds
	fig.Ceiling = meter.Ceiling()
	res := &Result{
		Columns: []string{"mode", "threads", "adds_each", "ns_per_add", "speedup", "of_ceiling", "vs_padded", "rounds_together"},
		Params:  p.used,
		Ceiling: &fig.Ceiling,
		Charts: []Chart{
			{Title: "throughput over one thread (fastest round)", Kind: "bar", X: "mode", Y: "speedup", YLabel: "adds per second, over one thread's"},
		},
	}
	for _, mode := range fsModes {
		row := Row{"mode": mode, "threads": w, "adds_each": adds(mode), "ns_per_add": fig.NS[mode],
			"speedup": fig.speedup(mode), "vs_padded": fig.cost(mode), "rounds_together": fig.Together[mode]}
		if mode == fsOne {
			row["threads"] = 1
			delete(row, "rounds_together") // one thread has nobody to meet; an empty cell says so
		} else if fig.Ceiling.Speedup > 0 {
			row["of_ceiling"] = fig.Ceiling.Share(fig.speedup(mode))
		}
		res.Rows = append(res.Rows, row)
	}
	ceil := fig.Ceiling.Row()
	ceil["threads"] = w
	res.Rows = append(res.Rows, ceil)
	res.Holds, res.Inconclusive, res.Verdict = falseShareVerdict(fig)
	res.Notes = []string{
		fmt.Sprintf("each thread is a goroutine locked to its own OS thread, bound to CPU i mod %d, and adds 1 to its counter; the fastest round in which all threads ran at once (%.0f%% of the first finisher's run or more) counts; rounds_together says how many of the %d did", len(cpus), 100*fsTogether, fig.Rounds),
		"padded: each counter 128 bytes from the next; one cache line: the counters side by side, 8 bytes each, so each add pulls the line from the other CPU although no counter is shared; shared atomic: one counter, atomic add (LOCK XADD)",
		fig.Ceiling.Describe(),
		"no Python twin: under CPython's GIL one thread at a time runs Python code, so Python threads never add at once and cannot contend for a cache line",
		"ns_per_add is the time per add as each thread saw it; speedup is all threads' adds per second over one thread's; vs_padded is ns_per_add over the padded counters'",
	}
	return res, nil
}

// paddedCounter fills a cacheLine on its own.
type paddedCounter struct {
	v int64
	_ [cacheLine - 8]byte
}

// fsSink keeps the counters' totals alive, so the compiler cannot drop the
// loops that make them.
var fsSink atomic.Int64

// countApart runs n increments on each of w threads (one for fsOne) in the
// given mode and returns the wall time from the first thread's start to the
// last one's end, and the share of the first finisher's run during which
// all of them were running.
func countApart(mode string, w, n int, cpus []int) (time.Duration, float64) {
	if mode == fsOne {
		w = 1
	}
	var shared atomic.Int64
	// The arrays are allocated afresh, aligned to a cache line, so a run
	// does not find its counters where the last run's threads left them.
	padded := make([]paddedCounter, w+1)
	packedBuf := make([]paddedCounter, 2)
	packed := (*[cacheLine / 8]int64)(alignLine(unsafe.Pointer(&packedBuf[0])))
	starts, ends := make([]time.Time, w), make([]time.Time, w)
	var arrived atomic.Int64
	var done sync.WaitGroup
	for i := range w {
		done.Go(func() {
			// Exiting locked ends this thread, so its binding goes with it.
			runtime.LockOSThread()
			_ = pinThread(cpus[i%len(cpus)]) // unbound, the run still counts: the OS spreads busy threads
			// The last thread to arrive starts them all: a channel closed
			// by another goroutine would wake each locked thread through
			// the scheduler, up to milliseconds apart on a busy VM.
			arrived.Add(1)
			spinUntil(context.Background(), &arrived, int64(w))
			starts[i] = time.Now()
			switch mode {
			case fsOne, fsPadded:
				c := &padded[i+1].v
				for range n {
					*c++
				}
			case fsPacked:
				c := &packed[i%len(packed)]
				for range n {
					*c++
				}
			case fsAtomic:
				for range n {
					shared.Add(1)
				}
			}
			ends[i] = time.Now()
		})
	}
	done.Wait()
	fsSink.Add(shared.Load() + padded[1].v + packed[0])
	first, last := slices.MinFunc(starts, time.Time.Compare), slices.MaxFunc(ends, time.Time.Compare)
	// Contended threads need not finish together (one may win the line
	// more often), so overlap is measured over the first to finish: the
	// share of its run during which every thread was running.
	firstEnd := slices.MinFunc(ends, time.Time.Compare)
	together := firstEnd.Sub(slices.MaxFunc(starts, time.Time.Compare))
	return last.Sub(first), max(together.Seconds(), 0) / max(firstEnd.Sub(first).Seconds(), 1e-9)
}

// alignLine returns p rounded up to the next cache-line boundary; the
// caller's buffer must reach a line past p.
func alignLine(p unsafe.Pointer) unsafe.Pointer {
	off := uintptr(p) % cacheLine
	if off == 0 {
		return p
	}
	return unsafe.Add(p, cacheLine-off)
}

// falseShareFactor is how many times as long as with padded counters an
// add must take in a sharing mode for sharing to count as a cost.
const falseShareFactor = 1.5

// fsTogether is the least share of the first finisher's run during which
// every thread must have been running for a round to count.
const fsTogether = 0.9

// fsWantTogether is how many counting rounds each mode should have.
const fsWantTogether = 2

// falseShareVerdict holds when the threads ran at once in some round of
// every mode and each sharing mode (counters on one cache line, one shared
// atomic) took at least falseShareFactor times as long per add as the
// padded counters measured in the same run. When the threads never ran at
// once (one CPU, a busy machine) they could not contend: inconclusive. The
// claim is a cost, not a speed-up, so a low ceiling does not decide it;
// the verdict quotes the padded counters' speed-up against the ceiling.
func falseShareVerdict(f fsFigures) (holds, inconclusive bool, verdict string) {
	pad := f.speedup(fsPadded)
	v := fmt.Sprintf("%d threads with padded counters reached %s, with their counters on one cache line %.2fx one thread's adds per second, on one shared atomic %.2fx; per add %.2f ns, %.2f ns and %.1f ns against %.2f ns alone",
		f.Threads, f.Ceiling.Of(pad), f.speedup(fsPacked), f.speedup(fsAtomic), f.NS[fsPadded], f.NS[fsPacked], f.NS[fsAtomic], f.NS[fsOne])
	if f.Threads < 2 {
		return false, true, "one thread shares with nobody; run with --workers 2 or more; " + v
	}
	for _, m := range fsModes {
		if f.Together[m] == 0 {
			return false, true, fmt.Sprintf("in none of %d rounds did the threads of %s all run at once, so they could not contend for a line: the machine is too busy or has too few CPUs", f.Rounds, m)
		}
	}
	pack, at := f.cost(fsPacked), f.cost(fsAtomic)
	if pack < falseShareFactor || at < falseShareFactor {
		return false, false, fmt.Sprintf("sharing cost less than %.1fx here (counters on one cache line %.2fx, one shared atomic %.2fx the padded time per add), as when the CPUs share one cache; %s",
			falseShareFactor, pack, at, v)
	}
	return true, false, fmt.Sprintf("sharing slowed the threads without any lock: an add took %.1fx as long with the counters on one cache line and %.1fx on one shared atomic as with padded counters; %s",
		pack, at, v)
}
