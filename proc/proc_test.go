package proc_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"crew/internal/testproc"
	"crew/internal/wait"
	"crew/proc"
)

func TestCallTypes(t *testing.T) {
	p := newPool(t, proc.WithWorkers(2))
	ctx := context.Background()
	tests := []struct {
		name string
		call func() (any, error)
		want any
	}{
		{"int", func() (any, error) { return add1.Call(ctx, p, 41) }, 42},
		{"string", func() (any, error) { return upper.Call(ctx, p, "héllo") }, "HÉLLO"},
		{"struct", func() (any, error) { return swap.Call(ctx, p, point{1, 2, "a"}) }, point{2, 1, "a!"}},
		{"bytes", func() (any, error) { return rev.Call(ctx, p, []byte{1, 2, 3}) }, []byte{3, 2, 1}},
		{"slice", func() (any, error) { return sum.Call(ctx, p, []int{1, 2, 3, 4}) }, 10},
		{"remote error", func() (any, error) { return failIf.Call(ctx, p, -5) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.call()
			if tt.want == nil {
				var re *proc.RemoteError
				if !errors.As(err, &re) || re.Msg != "negative -5" {
					t.Fatalf("err = %v, want RemoteError \"negative -5\"", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestMap(t *testing.T) {
	p := newPool(t, proc.WithWorkers(2))
	ins := make([]int, 3001)
	for i := range ins {
		ins[i] = i * 3
	}
	for _, chunk := range []int{1, 7, 1000, 5000} {
		t.Run(fmt.Sprint("chunk", chunk), func(t *testing.T) {
			got, err := add1.Map(context.Background(), p, ins, proc.WithChunk(chunk))
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range got {
				if v != ins[i]+1 {
					t.Fatalf("got[%d] = %d, want %d", i, v, ins[i]+1)
				}
			}
		})
	}
	t.Run("error", func(t *testing.T) {
		in := []int{1, 2, -3, 4, -5}
		_, err := failIf.Map(context.Background(), p, in, proc.WithChunk(2))
		var re *proc.RemoteError
		if !errors.As(err, &re) || re.Msg != "negative -3" {
			t.Fatalf("err = %v, want the error of input 2", err)
		}
	})
}

func TestMapUnordered(t *testing.T) {
	p := newPool(t, proc.WithWorkers(2))
	seq := func(yield func(int) bool) {
		for i := range 500 {
			if !yield(i) {
				return
			}
		}
	}
	for _, chunk := range []int{1, 10} {
		seen := make([]bool, 500)
		for r := range add1.MapUnordered(context.Background(), p, seq, proc.WithChunk(chunk)) {
			if r.Err != nil || r.Out != r.Index+1 || seen[r.Index] {
				t.Fatalf("chunk %d: bad result %+v", chunk, r)
			}
			seen[r.Index] = true
		}
		if i := slices.Index(seen, false); i >= 0 {
			t.Fatalf("chunk %d: no result for %d", chunk, i)
		}
	}
	// Breaking early must stop the map without hanging or leaking.
	n := 0
	for range add1.MapUnordered(context.Background(), p, seq) {
		if n++; n == 3 {
			break
		}
	}
}

// gateIn drives linger: role "linger" marks Dir/started, waits for its
// context, marks Dir/canceled and then never answers; role "first" answers
// once linger has started, so that linger is surely running when the
// caller sees the first result.
type gateIn struct{ Role, Dir string }

var linger = proc.Register("linger", func(ctx context.Context, in gateIn) (string, error) {
	switch in.Role {
	case "linger":
		os.WriteFile(filepath.Join(in.Dir, "started"), nil, 0o644)
		<-ctx.Done()
		os.WriteFile(filepath.Join(in.Dir, "canceled"), nil, 0o644)
		time.Sleep(time.Hour) // until the pool is terminated
	case "first":
		for {
			if _, err := os.Stat(filepath.Join(in.Dir, "started")); err == nil {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	return in.Role, nil
})

// Breaking out of MapUnordered returns at once, without waiting for the
// batch in flight (which here would never answer), and cancels that
// batch's context in its worker, as MapUnordered's doc says.
func TestMapUnorderedBreakAbandonsInFlight(t *testing.T) {
	p, err := proc.New(context.Background(), proc.WithWorkers(2), proc.WithPrefetch(0))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Terminate()
	dir := t.TempDir()
	ins := []gateIn{{"first", dir}, {"linger", dir}}
	returned := make(chan string, 1)
	go func() {
		for r := range linger.MapUnordered(context.Background(), p, slices.Values(ins)) {
			returned <- fmt.Sprintf("%s %v", r.Out, r.Err)
			break
		}
	}()
	select {
	case got := <-returned:
		if got != "first <nil>" {
			t.Fatalf("first result %q, want the one from \"first\"", got)
		}
	case <-time.After(wait.Timeout):
		t.Fatal("breaking out of MapUnordered waited for the batch in flight")
	}
	wait.For(t, "the batch in flight to be cancelled in its worker", func() bool {
		_, err := os.Stat(filepath.Join(dir, "canceled"))
		return err == nil
	})
}

// TestCrash runs each way a task can take its worker down, alongside
// healthy tasks that must all succeed, and checks the pool recovers.
func TestCrash(t *testing.T) {
	tests := []struct {
		how   string
		opts  []proc.Option
		check func(t *testing.T, err error)
	}{
		{"exit3", nil, func(t *testing.T, err error) {
			var ce *proc.CrashError
			if !errors.As(err, &ce) || !errors.Is(err, proc.ErrWorkerCrashed) || ce.ExitCode != 3 {
				t.Fatalf("err = %v, want CrashError with exit status 3", err)
			}
		}},
		{"panic", nil, func(t *testing.T, err error) {
			var pe *proc.PanicError
			if !errors.As(err, &pe) || pe.Value != "boom in worker" || !bytes.Contains(pe.Stack, []byte("main_test.go")) {
				t.Fatalf("err = %v, want PanicError with message and stack", err)
			}
		}},
		{"segv", nil, func(t *testing.T, err error) {
			var ce *proc.CrashError
			// The Go runtime turns SIGSEGV into a fatal error and exit 2.
			if !errors.As(err, &ce) || (ce.Signal != syscall.SIGSEGV && ce.ExitCode != 2) {
				t.Fatalf("err = %v, want a crash by SIGSEGV", err)
			}
		}},
		{"hang", []proc.Option{proc.WithTimeout(300 * time.Millisecond)}, func(t *testing.T, err error) {
			if !errors.Is(err, proc.ErrTimeout) {
				t.Fatalf("err = %v, want ErrTimeout", err)
			}
		}},
		{"alloc", []proc.Option{proc.WithMemoryLimit(256 << 20)}, func(t *testing.T, err error) {
			if !errors.Is(err, proc.ErrWorkerCrashed) {
				t.Fatalf("err = %v, want ErrWorkerCrashed", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.how, func(t *testing.T) {
			if tt.how == "alloc" && raceEnabled {
				t.Skip("memory limits cannot apply under -race; run without it")
			}
			var out bytes.Buffer
			opts := append([]proc.Option{proc.WithWorkers(2), proc.WithStderr(&syncWriter{w: &out})}, tt.opts...)
			p := newPool(t, opts...)
			ctx := context.Background()
			before := p.PIDs()
			var wg sync.WaitGroup
			healthy := make([]int, 200)
			var herr error
			wg.Go(func() {
				ins := make([]int, len(healthy))
				for i := range ins {
					ins[i] = i
				}
				healthy, herr = add1.Map(ctx, p, ins)
			})
			_, err := crash.Call(ctx, p, tt.how)
			tt.check(t, err)
			wg.Wait()
			if herr != nil {
				t.Fatalf("healthy tasks failed: %v", herr)
			}
			for i, v := range healthy {
				if v != i+1 {
					t.Fatalf("healthy[%d] = %d", i, v)
				}
			}
			if got, err := add1.Call(ctx, p, 1); err != nil || got != 2 {
				t.Fatalf("after crash: %d, %v", got, err)
			}
			if tt.how != "panic" && slices.Equal(before, p.PIDs()) {
				t.Errorf("worker pids unchanged after %s: %v", tt.how, before)
			}
		})
	}
}

// A worker's panic comes back as a *PanicError whose Value is the panic
// value's text, whatever its type was, and whose Stack is the worker's.
func TestPanicErrorShape(t *testing.T) {
	p := newPool(t, proc.WithWorkers(1))
	tests := []struct{ how, value string }{
		{"panic", "boom in worker"},
		{"panic-int", "42"},
		{"panic-err", "wrapped: sentinel in worker"},
	}
	for _, tt := range tests {
		t.Run(tt.how, func(t *testing.T) {
			_, err := crash.Call(context.Background(), p, tt.how)
			var pe *proc.PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *proc.PanicError", err)
			}
			if pe.Value != tt.value {
				t.Errorf("Value = %q, want %q", pe.Value, tt.value)
			}
			if want := "proc: task panicked: " + tt.value; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err.Error(), want)
			}
			// The stack is the worker's: it shows the registered function
			// and the worker's serving loop, not this test.
			if !bytes.Contains(pe.Stack, []byte("main_test.go")) || !bytes.Contains(pe.Stack, []byte("proc.serve")) {
				t.Errorf("Stack is not the worker's:\n%s", pe.Stack)
			}
		})
	}
}

func TestKillWorkerMidTask(t *testing.T) {
	p := newPool(t, proc.WithWorkers(1))
	ctx := context.Background()
	errc := make(chan error, 1)
	go func() {
		_, err := crash.Call(ctx, p, "hang")
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond) // let the task reach the worker
	pid := p.PIDs()[0]
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	var ce *proc.CrashError
	if !errors.As(err, &ce) || ce.Signal != syscall.SIGKILL || ce.PID != pid {
		t.Fatalf("err = %v, want CrashError by SIGKILL of pid %d", err, pid)
	}
	if got, err := add1.Call(ctx, p, 1); err != nil || got != 2 {
		t.Fatalf("after kill: %d, %v", got, err)
	}
}

// A worker dying under a Map must fail its inputs, not hang the Map
// (Python's Pool.map does, bpo-22393).
func TestMapDeadWorkerDoesNotHang(t *testing.T) {
	p := newPool(t, proc.WithWorkers(2))
	ins := []string{"a", "sleep", "exit3", "b", "sleep", "c"}
	out, err := crash.Map(context.Background(), p, ins)
	if !errors.Is(err, proc.ErrWorkerCrashed) {
		t.Fatalf("err = %v, want ErrWorkerCrashed", err)
	}
	if out[0] != "a" || out[1] != "sleep" {
		t.Errorf("results before the crash lost: %q", out)
	}
}

// Recycling workers hundreds of times under load must neither hang nor
// lose a task (Python's ProcessPoolExecutor does, gh-115634).
func TestMaxTasksPerWorker(t *testing.T) {
	p := newPool(t, proc.WithWorkers(2), proc.WithMaxTasksPerWorker(2))
	n := 600
	if raceEnabled {
		n = 300 // a race-instrumented worker takes ~30 ms to start
	}
	ins := make([]int, n)
	pids, err := getpid.Map(context.Background(), p, ins)
	if err != nil {
		t.Fatal(err)
	}
	count := map[int]int{}
	for _, pid := range pids {
		count[pid]++
	}
	for pid, n := range count {
		if n > 2 {
			t.Fatalf("pid %d ran %d tasks, limit 2", pid, n)
		}
	}
	if len(count) < n/2 {
		t.Fatalf("%d distinct workers for %d tasks, want %d", len(count), n, n/2)
	}
}

func TestInitializerAndWorkerID(t *testing.T) {
	p := newPool(t, proc.WithWorkers(2), proc.WithInitializer("setup"))
	ctx := context.Background()
	got, err := readInit.Map(ctx, p, make([]int, 20))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range got {
		if v != 42 {
			t.Fatalf("initializer did not run: %v", got)
		}
	}
	ids, err := wid.Map(ctx, p, make([]int, 50))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if id != 1 && id != 2 {
			t.Fatalf("WorkerID = %d, want 1 or 2", id)
		}
	}
	if _, err := proc.New(ctx, proc.WithWorkers(1), proc.WithInitializer("nonesuch"), proc.WithStderr(nil)); err == nil {
		t.Fatal("New with a missing initializer succeeded")
	}
}

func TestStderrPrefix(t *testing.T) {
	var out bytes.Buffer
	sw := &syncWriter{w: &out}
	p, err := proc.New(context.Background(), proc.WithWorkers(1), proc.WithStderr(sw))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crash.Call(context.Background(), p, "print"); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	want := "[worker 1] hello from stdout\n[worker 1] partial line\n"
	if got := sw.String(); got != want {
		t.Fatalf("stderr = %q, want %q", got, want)
	}
}

func TestCancel(t *testing.T) {
	p := newPool(t, proc.WithWorkers(1), proc.WithTimeout(10*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := crash.Call(ctx, p, "wait"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	// The worker honoured the cancel: it is free and the same process.
	pid := p.PIDs()[0]
	if got, err := getpid.Call(context.Background(), p, 0); err != nil || got != pid {
		t.Fatalf("after cancel: pid %d, %v; want %d", got, err, pid)
	}
}

func TestTerminate(t *testing.T) {
	fds := testproc.OpenFDs(t)
	ctx, cancel := context.WithCancel(context.Background())
	p, err := proc.New(ctx, proc.WithWorkers(2))
	if err != nil {
		t.Fatal(err)
	}
	pids := p.PIDs()
	errc := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := crash.Call(context.Background(), p, "hang")
			errc <- err
		}()
	}
	time.Sleep(100 * time.Millisecond)
	cancel() // terminates the pool
	for range 4 {
		if err := <-errc; !errors.Is(err, proc.ErrClosed) {
			t.Errorf("err = %v, want ErrClosed", err)
		}
	}
	p.Terminate() // waits for the termination the cancel started
	for _, pid := range pids {
		if testproc.Alive(pid) {
			t.Errorf("worker %d alive after Terminate", pid)
		}
	}
	if _, err := add1.Call(context.Background(), p, 1); !errors.Is(err, proc.ErrClosed) {
		t.Errorf("call after Terminate: %v, want ErrClosed", err)
	}
	if n := testproc.OpenFDs(t); n != fds {
		t.Errorf("%d fds open after Terminate, %d before", n, fds)
	}
}

func TestCloseLeavesNoFDs(t *testing.T) {
	fds := testproc.OpenFDs(t)
	for range 3 {
		p, err := proc.New(context.Background(), proc.WithWorkers(2), proc.WithMaxTasksPerWorker(3))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := add1.Map(context.Background(), p, make([]int, 20)); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := testproc.OpenFDs(t); n != fds {
		t.Errorf("%d fds open after Close, %d before", n, fds)
	}
}

// TestParentKilled kills a parent that runs a pool and checks that its
// workers die with it: those New started, on every spawner thread, and a
// replacement started later.
func TestParentKilled(t *testing.T) {
	tests := []struct {
		name string
		args []string
		n    int
	}{
		{"two workers", []string{"2"}, 2},
		{"five workers, one replaced", []string{"5", "respawn"}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := testproc.Command("parent", tt.args...)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(stdout).ReadString('\n')
			var pids []int
			for _, f := range strings.Fields(line) {
				if pid, err := strconv.Atoi(f); err == nil {
					pids = append(pids, pid)
				}
			}
			if err != nil || len(pids) != tt.n {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("parent said %q, %v; want %d pids", line, err, tt.n)
			}
			for _, pid := range pids {
				if !testproc.Alive(pid) {
					t.Fatalf("worker %d not running before the parent died", pid)
				}
			}
			cmd.Process.Kill()
			cmd.Wait()
			for _, pid := range pids {
				wait.For(t, fmt.Sprintf("worker %d to die with its parent", pid), func() bool { return !testproc.Alive(pid) })
			}
		})
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}
