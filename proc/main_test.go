package proc_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"crew/internal/testproc"
	"crew/proc"
)

// errInWorker is what the "panic-err" task panics with, wrapped.
var errInWorker = errors.New("sentinel in worker")

type point struct {
	X, Y int
	Tag  string
}

var (
	add1   = proc.Register("add1", func(_ context.Context, x int) (int, error) { return x + 1, nil })
	upper  = proc.Register("upper", func(_ context.Context, s string) (string, error) { return strings.ToUpper(s), nil })
	swap   = proc.Register("swap", func(_ context.Context, p point) (point, error) { return point{p.Y, p.X, p.Tag + "!"}, nil })
	rev    = proc.Register("rev", func(_ context.Context, b []byte) ([]byte, error) { return []byte(reverse(string(b))), nil })
	sum    = proc.Register("sum", func(_ context.Context, xs []int) (int, error) { return total(xs), nil })
	failIf = proc.Register("failIf", func(_ context.Context, x int) (int, error) {
		if x < 0 {
			return 0, fmt.Errorf("negative %d", x)
		}
		return x, nil
	})
	getpid = proc.Register("getpid", func(context.Context, int) (int, error) { return os.Getpid(), nil })
	wid    = proc.Register("wid", func(ctx context.Context, _ int) (int, error) { return proc.WorkerID(ctx), nil })
	// crash does what its argument says to its worker.
	crash = proc.Register("crash", func(ctx context.Context, how string) (string, error) {
		switch how {
		case "exit3":
			os.Exit(3)
		case "panic":
			panic("boom in worker")
		case "panic-int":
			panic(42)
		case "panic-err":
			panic(fmt.Errorf("wrapped: %w", errInWorker))
		case "segv":
			syscall.Kill(os.Getpid(), syscall.SIGSEGV)
			time.Sleep(time.Second)
		case "hang":
			select {} // ignores ctx: only a kill ends it
		case "wait":
			<-ctx.Done()
			return "", ctx.Err()
		case "alloc":
			var keep [][]byte
			for range 64 { // up to 1 GiB, touched so it is really used
				b := make([]byte, 16<<20)
				for i := range b {
					b[i] = 1
				}
				keep = append(keep, b)
			}
			return strconv.Itoa(len(keep)), nil
		case "print":
			fmt.Println("hello from stdout")
			fmt.Fprint(os.Stderr, "partial line")
		case "sleep":
			time.Sleep(50 * time.Millisecond)
		}
		return how, nil
	})
	initialized = 0
	setup       = proc.Register("setup", func(context.Context, int) (int, error) { initialized = 42; return 0, nil })
	readInit    = proc.Register("readInit", func(context.Context, int) (int, error) { return initialized, nil })
)

func reverse(s string) string {
	r := []byte(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

func total(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}

func TestMain(m *testing.M) {
	testproc.Register("parent", parentHelper)
	testproc.Register("fake-worker", fakeWorker)
	testproc.Register("fake-late", fakeLate)
	// Helpers first: a pool starts the fake worker with the Go worker's
	// environment, and proc.Main would make it a Go worker.
	testproc.Main()
	proc.Main()
	// Under -race every process sleeps a second at exit by default; the
	// workers of these tests exit hundreds of times.
	if _, ok := os.LookupEnv("GORACE"); !ok {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	goleak.VerifyTestMain(m)
}

// parentHelper starts a pool (of args[0] workers, default 2; with "respawn",
// one of them is crashed and replaced first), prints its worker pids and
// waits to be killed.
func parentHelper(args []string) int {
	n := 2
	if len(args) > 0 {
		n, _ = strconv.Atoi(args[0])
	}
	p, err := proc.New(context.Background(), proc.WithWorkers(n))
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	if len(args) > 1 && args[1] == "respawn" {
		before := p.PIDs()
		crash.Call(context.Background(), p, "exit3")
		for slices.Equal(p.PIDs(), before) || len(p.PIDs()) < n {
			time.Sleep(time.Millisecond)
		}
	}
	var s []string
	for _, pid := range p.PIDs() {
		s = append(s, strconv.Itoa(pid))
	}
	fmt.Println(strings.Join(s, " "))
	// Keep the workers busy so that they are mid-task when we die.
	go crash.Call(context.Background(), p, "hang")
	go crash.Call(context.Background(), p, "hang")
	bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

func newPool(t *testing.T, opts ...proc.Option) *proc.Pool {
	t.Helper()
	p, err := proc.New(context.Background(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pids := p.PIDs()
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		for _, pid := range pids {
			if testproc.Alive(pid) {
				t.Errorf("worker %d alive after Close", pid)
			}
		}
	})
	return p
}

func isErr(err, target error) bool { return errors.Is(err, target) }
