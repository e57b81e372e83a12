package child_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"crew/internal/child"
	"crew/internal/testproc"
	"crew/internal/wait"
)

func TestMain(m *testing.M) {
	// Under -race every process sleeps a second at exit by default, which
	// would blur the timings of the scripted children.
	if _, ok := os.LookupEnv("GORACE"); !ok {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	testproc.Register("exit", func(args []string) int {
		code, _ := strconv.Atoi(args[0])
		return code
	})
	testproc.Register("raise", func(args []string) int {
		n, _ := strconv.Atoi(args[0])
		signal.Reset(syscall.Signal(n))
		syscall.Kill(os.Getpid(), syscall.Signal(n))
		time.Sleep(time.Minute)
		return 1
	})
	testproc.Register("sleep", func([]string) int {
		time.Sleep(time.Hour)
		return 0
	})
	testproc.Register("trap", trapHelper)
	testproc.Register("grandchild", grandchildHelper)
	testproc.Register("parent", parentHelper)
	testproc.Register("print", func(args []string) int {
		fmt.Fprint(os.Stdout, args[0])
		fmt.Fprint(os.Stderr, args[1])
		return 0
	})
	testproc.Main()
	goleak.VerifyTestMain(m)
}

// trapHelper catches SIGTERM: it says "ready", then writes one line per
// SIGTERM with the wall-clock time in microseconds, and exits with status
// 3 at the args[0]th one (0: never).
func trapHelper(args []string) int {
	exitAt, _ := strconv.Atoi(args[0])
	terms := make(chan os.Signal, 10)
	signal.Notify(terms, syscall.SIGTERM)
	fmt.Println("ready")
	for n := 1; ; n++ {
		<-terms
		fmt.Println("TERM", time.Now().UnixMicro())
		if n == exitAt {
			return 3
		}
	}
}

// grandchildHelper starts a sleeping grandchild in its own process group,
// says its pid, then stays (args[0] "stay") or exits with status 0.
func grandchildHelper(args []string) int {
	gc := testproc.Command("sleep")
	// The grandchild shares stdout, as a job's background process does.
	gc.Stdout = os.Stdout
	if err := gc.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println(gc.Process.Pid)
	if args[0] == "stay" {
		time.Sleep(time.Hour)
	}
	return 0
}

// parentHelper starts a sleeping child with child.Start, says its pid and
// waits to be killed.
func parentHelper([]string) int {
	runtime.LockOSThread()
	c, err := child.Start(context.Background(), testproc.Command("sleep"), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println(c.Pid())
	time.Sleep(time.Hour)
	return 0
}

// start starts cmd with child.Start on a locked thread, and returns the
// child and the reader of its stdout. The thread stays locked until the
// test ends (the child must not outlive it).
func start(t *testing.T, ctx context.Context, cmd *exec.Cmd, seq []child.TermStep) (*child.Child, *bufio.Reader) {
	t.Helper()
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	cmd.Stdout = w
	c, err := child.Start(ctx, cmd, seq)
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(r)
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the child's output: %v", err)
	}
	return strings.TrimSuffix(line, "\n")
}

func readPid(t *testing.T, r *bufio.Reader) int {
	t.Helper()
	pid, err := strconv.Atoi(readLine(t, r))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// waitGone waits until process pid has gone (or is a zombie).
func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	defer func() { // should the wait time out
		if testproc.Alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	wait.For(t, what+" to go", func() bool { return !testproc.Alive(pid) })
}

func TestStatus(t *testing.T) {
	for _, c := range []struct {
		name  string
		args  []string
		want  child.Status
		shell int
	}{
		{"exit 0", []string{"exit", "0"}, child.Status{Code: 0}, 0},
		{"exit 3", []string{"exit", "3"}, child.Status{Code: 3}, 3},
		{"exit 255", []string{"exit", "255"}, child.Status{Code: 255}, 255},
		{"SIGTERM", []string{"raise", "15"}, child.Status{Code: -1, Signal: syscall.SIGTERM}, 143},
		{"SIGKILL", []string{"raise", "9"}, child.Status{Code: -1, Signal: syscall.SIGKILL}, 137},
		{"SIGINT", []string{"raise", "2"}, child.Status{Code: -1, Signal: syscall.SIGINT}, 130},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch, _ := start(t, context.Background(), testproc.Command(c.args[0], c.args[1:]...), nil)
			st, err := ch.Wait()
			if st != c.want {
				t.Errorf("Wait = %+v (%v), want %+v", st, err, c.want)
			}
			if !st.Ended() {
				t.Errorf("Ended() = false for %+v", st)
			}
			if got := st.ShellCode(); got != c.shell {
				t.Errorf("ShellCode() = %d, want %d", got, c.shell)
			}
			if (err == nil) != (c.shell == 0) {
				t.Errorf("Wait error %v for status %+v", err, st)
			}
			if ch.Terminated() {
				t.Error("Terminated() = true, but nothing ended the context")
			}
		})
	}
	if st := child.StatusOf(nil); st.Ended() || st.Code != -1 {
		t.Errorf("StatusOf(nil) = %+v, want an unknown end", st)
	}
}

const ms = time.Millisecond

// TestTermSeq cancels a child that traps SIGTERM and checks what it saw:
// how many TERMs, how far apart, and how it ended.
func TestTermSeq(t *testing.T) {
	for _, c := range []struct {
		name   string
		exitAt string // the TERM the child exits at; "0": it never does
		seq    []child.TermStep
		terms  []time.Duration // when each TERM should arrive, after the first
		want   child.Status
		atMost time.Duration // from cancel to Wait's return
	}{
		{
			name: "default sequence, TERM ignored", exitAt: "0", seq: nil,
			terms: []time.Duration{0, 200 * ms, 300 * ms},
			want:  child.Status{Code: -1, Signal: syscall.SIGKILL}, atMost: 2 * time.Second,
		},
		{
			name: "exits at the first TERM: no waiting out the step", exitAt: "1",
			seq:   []child.TermStep{{syscall.SIGTERM, 5 * time.Second}, {syscall.SIGKILL, 0}},
			terms: []time.Duration{0},
			want:  child.Status{Code: 3}, atMost: 2 * time.Second,
		},
		{
			// Longer than WaitDelay, after which os/exec would kill the
			// child itself if it watched the context.
			name: "a long step is not cut short", exitAt: "2",
			seq:   []child.TermStep{{syscall.SIGTERM, 400 * ms}, {syscall.SIGTERM, 400 * ms}, {syscall.SIGKILL, 0}},
			terms: []time.Duration{0, 400 * ms},
			want:  child.Status{Code: 3}, atMost: 3 * time.Second,
		},
		{
			name: "no steps: killed at once", exitAt: "0", seq: []child.TermStep{},
			want: child.Status{Code: -1, Signal: syscall.SIGKILL}, atMost: 2 * time.Second,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch, out := start(t, ctx, testproc.Command("trap", c.exitAt), c.seq)
			if got := readLine(t, out); got != "ready" {
				t.Fatalf("child said %q, want ready", got)
			}
			// Taken before the cancel: no TERM can be sent before it.
			cancelled := time.Now()
			cancel()
			st, _ := ch.Wait()
			took := time.Since(cancelled)
			if st != c.want {
				t.Errorf("Wait = %+v, want %+v", st, c.want)
			}
			if !ch.Terminated() {
				t.Error("Terminated() = false after the context ended")
			}
			if took > c.atMost {
				t.Errorf("Wait returned %v after the cancel, want at most %v", took, c.atMost)
			}
			var terms []time.Time
			for {
				line, err := out.ReadString('\n')
				if err == io.EOF {
					break
				}
				f := strings.Fields(line)
				if err != nil || len(f) != 2 || f[0] != "TERM" {
					t.Fatalf("child said %q (%v)", line, err)
				}
				us, _ := strconv.ParseInt(f[1], 10, 64)
				terms = append(terms, time.UnixMicro(us))
			}
			if len(terms) != len(c.terms) {
				t.Fatalf("child saw %d TERMs, want %d", len(terms), len(c.terms))
			}
			for i := 1; i < len(terms); i++ {
				// Late is fine on a busy machine; early is not. Measured
				// from the cancel, not from when the child saw the first
				// TERM: a child scheduled late for that one would see the
				// next ones "early".
				if got, want := terms[i].Sub(cancelled), c.terms[i]; got < want-ms {
					t.Errorf("TERM %d came %v after the cancel, want at least %v", i+1, got, want)
				}
			}
		})
	}
}

// TestGroupSignal checks that signals reach the child's whole group: a
// grandchild dies with it, whether the child is killed or stopped by its
// context's termination sequence, and WaitKillGroup clears what the
// child left behind; plain Wait leaves that running.
func TestGroupSignal(t *testing.T) {
	for _, c := range []struct {
		name string
		how  string // "stay" or "exit": what the child does once the grandchild runs
		stop func(*child.Child, context.CancelFunc)
		wait func(*child.Child) (child.Status, error)
		want child.Status
		left bool // the grandchild outlives the wait
	}{
		{"Kill", "stay", func(c *child.Child, _ context.CancelFunc) { c.Kill() }, (*child.Child).Wait,
			child.Status{Code: -1, Signal: syscall.SIGKILL}, false},
		{"Signal TERM", "stay", func(c *child.Child, _ context.CancelFunc) { c.Signal(syscall.SIGTERM) }, (*child.Child).Wait,
			child.Status{Code: -1, Signal: syscall.SIGTERM}, false},
		{"context", "stay", func(_ *child.Child, cancel context.CancelFunc) { cancel() }, (*child.Child).Wait,
			child.Status{Code: -1, Signal: syscall.SIGTERM}, false},
		{"WaitKillGroup", "exit", func(*child.Child, context.CancelFunc) {}, (*child.Child).WaitKillGroup,
			child.Status{Code: 0}, false},
		{"Wait leaves it", "exit", func(*child.Child, context.CancelFunc) {}, (*child.Child).Wait,
			child.Status{Code: 0}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ch, out := start(t, ctx, testproc.Command("grandchild", c.how), nil)
			gc := readPid(t, out)
			c.stop(ch, cancel)
			st, err := c.wait(ch)
			if st != c.want {
				t.Errorf("status %+v (%v), want %+v", st, err, c.want)
			}
			if c.left {
				if !testproc.Alive(gc) {
					t.Error("the grandchild died with the child")
				}
				// The group outlives its reaped leader while the
				// grandchild is in it.
				if err := child.KillGroup(ch.Pid(), syscall.SIGKILL); err != nil {
					t.Errorf("KillGroup: %v", err)
				}
			}
			waitGone(t, gc, "the grandchild")
			if err := ch.Kill(); !errors.Is(err, os.ErrProcessDone) {
				t.Errorf("Kill after Wait = %v, want os.ErrProcessDone", err)
			}
		})
	}
}

// TestWaitDelay: a child that exits while a background process it started
// holds its output pipe is waited for only WaitDelay longer, and what it
// wrote before it exited is read.
func TestWaitDelay(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var out bytes.Buffer
	cmd := testproc.Command("grandchild", "exit")
	cmd.Stdout = &out // a pipe, read by os/exec's goroutine
	start := time.Now()
	c, err := child.Start(context.Background(), cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Wait()
	took := time.Since(start)
	if st != (child.Status{Code: 0}) || !errors.Is(err, exec.ErrWaitDelay) {
		t.Errorf("Wait = %+v, %v; want exit 0 and exec.ErrWaitDelay", st, err)
	}
	if took > 2*time.Second {
		t.Errorf("Wait took %v", took)
	}
	gc, err := strconv.Atoi(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatalf("child wrote %q", out.String())
	}
	if !testproc.Alive(gc) {
		t.Error("the background process died")
	}
	child.KillGroup(c.Pid(), syscall.SIGKILL)
	waitGone(t, gc, "the grandchild")
}

// TestParentDeath kills a parent with SIGKILL: the child it started dies
// too.
func TestParentDeath(t *testing.T) {
	parent := testproc.Command("parent")
	r, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	pid := readPid(t, bufio.NewReader(r))
	parent.Process.Kill()
	parent.Wait()
	waitGone(t, pid, "the orphaned child")
}

// TestStartDetached: a detached process leads its own group and has no
// parent-death signal.
func TestStartDetached(t *testing.T) {
	pid, err := child.StartDetached(testproc.Command("sleep"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		child.KillGroup(pid, syscall.SIGKILL)
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil)
	}()
	if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
		t.Errorf("Getpgid = %d, %v; want %d", pgid, err, pid)
	}
}

// TestStartRefuses: a command with a context of its own (whose os/exec
// watcher would kill it on its own terms), and a context that has ended.
func TestStartRefuses(t *testing.T) {
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	argv := testproc.Argv("exit", "0")
	for _, c := range []struct {
		name string
		ctx  context.Context
		cmd  *exec.Cmd
		want string
	}{
		{"CommandContext", context.Background(), exec.CommandContext(context.Background(), argv[0], argv[1:]...), "exec.CommandContext"},
		{"ended context", ended, exec.Command(argv[0], argv[1:]...), context.Canceled.Error()},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch, err := child.Start(c.ctx, c.cmd, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Start = %v, want an error mentioning %q", err, c.want)
			}
			if ch != nil || c.cmd.Process != nil {
				t.Error("Start started the command")
			}
		})
	}
}

func TestKillGroupRefuses(t *testing.T) {
	for _, pgid := range []int{-5, 0, 1} {
		if err := child.KillGroup(pgid, 0); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("KillGroup(%d) = %v, want EINVAL", pgid, err)
		}
	}
}

// TestOutputFile has a child write into memory files and reads them back.
func TestOutputFile(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := testproc.OpenFDs(t)
	fo, inMemory, err := child.OutputFile()
	if err != nil {
		t.Fatal(err)
	}
	if !inMemory {
		t.Log("no memfd here: the output went to a disk file")
	}
	fe, _, err := child.OutputFile()
	if err != nil {
		t.Fatal(err)
	}
	cmd := testproc.Command("print", "to stdout\n", "to stderr")
	cmd.Stdout, cmd.Stderr = fo, fe
	c, err := child.Start(context.Background(), cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		f    *os.File
		want string
	}{{fo, "to stdout\n"}, {fe, "to stderr"}} {
		b, err := child.ReadOutput(f.f)
		if err != nil || string(b) != f.want {
			t.Errorf("ReadOutput = %q, %v; want %q", b, err, f.want)
		}
	}
	f, err := child.TempFile()
	if err != nil {
		t.Fatal(err)
	}
	if b, err := child.ReadOutput(f); b != nil || err != nil {
		t.Errorf("ReadOutput of an empty file = %q, %v", b, err)
	}
	if after := testproc.OpenFDs(t); after != before {
		t.Errorf("%d file descriptors open, %d before", after, before)
	}
}
