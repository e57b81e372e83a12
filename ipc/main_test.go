package ipc_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"go.uber.org/goleak"

	"crew/internal/testproc"
	"crew/internal/wait"
	"crew/ipc"
	"crew/proc"
)

// The test binary doubles as the child process of the cross-process tests:
// each role is a testproc helper that plays its part and exits.
var roles = []string{"hold-mutex", "hold-sem", "create-seg", "plain", "atomic", "mutex", "sem-worker"}

func TestMain(m *testing.M) {
	for _, role := range roles {
		testproc.Register(role, func(args []string) int {
			if err := runHelper(role, parseHelperArgs(args)); err != nil {
				fmt.Fprintf(os.Stderr, "helper %s: %v\n", role, err)
				return 2
			}
			return 0
		})
	}
	proc.Main()
	testproc.Main()
	goleak.VerifyTestMain(m)
}

// Layout of the segment the helpers share with the test.
const (
	offGo      = 0  // set to 1 by the test to start all helpers together
	offReady   = 8  // helpers that are waiting for offGo
	offCount   = 16 // the counter the helpers race on
	offInside  = 24 // helpers inside the semaphore now
	offMax     = 32 // most helpers ever seen inside at once
	offStop    = 40 // set to 1 by the test to stop looping helpers
	offRounds  = 48 // semaphore rounds completed, all helpers together
	layoutSize = 4096
)

// spin is busy work the helpers do inside a critical section.
var spin atomic.Int64

// helperArgs is what a helper is told on its command line.
type helperArgs struct {
	dir, lock, seg string
	n              int
}

func (a helperArgs) args() []string {
	return []string{a.dir, a.lock, a.seg, strconv.Itoa(a.n)}
}

func parseHelperArgs(args []string) helperArgs {
	var a helperArgs
	if len(args) == 4 {
		a.dir, a.lock, a.seg = args[0], args[1], args[2]
		a.n, _ = strconv.Atoi(args[3])
	}
	return a
}

func runHelper(role string, a helperArgs) error {
	ctx := context.Background()
	switch role {
	case "hold-mutex":
		m, err := ipc.NewMutex(a.lock, ipc.WithDir(a.dir))
		if err != nil {
			return err
		}
		if err := m.Lock(ctx); err != nil {
			return err
		}
		fmt.Println("held")
		time.Sleep(time.Hour) // until killed
		return nil
	case "hold-sem":
		s, err := ipc.NewSemaphore(a.lock, a.n, ipc.WithDir(a.dir))
		if err != nil {
			return err
		}
		if err := s.Lock(ctx); err != nil {
			return err
		}
		fmt.Println("held")
		time.Sleep(time.Hour)
		return nil
	case "create-seg":
		seg, err := ipc.CreateSegment(a.seg, layoutSize, ipc.WithDir(a.dir))
		if err != nil {
			return err
		}
		copy(seg.Bytes()[64:], "survivor")
		c, err := seg.Counter(offCount)
		if err != nil {
			return err
		}
		c.Store(42)
		fmt.Println("ready")
		time.Sleep(time.Hour)
		return nil
	}

	// The remaining roles work on the shared layout segment.
	seg, err := ipc.OpenSegment(a.seg, ipc.WithDir(a.dir))
	if err != nil {
		return err
	}
	defer seg.Close()
	at := func(off int) *atomic.Int64 {
		c, err := seg.Counter(off)
		if err != nil {
			panic(err) // offsets are constants of this file
		}
		return c
	}
	start := func() {
		at(offReady).Add(1)
		for at(offGo).Load() == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}
	// The counter is read and written as one word. Byte by byte
	// (binary.NativeEndian), -race builds store it in eight instructions
	// with calls between them, and a torn value can exceed every increment.
	c := (*uint64)(unsafe.Pointer(&seg.Bytes()[offCount]))
	// An unguarded read-modify-write: another process can write between the
	// read and the write, and its increment is lost.
	bump := func() {
		v := *c
		*c = v + 1
	}
	// slowBump widens the window between read and write, so that a lock
	// that failed to exclude would lose updates within a few iterations.
	slowBump := func() {
		v := *c
		for i := range 500 {
			spin.Add(int64(i))
		}
		*c = v + 1
	}
	switch role {
	case "plain":
		start()
		for range a.n {
			bump()
		}
	case "atomic":
		start()
		c := at(offCount)
		for range a.n {
			c.Add(1)
		}
	case "mutex":
		m, err := ipc.NewMutex(a.lock, ipc.WithDir(a.dir))
		if err != nil {
			return err
		}
		defer m.Close()
		start()
		for range a.n {
			if err := m.Lock(ctx); err != nil {
				return err
			}
			slowBump()
			if err := m.Unlock(); err != nil {
				return err
			}
		}
	case "sem-worker":
		s, err := ipc.NewSemaphore(a.lock, a.n, ipc.WithDir(a.dir))
		if err != nil {
			return err
		}
		defer s.Close()
		inside, most := at(offInside), at(offMax)
		start()
		for at(offStop).Load() == 0 {
			if err := s.Lock(ctx); err != nil {
				return err
			}
			now := inside.Add(1)
			for {
				old := most.Load()
				if now <= old || most.CompareAndSwap(old, now) {
					break
				}
			}
			time.Sleep(2 * time.Millisecond)
			inside.Add(-1)
			if err := s.Unlock(); err != nil {
				return err
			}
			at(offRounds).Add(1)
		}
	default:
		return fmt.Errorf("unknown role")
	}
	return nil
}

// helper is a running child process of the test binary.
type helper struct {
	role   string
	cmd    *exec.Cmd
	out    *bufio.Reader
	stderr strings.Builder
}

// startHelper runs the test binary in role with the given settings. The
// child is killed and reaped when the test ends.
func startHelper(t *testing.T, role string, a helperArgs) *helper {
	t.Helper()
	return startCmd(t, role, testproc.Command(role, a.args()...))
}

// startCmd starts cmd, a helper in role, as startHelper does.
func startCmd(t *testing.T, role string, cmd *exec.Cmd) *helper {
	t.Helper()
	h := &helper{role: role, cmd: cmd}
	cmd.Stderr = &h.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	h.out = bufio.NewReader(out)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return h
}

// expect reads one line from the helper and fails unless it is want.
func (h *helper) expect(t *testing.T, want string) {
	t.Helper()
	line, err := h.out.ReadString('\n')
	if strings.TrimSpace(line) != want {
		h.cmd.Wait()
		t.Fatalf("helper said %q (%v), want %q; stderr:\n%s", line, err, want, h.stderr.String())
	}
}

// wait reaps the helper and fails the test if it did not exit cleanly.
func (h *helper) wait(t *testing.T) {
	t.Helper()
	if err := h.cmd.Wait(); err != nil {
		t.Fatalf("helper %s: %v; stderr:\n%s", h.role, err, h.stderr.String())
	}
}

// kill sends SIGKILL and reaps the helper.
func (h *helper) kill(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.cmd.Wait()
}

// newLayout creates the shared test segment in a private directory, so
// tests never touch /dev/shm names they do not own.
func newLayout(t *testing.T) (helperArgs, *ipc.Segment) {
	t.Helper()
	a := helperArgs{dir: t.TempDir(), lock: "lock", seg: "layout"}
	seg, err := ipc.CreateSegment(a.seg, layoutSize, ipc.WithDir(a.dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Close() })
	return a, seg
}

func counter(t *testing.T, seg *ipc.Segment, off int) *atomic.Int64 {
	t.Helper()
	c, err := seg.Counter(off)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runRace starts procs helpers in role, releases them together, waits for
// them and returns the final counter.
func runRace(t *testing.T, role string, procs, iters int) int64 {
	t.Helper()
	a, seg := newLayout(t)
	a.n = iters
	hs := make([]*helper, procs)
	for i := range hs {
		hs[i] = startHelper(t, role, a)
	}
	ready := counter(t, seg, offReady)
	wait.For(t, "helpers ready", func() bool { return ready.Load() == int64(procs) })
	counter(t, seg, offGo).Store(1)
	for _, h := range hs {
		h.wait(t)
	}
	return counter(t, seg, offCount).Load()
}
