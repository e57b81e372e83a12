package lab

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"crew/ipc"
	"crew/proc"
)

// The functions lab runs in worker processes. They are registered at package
// level, so that a crew binary started as a worker (proc.Main) knows them.

// sumTask asks a worker process for the sum of a range, returned or, when
// Queue names an ipc queue, put there.
type sumTask struct {
	A, B   uint64
	Rounds int
	Queue  string
}

// sumOut is a worker process's sum and when, in Unix nanoseconds, it ran.
type sumOut struct {
	Total      uint64
	Start, End int64
	PID        int
}

var procSum = proc.Register("lab.sum", func(ctx context.Context, in sumTask) (sumOut, error) {
	start := time.Now()
	t := sumRange(in.A, in.B, in.Rounds)
	out := sumOut{Total: t, Start: start.UnixNano(), End: time.Now().UnixNano(), PID: os.Getpid()}
	if in.Queue != "" {
		return sumOut{}, putSum(ctx, in.Queue, out)
	}
	return out, nil
})

// localCounter is a package-level variable: in the parent the share
// experiment increments it from goroutines, in a worker process each task
// increments that process's own copy.
var localCounter atomic.Int64

// shmTask tells a worker process how to increment the counter at offset 0
// of a shared segment.
type shmTask struct {
	// Mode is "local", "atomic", "plain" or "mutex".
	Mode    string
	Segment string
	Mutex   string
	Dir     string
	N       int
	Hold    time.Duration
	Limit   int
}

var procShare = proc.Register("lab.share", func(ctx context.Context, in shmTask) (int64, error) {
	if in.Mode == "local" {
		for range in.N {
			localCounter.Add(1)
		}
		return localCounter.Load(), nil
	}
	seg, err := ipc.OpenSegment(in.Segment, ipc.WithDir(in.Dir))
	if err != nil {
		return 0, err
	}
	defer seg.Close()
	c, err := seg.Counter(0)
	if err != nil {
		return 0, err
	}
	switch in.Mode {
	case "atomic":
		for range in.N {
			c.Add(1)
		}
	case "plain":
		// A read, then a write: another process may write in between, and
		// its increment is then overwritten.
		for range in.N {
			c.Store(c.Load() + 1)
		}
	case "mutex":
		m, err := ipc.NewMutex(in.Mutex, ipc.WithDir(in.Dir), ipc.WithBackoff(2*time.Microsecond, 100*time.Microsecond))
		if err != nil {
			return 0, err
		}
		defer m.Close()
		for range in.N {
			if err := m.Lock(ctx); err != nil {
				return 0, err
			}
			c.Store(c.Load() + 1)
			if err := m.Unlock(); err != nil {
				return 0, err
			}
		}
	default:
		return 0, fmt.Errorf("unknown share mode %q", in.Mode)
	}
	return c.Load(), nil
})

// procAdmit takes a cross-process semaphore (Limit > 1) or mutex N times,
// holding it for Hold, and tracks in the segment how many workers are inside
// at once (offset 0) and the most ever seen (offset 8).
var procAdmit = proc.Register("lab.admit", func(ctx context.Context, in shmTask) (int64, error) {
	seg, err := ipc.OpenSegment(in.Segment, ipc.WithDir(in.Dir))
	if err != nil {
		return 0, err
	}
	defer seg.Close()
	inside, err := seg.Counter(0)
	if err != nil {
		return 0, err
	}
	peak, err := seg.Counter(8)
	if err != nil {
		return 0, err
	}
	var l locker
	if in.Limit > 1 {
		s, err := ipc.NewSemaphore(in.Mutex, in.Limit, ipc.WithDir(in.Dir))
		if err != nil {
			return 0, err
		}
		l = s
	} else {
		m, err := ipc.NewMutex(in.Mutex, ipc.WithDir(in.Dir))
		if err != nil {
			return 0, err
		}
		l = m
	}
	defer l.Close()
	for range in.N {
		if err := l.Lock(ctx); err != nil {
			return 0, err
		}
		raisePeak(peak, inside.Add(1))
		time.Sleep(in.Hold)
		inside.Add(-1)
		if err := l.Unlock(); err != nil {
			return 0, err
		}
	}
	return peak.Load(), nil
})

// locker is what ipc.Mutex and ipc.Semaphore have in common.
type locker interface {
	Lock(ctx context.Context) error
	Unlock() error
	Close() error
}

// raisePeak makes *peak at least v.
func raisePeak(peak *atomic.Int64, v int64) {
	for {
		old := peak.Load()
		if v <= old || peak.CompareAndSwap(old, v) {
			return
		}
	}
}

// crashTask asks a worker process to misbehave: Do is "goroutine-panic"
// (a panic in a goroutine of its own, which no recover can catch), "exit",
// "kill" (SIGKILL to itself) or "" (work normally for Sleep and return I*I).
type crashTask struct {
	I     int
	Do    string
	Sleep time.Duration
}

var procCrash = proc.Register("lab.crash", func(ctx context.Context, in crashTask) (int, error) {
	switch in.Do {
	case "goroutine-panic":
		go func() { panic(fmt.Sprintf("lab: task %d panicked in a goroutine", in.I)) }()
		<-ctx.Done() // the panic ends the process before this returns
		return 0, ctx.Err()
	case "exit":
		os.Exit(3)
	case "kill":
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		<-ctx.Done()
		return 0, ctx.Err()
	}
	time.Sleep(in.Sleep)
	return in.I * in.I, nil
})

// procPing answers at once, so the parent can time a worker's start.
var procPing = proc.Register("lab.ping", func(ctx context.Context, in int) (int, error) {
	return os.Getpid(), nil
})

// cpuIOTask is one task of the cpu-vs-io experiment, run in a worker process.
type cpuIOTask struct {
	IO     bool
	A, B   uint64
	Rounds int
	Addr   string
	Trips  int
	Size   int
}

var procCPUIO = proc.Register("lab.cpuio", func(ctx context.Context, in cpuIOTask) (uint64, error) {
	if in.IO {
		return 0, echoTrips(ctx, in.Addr, in.Trips, in.Size, nil, 0)
	}
	return sumRange(in.A, in.B, in.Rounds), nil
})

// ipcTask has a worker process receive Count messages of Size bytes over a
// transport ("pipe", "unix" or "shm") and acknowledge each one.
type ipcTask struct {
	Transport string
	// Path is the FIFO pair's prefix (pipe), the socket (unix) or the
	// segment's directory (shm), Name the segment's name.
	Path, Name  string
	Size, Count int
}

var procIPC = proc.Register("lab.ipc", func(ctx context.Context, in ipcTask) (int, error) {
	return ipcReceive(ctx, in)
})
