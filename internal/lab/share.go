package lab

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"crew/ipc"
	"crew/proc"
)

var shareParams = []Param{{"n", ParamInt}, {"nmutex", ParamInt}}

var shareExperiment = Experiment{
	Name:   "share",
	Claim:  "Processes cannot share variables: a counter the children increment stays 0 in the parent; sharing needs the kernel (IPC), and shared memory needs a lock or atomics like threads do.",
	Run:    runShare,
	Params: shareParams,
}

// shareFigures are what the share verdict is computed from: per mode, the
// expected count and what the parent saw.
type shareFigures struct {
	Expected, Seen map[string]int64
}

const (
	shareThreads = "goroutines, package variable"
	shareProcs   = "processes, package variable"
	shareAtomic  = "processes, shared memory, atomic add"
	sharePlain   = "processes, shared memory, load+store"
	shareMutex   = "processes, shared memory, ipc.Mutex"
)

func runShare(ctx context.Context, cfg Config) (*Result, error) {
	p := newParams("share", shareParams, cfg)
	n := p.Int("n", 1_000_000, 1_000_000)
	nMutex := p.Int("nmutex", 2_000, 20_000)
	w := cfg.workers()
	p.used["workers"] = w
	if p.err != nil {
		return nil, p.err
	}
	res := &Result{
		Columns: []string{"mode", "workers", "per_worker", "expected", "parent_sees", "lost", "seconds"},
		Params:  p.used,
	}
	fig := shareFigures{Expected: map[string]int64{}, Seen: map[string]int64{}}
	add := func(mode string, per int, seen int64, d time.Duration) {
		exp := int64(w) * int64(per)
		if mode == shareProcs {
			exp = 0 // what a parent can expect from children that share nothing
		}
		fig.Expected[mode], fig.Seen[mode] = exp, seen
		row := Row{"mode": mode, "workers": w, "per_worker": per, "expected": int64(w) * int64(per),
			"parent_sees": seen, "seconds": d.Seconds()}
		if mode != shareProcs {
			row["lost"] = int64(w)*int64(per) - seen
		}
		res.Rows = append(res.Rows, row)
	}

	localCounter.Store(0)
	t0 := time.Now()
	var wg sync.WaitGroup
	for range w {
		wg.Go(func() {
			for range n {
				localCounter.Add(1)
			}
		})
	}
	wg.Wait()
	add(shareThreads, n, localCounter.Load(), time.Since(t0))
	localCounter.Store(0)

	pool, err := proc.New(ctx, proc.WithWorkers(w))
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	dir, err := os.MkdirTemp("", "crew-lab-share-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for i, mode := range []string{shareProcs, shareAtomic, sharePlain, shareMutex} {
		task := shmTask{Mode: []string{"local", "atomic", "plain", "mutex"}[i], Dir: dir, N: n,
			Segment: fmt.Sprintf("share%d", i), Mutex: fmt.Sprintf("share%d.lock", i)}
		if mode == shareMutex {
			task.N = nMutex
		}
		seg, err := ipc.CreateSegment(task.Segment, 64, ipc.WithDir(dir))
		if err != nil {
			return nil, err
		}
		c, err := seg.Counter(0)
		if err != nil {
			seg.Close()
			return nil, err
		}
		tasks := make([]shmTask, w)
		for j := range tasks {
			tasks[j] = task
		}
		t0 := time.Now()
		_, err = procShare.Map(ctx, pool, tasks, proc.WithChunk(1))
		d := time.Since(t0)
		seen := c.Load()
		if mode == shareProcs {
			seen = localCounter.Load()
		}
		seg.Close()
		if err != nil {
			return nil, err
		}
		add(mode, task.N, seen, d)
	}
	res.Holds, res.Verdict = shareVerdict(fig)
	res.Notes = []string{
		"parent_sees is the parent's own variable for the first two rows and the shared segment's counter for the others",
		"load+store reads the shared counter and writes it back plus one: two processes doing that at once overwrite each other",
		"ipc.Mutex is an flock(2) lock held around each increment; it is far slower, so it runs fewer increments",
	}
	return res, nil
}

// shareVerdict holds when every mode other than the unlocked load+store ends
// exactly where it should: threads at N*M, the parent's variable at 0 after
// processes, shared memory at N*M with atomics or the mutex.
func shareVerdict(f shareFigures) (bool, string) {
	var bad []string
	for _, m := range []string{shareThreads, shareProcs, shareAtomic, shareMutex} {
		exp, ok := f.Expected[m]
		if !ok {
			bad = append(bad, m+" did not run")
			continue
		}
		if f.Seen[m] != exp {
			bad = append(bad, fmt.Sprintf("%s: %d, want %d", m, f.Seen[m], exp))
		}
	}
	if len(bad) > 0 {
		return false, "not reproduced: " + strings.Join(bad, "; ")
	}
	v := fmt.Sprintf("the parent saw %d after goroutines and 0 after processes incremented their own copies; through shared memory the count was exact with atomic adds (%d) and with ipc.Mutex (%d)",
		f.Seen[shareThreads], f.Seen[shareAtomic], f.Seen[shareMutex])
	if lost := f.Expected[sharePlain] - f.Seen[sharePlain]; f.Expected[sharePlain] > 0 && lost > 0 {
		v += fmt.Sprintf(", and plain load+store across processes lost %d updates", lost)
	} else if f.Expected[sharePlain] > 0 {
		v += ", and plain load+store happened to lose nothing this time (the processes did not overlap)"
	}
	return true, v
}
