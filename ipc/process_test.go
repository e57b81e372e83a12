package ipc_test

import (
	"context"
	"testing"
	"time"

	"crew/internal/wait"
	"crew/ipc"
)

// Without a lock, processes doing read-modify-write on shared memory lose
// updates. This is the baseline that makes the locked tests meaningful.
func TestPlainCounterLosesUpdates(t *testing.T) {
	const procs = 2
	for iters := 200_000; ; iters *= 2 {
		got := runRace(t, "plain", procs, iters)
		lost := int64(procs*iters) - got
		t.Logf("%d procs x %d plain increments: %d lost", procs, iters, lost)
		if lost < 0 {
			t.Fatalf("counter %d exceeds %d increments", got, procs*iters)
		}
		if lost > 0 {
			return
		}
		if iters >= 6_400_000 {
			t.Fatal("no update was ever lost: the helpers never overlapped")
		}
	}
}

func TestCrossProcessCountersAreExact(t *testing.T) {
	tests := []struct {
		role         string
		procs, iters int
	}{
		{"mutex", 3, 2000},
		{"atomic", 3, 200_000},
	}
	for _, tt := range tests {
		t.Run(tt.role, func(t *testing.T) {
			got := runRace(t, tt.role, tt.procs, tt.iters)
			if want := int64(tt.procs * tt.iters); got != want {
				t.Fatalf("counter = %d, want %d (%d lost)", got, want, want-got)
			}
		})
	}
}

// A holder killed with SIGKILL cannot unlock; the kernel must free its lock.
func TestKilledHolderFreesLock(t *testing.T) {
	tests := []struct {
		name string
		role string
		n    int // semaphore slots; all of them are held by helpers
		open func(a helperArgs) (tryLocker, error)
	}{
		{"mutex", "hold-mutex", 1, func(a helperArgs) (tryLocker, error) {
			return ipc.NewMutex(a.lock, ipc.WithDir(a.dir))
		}},
		{"semaphore", "hold-sem", 2, func(a helperArgs) (tryLocker, error) {
			return ipc.NewSemaphore(a.lock, 2, ipc.WithDir(a.dir))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := helperArgs{dir: t.TempDir(), lock: "victim", n: tt.n}
			var hs []*helper
			for range tt.n {
				h := startHelper(t, tt.role, a)
				h.expect(t, "held")
				hs = append(hs, h)
			}
			l, err := tt.open(a)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if ok, err := l.TryLock(); ok || err != nil {
				t.Fatalf("TryLock while helpers hold every slot = %v, %v; want false, nil", ok, err)
			}
			hs[0].kill(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := l.Lock(ctx); err != nil {
				t.Fatalf("Lock after the holder was killed: %v", err)
			}
			if err := l.Unlock(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

type tryLocker interface {
	Lock(context.Context) error
	TryLock() (bool, error)
	Unlock() error
	Close() error
}

// Eight processes share three slots: never more than three inside, and
// three do get in together.
func TestSemaphoreBoundsProcesses(t *testing.T) {
	const procs, slots = 8, 3
	a, seg := newLayout(t)
	a.n = slots
	hs := make([]*helper, procs)
	for i := range hs {
		hs[i] = startHelper(t, "sem-worker", a)
	}
	ready, most, rounds := counter(t, seg, offReady), counter(t, seg, offMax), counter(t, seg, offRounds)
	wait.For(t, "helpers ready", func() bool { return ready.Load() == procs })
	counter(t, seg, offGo).Store(1)
	// Let every process have a few turns, and wait until the slots were
	// all in use at once; a cap on concurrency that is never reached would
	// also pass "at most three".
	wait.For(t, "three holders at once", func() bool {
		return rounds.Load() >= 4*procs && most.Load() >= slots
	})
	counter(t, seg, offStop).Store(1)
	for _, h := range hs {
		h.wait(t)
	}
	if got := most.Load(); got != slots {
		t.Fatalf("most processes inside at once = %d, want %d", got, slots)
	}
	t.Logf("%d rounds", rounds.Load())
}

// A segment outlives the process that created it.
func TestSegmentSurvivesCreator(t *testing.T) {
	a := helperArgs{dir: t.TempDir(), seg: "orphan"}
	h := startHelper(t, "create-seg", a)
	h.expect(t, "ready")
	h.kill(t)

	seg, err := ipc.OpenSegment(a.seg, ipc.WithDir(a.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	if got := string(seg.Bytes()[64:72]); got != "survivor" {
		t.Errorf("bytes = %q, want %q", got, "survivor")
	}
	if got := counter(t, seg, offCount).Load(); got != 42 {
		t.Errorf("counter = %d, want 42", got)
	}
	if err := seg.Remove(); err != nil {
		t.Fatal(err)
	}
}
