package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"time"

	"crew/proc"
)

var spawnParams = []Param{{"goroutines", ParamInt}, {"threads", ParamInt}, {"processes", ParamInt}}

var spawnExperiment = Experiment{
	Name:   "spawn",
	Claim:  "A process costs more to start and to keep than a thread, because it has its own address space; threads share theirs.",
	Run:    runSpawn,
	Params: spawnParams,
}

// spawnFigures are the start cost (µs) and memory (KiB) of each kind.
type spawnFigures struct {
	Kinds   []string
	StartUS []float64
	KiB     []float64
}

func runSpawn(ctx context.Context, cfg Config) (*Result, error) {
	p := newParams("spawn", spawnParams, cfg)
	nG := p.Int("goroutines", 10_000, 100_000)
	nT := p.Int("threads", 100, 500)
	nP := p.Int("processes", 10, 50)
	if p.err != nil {
		return nil, p.err
	}
	res := &Result{
		Columns: []string{"kind", "count", "us_per_start", "kib_each", "memory_measure"},
		Params:  p.used,
		Charts:  []Chart{{Title: "start cost", Kind: "bar", X: "kind", Y: "us_per_start", YLabel: "µs per start", LogY: true}},
	}
	var fig spawnFigures
	add := func(kind string, n int, us, kib float64, how string) {
		fig.Kinds = append(fig.Kinds, kind)
		fig.StartUS = append(fig.StartUS, us)
		fig.KiB = append(fig.KiB, kib)
		row := Row{"kind": kind, "count": n, "us_per_start": us}
		if how != "" { // an empty cell reads "not measured"; 0.000 would read as a figure
			row["kib_each"], row["memory_measure"] = kib, how
		}
		res.Rows = append(res.Rows, row)
	}

	us, kib := spawnGoroutines(nG)
	add("goroutine", nG, us, kib, "stack in use / count")
	us, kib = spawnThreads(nT)
	add("locked OS thread", nT, us, kib, "process RSS growth / count")

	t0 := time.Now()
	for range nP {
		if err := exec.CommandContext(ctx, "/bin/true").Run(); err != nil {
			return nil, fmt.Errorf("spawn: /bin/true: %w", err)
		}
	}
	trueUS := float64(time.Since(t0).Microseconds()) / float64(nP)
	add("process (fork+exec /bin/true, wait)", nP, trueUS, 0, "")

	var sum time.Duration
	var rss float64
	for range nP {
		t0 := time.Now()
		pool, err := proc.New(ctx, proc.WithWorkers(1))
		if err != nil {
			return nil, err
		}
		_, err = procPing.Call(ctx, pool, 0)
		sum += time.Since(t0)
		if err == nil {
			for _, pid := range pool.PIDs() {
				rss = max(rss, rssKiB(pid))
			}
		}
		pool.Close()
		if err != nil {
			return nil, err
		}
	}
	add("process (proc worker: start + first call)", nP, float64(sum.Microseconds())/float64(nP), rss, "worker RSS")
	res.Holds, res.Verdict = spawnVerdict(fig)
	res.Notes = []string{"a locked OS thread is a goroutine that calls runtime.LockOSThread and exits locked, so Go starts and ends a real thread for it",
		"kib_each for processes is the resident memory of one idle proc worker; a new thread adds only its touched stack pages and kernel task; /bin/true's memory is not measured",
		"a proc worker re-executes this program, so its start is mostly this program's own start-up: loading a large binary and running every package's init (for crew, nats-server's and the plotting library's among the largest; GODEBUG=inittrace=1 shows them); the bare fork+exec of /bin/true above is what a process itself costs, and a small program using proc starts its workers correspondingly faster"}
	return res, nil
}

func spawnGoroutines(n int) (us, kib float64) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	release := make(chan struct{})
	var ready, done sync.WaitGroup
	ready.Add(n)
	t0 := time.Now()
	for range n {
		done.Go(func() {
			ready.Done()
			<-release
		})
	}
	ready.Wait()
	d := time.Since(t0)
	runtime.ReadMemStats(&after)
	close(release)
	done.Wait()
	return float64(d.Nanoseconds()) / 1e3 / float64(n), float64(after.StackInuse-before.StackInuse) / 1024 / float64(n)
}

func spawnThreads(n int) (us, kib float64) {
	before := rssKiB(os.Getpid())
	release := make(chan struct{})
	var ready, done sync.WaitGroup
	ready.Add(n)
	t0 := time.Now()
	for range n {
		done.Go(func() {
			// Exiting while locked makes the runtime end this OS thread
			// rather than reuse it, so each goroutine costs a fresh thread.
			runtime.LockOSThread()
			ready.Done()
			<-release
		})
	}
	ready.Wait()
	d := time.Since(t0)
	after := rssKiB(os.Getpid())
	close(release)
	done.Wait()
	return float64(d.Nanoseconds()) / 1e3 / float64(n), max(after-before, 0) / float64(n)
}

// rssKiB returns the resident set size of process pid in KiB, or 0.
func rssKiB(pid int) float64 { return statusKiB(pid, "VmRSS") }

// spawnVerdict holds when starting a process (proc worker) costs more than
// a thread and a thread more than a goroutine, and a process holds more
// memory than a thread.
func spawnVerdict(f spawnFigures) (bool, string) {
	if len(f.Kinds) < 4 {
		return false, "not every kind ran"
	}
	g, t, pr := f.StartUS[0], f.StartUS[1], f.StartUS[3]
	holds := pr > t && t > g && f.KiB[3] > f.KiB[1]
	v := fmt.Sprintf("start: goroutine %.2f µs, OS thread %.1f µs, process %.0f µs (exec /bin/true %.0f µs); memory: %.1f KiB per goroutine, %.0f KiB per thread, %.0f KiB per worker process",
		g, t, pr, f.StartUS[2], f.KiB[0], f.KiB[1], f.KiB[3])
	if !holds {
		v = "not in the expected order: " + v
	}
	return holds, v
}
