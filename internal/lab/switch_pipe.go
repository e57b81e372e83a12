package lab

// The kernel's side of the switch experiment: two OS threads, or this
// process and a worker process, hand one byte back and forth over pipes.

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"crew/proc"
)

// switchThreads times n round trips between two OS threads, bound to CPUs a
// and b, over a pair of pipes.
func switchThreads(a, b, n int) (time.Duration, error) {
	var ping, pong [2]int
	if err := unix.Pipe2(ping[:], unix.O_CLOEXEC); err != nil {
		return 0, err
	}
	defer unix.Close(ping[0])
	defer unix.Close(ping[1])
	if err := unix.Pipe2(pong[:], unix.O_CLOEXEC); err != nil {
		return 0, err
	}
	defer unix.Close(pong[0])
	defer unix.Close(pong[1])
	echoErr := make(chan error, 1)
	go func() {
		// Exiting locked ends this thread, so its binding goes with it.
		runtime.LockOSThread()
		if err := pinThread(b); err != nil {
			echoErr <- err
			unix.Close(pong[1]) // the other side's read sees the end
			return
		}
		echoErr <- echoBytes(ping[0], pong[1], n+1, nil)
	}()
	d, err := onPinnedThread(a, func() (time.Duration, error) { return pingBytes(ping[1], pong[0], n, nil) })
	if eerr := <-echoErr; eerr != nil {
		return 0, eerr
	}
	return d, err
}

// onPinnedThread runs f on a fresh OS thread bound to cpu and returns its
// results; the thread ends with f.
func onPinnedThread(cpu int, f func() (time.Duration, error)) (time.Duration, error) {
	type result struct {
		d   time.Duration
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		if err := pinThread(cpu); err != nil {
			ch <- result{err: err}
			return
		}
		d, err := f()
		ch <- result{d, err}
	}()
	r := <-ch
	return r.d, r.err
}

// pingBytes writes a byte to w and reads one back from r, once untimed and
// then n times, and returns the time of the n. It stops early, with
// errSwitchAborted, when abort is set after a read.
func pingBytes(w, r, n int, abort *atomic.Bool) (time.Duration, error) {
	buf := []byte{0}
	var t0 time.Time
	for i := -1; i < n; i++ {
		if i == 0 {
			t0 = time.Now()
		}
		if _, err := unix.Write(w, buf); err != nil {
			return 0, err
		}
		if m, err := readByte(r, buf); err != nil || m == 0 {
			return 0, cmpErr(err, errSwitchClosed)
		}
		if abort != nil && abort.Load() {
			return 0, errSwitchAborted
		}
	}
	return time.Since(t0), nil
}

// echoBytes reads a byte from r and writes it to w, n times.
func echoBytes(r, w, n int, abort *atomic.Bool) error {
	buf := []byte{0}
	for range n {
		if m, err := readByte(r, buf); err != nil || m == 0 {
			return cmpErr(err, errSwitchClosed)
		}
		if abort != nil && abort.Load() {
			return errSwitchAborted
		}
		if _, err := unix.Write(w, buf); err != nil {
			return err
		}
	}
	return nil
}

// readByte is a blocking read(2) that retries when a signal (the Go
// runtime's preemption signal, say) interrupts it.
func readByte(fd int, buf []byte) (int, error) {
	for {
		n, err := unix.Read(fd, buf)
		if err != unix.EINTR {
			return n, err
		}
	}
}

func cmpErr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

var (
	errSwitchClosed  = errors.New("the other side closed its pipe")
	errSwitchAborted = errors.New("the other side failed")
)

// switchTask asks a worker process to echo Trips+1 bytes from the FIFO
// Path+".ping" to Path+".pong" on a thread bound to CPU.
type switchTask struct {
	Path  string
	CPU   int
	Trips int
}

var procSwitch = proc.Register("lab.switch", func(ctx context.Context, in switchTask) (int, error) {
	ping, pong, err := openSwitchFIFOs(in.Path)
	if err != nil {
		return 0, err
	}
	defer unix.Close(ping)
	defer unix.Close(pong)
	errc := make(chan error, 1)
	go func() {
		// Exiting locked ends this thread, so the worker's other goroutines
		// never run bound to the CPU.
		runtime.LockOSThread()
		if err := pinThread(in.CPU); err != nil {
			errc <- err
			return
		}
		errc <- echoBytes(ping, pong, in.Trips+1, nil)
	}()
	return in.Trips, <-errc
})

// openSwitchFIFOs opens both FIFOs for reading and writing: such an open
// does not wait for the other side (Linux), and the descriptors stay in
// blocking mode, so each read(2) really puts the thread to sleep.
func openSwitchFIFOs(path string) (ping, pong int, err error) {
	ping, err = unix.Open(path+".ping", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, -1, err
	}
	pong, err = unix.Open(path+".pong", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(ping)
		return -1, -1, err
	}
	return ping, pong, nil
}

// switchProcesses times n round trips between this process, on a thread
// bound to CPU a, and a worker process on a thread bound to CPU b.
func switchProcesses(ctx context.Context, pool *proc.Pool, path string, a, b, n int) (time.Duration, error) {
	for _, s := range []string{".ping", ".pong"} {
		if err := unix.Mkfifo(path+s, 0o600); err != nil {
			return 0, err
		}
	}
	ping, pong, err := openSwitchFIFOs(path)
	if err != nil {
		return 0, err
	}
	defer unix.Close(ping)
	defer unix.Close(pong)
	var abort atomic.Bool
	child := make(chan error, 1)
	go func() {
		_, err := procSwitch.Call(ctx, pool, switchTask{Path: path, CPU: b, Trips: n})
		if err != nil {
			// The parent may be blocked reading pong, which it holds open
			// itself, so no end of file will come: wake it with a byte.
			abort.Store(true)
			_, _ = unix.Write(pong, []byte{1})
		}
		child <- err
	}()
	d, err := onPinnedThread(a, func() (time.Duration, error) { return pingBytes(ping, pong, n, &abort) })
	if cerr := <-child; cerr != nil {
		return 0, cerr
	}
	return d, err
}
