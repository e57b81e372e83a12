package pythonworker_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"crew/internal/testproc"
	"crew/proc"
)

var (
	square = proc.Declare[int, int]("square")
	upper  = proc.Declare[string, string]("upper")
	fail   = proc.Declare[int, int]("fail")
	pid    = proc.Declare[int, int]("pid")
	nope   = proc.Declare[int, int]("nope")
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPythonWorker(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	fds := testproc.OpenFDs(t)
	ctx := context.Background()
	p, err := proc.New(ctx, proc.WithWorkers(2), proc.WithCommand("python3", "worker.py"))
	if err != nil {
		t.Fatal(err)
	}
	ins := make([]int, 1000)
	for i := range ins {
		ins[i] = i
	}
	for _, chunk := range []int{1, 100} {
		got, err := square.Map(ctx, p, ins, proc.WithChunk(chunk))
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range got {
			if v != i*i {
				t.Fatalf("chunk %d: square(%d) = %d", chunk, i, v)
			}
		}
	}
	if s, err := upper.Call(ctx, p, "crew"); err != nil || s != "CREW" {
		t.Fatalf("upper = %q, %v", s, err)
	}
	var re *proc.RemoteError
	if _, err := fail.Call(ctx, p, 1); !errors.As(err, &re) || !strings.Contains(re.Msg, "ZeroDivisionError") {
		t.Fatalf("fail: %v, want a RemoteError with ZeroDivisionError", err)
	}
	if _, err := nope.Call(ctx, p, 1); !errors.As(err, &re) || !strings.Contains(re.Msg, "KeyError") {
		t.Fatalf("nope: %v, want a RemoteError with KeyError", err)
	}
	// A Python worker that dies is replaced like a Go one.
	victim, err := pid.Call(ctx, p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := square.Call(ctx, p, 3); err != nil && !errors.Is(err, proc.ErrWorkerCrashed) {
			t.Fatal(err)
		}
	}
	pids := p.PIDs()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if testproc.Alive(pid) {
			t.Errorf("worker %d alive after Close", pid)
		}
	}
	if n := testproc.OpenFDs(t); n != fds {
		t.Errorf("%d fds after Close, %d before", n, fds)
	}
}
