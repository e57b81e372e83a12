package ipc

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// golang.org/x/sys/unix has no futex wrapper; these are the operation codes
// of futex(2). Without FUTEX_PRIVATE_FLAG the kernel keys a futex by the
// file and offset behind the address, so processes that map the same queue
// at different addresses wait on the same word.
const (
	futexWaitOp = 0 // FUTEX_WAIT
	futexWakeOp = 1 // FUTEX_WAKE
)

// futexWait sleeps in the kernel while *addr == val, for at most d. It
// returns when woken, when *addr no longer holds val, on a signal, or when
// d has passed; the caller rechecks its condition in every case.
func futexWait(addr *atomic.Uint32, val uint32, d time.Duration) {
	if d <= 0 {
		return
	}
	ts := unix.NsecToTimespec(int64(d))
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitOp, uintptr(val),
		uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// futexWake wakes up to n waiters sleeping on addr, in any process.
func futexWake(addr *atomic.Uint32, n int) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakeOp, uintptr(n), 0, 0, 0)
}

// sleepFor returns how long a wait may sleep: at most max, and no later
// than ctx's deadline.
func sleepFor(ctx context.Context, max time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < max {
			return left
		}
	}
	return max
}

// self is this process's identity in a queue's lock word and lease table:
// its pid and its start time, which together name one process even after
// the pid is reused.
var self = sync.OnceValue(func() procID {
	_, start, err := procStat(os.Getpid())
	if err != nil {
		start = 0 // no /proc: liveness falls back to kill(pid, 0)
	}
	return procID{pid: uint64(os.Getpid()), start: start}
})

type procID struct{ pid, start uint64 }

// procStat reads a process's state letter and start time (clock ticks
// since boot) from /proc/<pid>/stat.
func procStat(pid int) (state byte, start uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name in parentheses may hold spaces and parentheses; the
	// fields that follow the last ")" are plain: state is the first of
	// them and starttime (field 22 of stat) the twentieth.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("malformed stat")
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, errors.New("malformed stat")
	}
	start, err = strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return 0, 0, errors.New("malformed stat")
	}
	return f[0][0], start, nil
}

// alive reports whether the process pid, started at start (0: unknown), is
// still running. A zombie is dead: it holds nothing, whether or not its
// parent has reaped it yet. A pid now used by a process started at another
// time is dead too.
func alive(pid, start uint64) bool {
	if pid == 0 || pid > math.MaxInt32 {
		return false
	}
	if pid == self().pid && (start == 0 || start == self().start) {
		return true
	}
	state, st, err := procStat(int(pid))
	if err == nil {
		return state != 'Z' && state != 'X' && (start == 0 || st == start)
	}
	if errors.Is(err, os.ErrNotExist) {
		// No /proc entry: either no such process or no /proc at all.
		if _, serr := os.Stat("/proc/self/stat"); serr == nil {
			return false
		}
	}
	return unix.Kill(int(pid), 0) != unix.ESRCH
}
