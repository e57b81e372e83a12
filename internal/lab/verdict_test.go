package lab_test

import (
	"strings"
	"testing"

	"crew/internal/lab"
)

// verdictCase is one set of recorded figures and the outcome they must give.
type verdictCase struct {
	name  string
	holds bool
	// want is a fragment the verdict must contain.
	want string
	run  func() (bool, string)
}

func checkVerdicts(t *testing.T, cases []verdictCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			holds, v := c.run()
			if holds != c.holds {
				t.Errorf("holds = %v, want %v (verdict %q)", holds, c.holds, v)
			}
			if !strings.Contains(v, c.want) {
				t.Errorf("verdict %q does not contain %q", v, c.want)
			}
			if strings.ContainsAny(v, "[]") {
				t.Errorf("verdict %q prints a raw Go slice; write a sentence", v)
			}
		})
	}
}

func TestRaceVerdict(t *testing.T) {
	checkVerdicts(t, []verdictCase{
		{"lost", true, "lost updates in 2 of 3 trials", func() (bool, string) {
			return lab.RaceVerdict(lab.RaceFigures{Expected: 10_000_000, Lost: []int64{5_000_000, 0, 4_000_000}, PyPlain: -1, PyCall: -1})
		}},
		{"none lost", false, "lost no updates in 2 trials", func() (bool, string) {
			return lab.RaceVerdict(lab.RaceFigures{Expected: 10_000_000, Lost: []int64{0, 0}, PyPlain: -1, PyCall: -1})
		}},
		{"python", true, "plain g += 1 lost none", func() (bool, string) {
			return lab.RaceVerdict(lab.RaceFigures{Expected: 100, Lost: []int64{3}, PyPlain: 0, PyCall: 12})
		}},
		{"python call", true, "lost 12 again", func() (bool, string) {
			return lab.RaceVerdict(lab.RaceFigures{Expected: 100, Lost: []int64{3}, PyPlain: 0, PyCall: 12})
		}},
		{"no trials", false, "no trials", func() (bool, string) {
			return lab.RaceVerdict(lab.RaceFigures{Expected: 100, PyPlain: -1, PyCall: -1})
		}},
	})
}

func TestLockVerdict(t *testing.T) {
	kinds := []string{"mutex", "atomic"}
	checkVerdicts(t, []verdictCase{
		{"exact", true, "all 2 kinds reached exactly 100", func() (bool, string) {
			return lab.LockVerdict(lab.LockFigures{Kinds: kinds, Expected: 100, Actual: []int64{100, 100}, NsPerInc: []float64{20, 5}})
		}},
		{"one wrong", false, "mutex (99 of 100)", func() (bool, string) {
			return lab.LockVerdict(lab.LockFigures{Kinds: kinds, Expected: 100, Actual: []int64{99, 100}, NsPerInc: []float64{20, 5}})
		}},
	})
}

func TestQueueVerdict(t *testing.T) {
	once := []int{1, 1, 1}
	checkVerdicts(t, []verdictCase{
		{"all once", true, "each of the 3 items once", func() (bool, string) {
			return lab.QueueVerdict(lab.QueueFigures{Items: 3, Seen: once, DoneAtJoin: 3, Exited: 2, Workers: 2})
		}},
		{"early join", false, "Join returned with 2 of 3", func() (bool, string) {
			return lab.QueueVerdict(lab.QueueFigures{Items: 3, Seen: once, DoneAtJoin: 2, Exited: 2, Workers: 2})
		}},
		{"twice", false, "item 1 processed 2 times", func() (bool, string) {
			return lab.QueueVerdict(lab.QueueFigures{Items: 3, Seen: []int{1, 2, 1}, DoneAtJoin: 3, Exited: 2, Workers: 2})
		}},
	})
}

func TestShareVerdict(t *testing.T) {
	fig := func(procs, plain int64) lab.ShareFigures {
		return lab.ShareFigures{
			Expected: map[string]int64{lab.ShareThreads: 100, lab.ShareProcs: 0, lab.ShareAtomic: 100, lab.SharePlain: 100, lab.ShareMutex: 10},
			Seen:     map[string]int64{lab.ShareThreads: 100, lab.ShareProcs: procs, lab.ShareAtomic: 100, lab.SharePlain: plain, lab.ShareMutex: 10},
		}
	}
	checkVerdicts(t, []verdictCase{
		{"isolated", true, "load+store across processes lost 40", func() (bool, string) { return lab.ShareVerdict(fig(0, 60)) }},
		{"no overlap", true, "happened to lose nothing", func() (bool, string) { return lab.ShareVerdict(fig(0, 100)) }},
		{"shared", false, "processes, package variable: 100, want 0", func() (bool, string) { return lab.ShareVerdict(fig(100, 60)) }},
	})
}

func TestSemVerdict(t *testing.T) {
	modes := []string{"mutex", "semaphore(3)"}
	checkVerdicts(t, []verdictCase{
		{"limits", true, "mutex let in 1 at once (limit 1); semaphore(3) let in 3 at once (limit 3)", func() (bool, string) {
			return lab.SemVerdict(lab.SemFigures{Modes: modes, Limits: []int{1, 3}, Peaks: []int64{1, 3}})
		}},
		{"too many", false, "not reproduced: mutex let in 2 at once (limit 1)", func() (bool, string) {
			return lab.SemVerdict(lab.SemFigures{Modes: modes, Limits: []int{1, 3}, Peaks: []int64{2, 3}})
		}},
		{"never full", false, "semaphore(3) let in 1 at once (limit 3)", func() (bool, string) {
			return lab.SemVerdict(lab.SemFigures{Modes: modes, Limits: []int{1, 3}, Peaks: []int64{1, 1}})
		}},
	})
}

func TestGILVerdict(t *testing.T) {
	checkVerdicts(t, []verdictCase{
		// The figures of a quiet run on the 2-core machine.
		{"python-like", true, "emulated GIL 1.02x", func() (bool, string) {
			return lab.GILVerdict(lab.GILFigures{CPUs: 2, Workers: 2, One: 1.0, Threads: 0.51, GIL: 0.98, Procs: 0.53})
		}},
		{"gil scales", false, "thresholds", func() (bool, string) {
			return lab.GILVerdict(lab.GILFigures{CPUs: 2, Workers: 2, One: 1.0, Threads: 0.51, GIL: 0.5, Procs: 0.53})
		}},
		{"busy machine", false, "only 0.86x", func() (bool, string) {
			return lab.GILVerdict(lab.GILFigures{CPUs: 2, Workers: 2, One: 0.956, Threads: 1.117, GIL: 0.941, Procs: 1.334})
		}},
		{"one cpu", false, "cannot show on 1 CPU: ", func() (bool, string) {
			return lab.GILVerdict(lab.GILFigures{CPUs: 1, Workers: 2, One: 1, Threads: 1, GIL: 1, Procs: 1})
		}},
		{"one worker on two cpus", false, "cannot show with 1 worker: ", func() (bool, string) {
			return lab.GILVerdict(lab.GILFigures{CPUs: 2, Workers: 1, One: 1, Threads: 1, GIL: 1, Procs: 1.1})
		}},
	})
	for _, c := range []struct {
		cpus, workers int
		want          bool
	}{{1, 2, true}, {2, 1, true}, {1, 1, true}, {2, 2, false}, {8, 4, false}} {
		f := lab.GILFigures{CPUs: c.cpus, Workers: c.workers, One: 1, Threads: 1, GIL: 1, Procs: 1}
		if got := lab.GILInconclusive(f); got != c.want {
			t.Errorf("GILInconclusive(%d CPUs, %d workers) = %v, want %v", c.cpus, c.workers, got, c.want)
		}
		if _, v := lab.GILVerdict(f); strings.Contains(v, "machine has 1 CPU") && c.cpus > 1 {
			t.Errorf("verdict for %d CPUs blames the CPU count: %s", c.cpus, v)
		}
	}
}

func TestCPUIOVerdict(t *testing.T) {
	fig := func(cpus int, gilCPU4, procCPU4 float64) lab.CPUIOFigures {
		f := lab.CPUIOFigures{CPUs: cpus, Workers: []int{1, 2, 4}}
		for _, w := range f.Workers {
			f.SetSeconds("cpu", "threads", w, 1/float64(min(w, 2)))
			f.SetSeconds("cpu", "threads + GIL", w, 1)
			f.SetSeconds("cpu", "processes", w, 1/float64(min(w, 2)))
			f.SetSeconds("cpu", "async (GOMAXPROCS=1)", w, 1)
			for _, m := range []string{"threads", "threads + GIL", "processes", "async (GOMAXPROCS=1)"} {
				f.SetSeconds("io", m, w, 1/float64(w))
			}
		}
		f.SetSeconds("cpu", "threads + GIL", 4, gilCPU4)
		f.SetSeconds("cpu", "processes", 4, procCPU4)
		return f
	}
	checkVerdicts(t, []verdictCase{
		{"holds", true, "GIL threads 1.00x on CPU, 4.0x on I/O", func() (bool, string) { return lab.CPUIOVerdict(fig(2, 1, 0.5)) }},
		{"gil scales cpu", false, "not reproduced", func() (bool, string) { return lab.CPUIOVerdict(fig(2, 0.5, 0.5)) }},
		{"procs flat", false, "processes 1.00x", func() (bool, string) { return lab.CPUIOVerdict(fig(2, 1, 1)) }},
		{"one cpu", true, "1 CPU", func() (bool, string) { return lab.CPUIOVerdict(fig(1, 1, 1)) }},
	})
}

func TestIPCVerdict(t *testing.T) {
	fig := func(shm float64) lab.IPCFigures {
		return lab.IPCFigures{Sizes: []int{64, 1 << 20}, MBps: map[string]map[int]float64{
			"pipe": {64: 8, 1 << 20: 3900}, "unix": {64: 6, 1 << 20: 6500}, "shm": {64: 27, 1 << 20: shm},
		}}
	}
	checkVerdicts(t, []verdictCase{
		{"shm fastest", true, "shared memory 6900 MB/s", func() (bool, string) { return lab.IPCVerdict(fig(6900)) }},
		{"shm slow", false, "was not the fastest", func() (bool, string) { return lab.IPCVerdict(fig(170)) }},
	})
}

func TestSpawnVerdict(t *testing.T) {
	fig := func(procUS float64) lab.SpawnFigures {
		return lab.SpawnFigures{Kinds: []string{"g", "t", "true", "proc"}, StartUS: []float64{1.4, 36, 680, procUS}, KiB: []float64{2, 8, 0, 6200}}
	}
	checkVerdicts(t, []verdictCase{
		{"ordered", true, "process 3754 µs", func() (bool, string) { return lab.SpawnVerdict(fig(3754)) }},
		{"cheap process", false, "not in the expected order", func() (bool, string) { return lab.SpawnVerdict(fig(10)) }},
	})
}

func TestCrashVerdict(t *testing.T) {
	checkVerdicts(t, []verdictCase{
		{"isolated", true, "2 worker crashes failed only their own tasks, the other 10", func() (bool, string) {
			return lab.CrashVerdict(lab.CrashFigures{PanicExit: 2, PanicText: true, Tasks: 12, OK: 10, Crashed: 2, Want: 2, After: true})
		}},
		{"spread", false, "8 of 12 tasks finished and 4 crashed", func() (bool, string) {
			return lab.CrashVerdict(lab.CrashFigures{PanicExit: 2, PanicText: true, Tasks: 12, OK: 8, Crashed: 4, Want: 2, After: true})
		}},
		{"survived panic", false, "exited with 0, want 2", func() (bool, string) {
			return lab.CrashVerdict(lab.CrashFigures{PanicExit: 0, PanicText: true, Tasks: 12, OK: 10, Crashed: 2, Want: 2, After: true})
		}},
	})
}
