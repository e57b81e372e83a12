package ipc_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"crew/ipc"
)

// The test binary doubles as the child process of the cross-process tests:
// with helperEnv set it plays the named role and exits, never running tests.
const helperEnv = "CREW_IPC_HELPER"

func TestMain(m *testing.M) {
	if role := os.Getenv(helperEnv); role != "" {
		if err := runHelper(role); err != nil {
			fmt.Fprintf(os.Stderr, "helper %s: %v\n", role, err)
			os.Exit(2)
		}
		os.Exit(0)
	}
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

// helperArgs is what a helper reads from its environment.
type helperArgs struct {
	dir, lock, seg string
	n              int
}

func readHelperArgs() helperArgs {
	n, _ := strconv.Atoi(os.Getenv("CREW_IPC_N"))
	return helperArgs{
		dir:  os.Getenv("CREW_IPC_DIR"),
		lock: os.Getenv("CREW_IPC_LOCK"),
		seg:  os.Getenv("CREW_IPC_SEG"),
		n:    n,
	}
}

func runHelper(role string) error {
	a := readHelperArgs()
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
	b := seg.Bytes()[offCount : offCount+8]
	// An unguarded read-modify-write: another process can write between the
	// read and the write, and its increment is lost.
	bump := func() {
		v := binary.NativeEndian.Uint64(b)
		binary.NativeEndian.PutUint64(b, v+1)
	}
	// slowBump widens the window between read and write, so that a lock
	// that failed to exclude would lose updates within a few iterations.
	slowBump := func() {
		v := binary.NativeEndian.Uint64(b)
		for i := range 500 {
			spin.Add(int64(i))
		}
		binary.NativeEndian.PutUint64(b, v+1)
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
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		helperEnv+"="+role,
		"CREW_IPC_DIR="+a.dir,
		"CREW_IPC_LOCK="+a.lock,
		"CREW_IPC_SEG="+a.seg,
		"CREW_IPC_N="+strconv.Itoa(a.n),
	)
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
	waitFor(t, "helpers ready", func() bool { return ready.Load() == int64(procs) })
	counter(t, seg, offGo).Store(1)
	for _, h := range hs {
		h.wait(t)
	}
	return counter(t, seg, offCount).Load()
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline; the deadline only turns a hang into a failure, it asserts
// nothing about speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
