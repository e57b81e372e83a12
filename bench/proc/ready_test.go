package proc_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"crew/proc"
)

// envProbe makes this test binary a start-up probe: it answers one byte on
// fd 3 and exits, as soon as main runs. Two probes started together are the
// floor for any pool that re-executes this binary: fork/exec, the Go
// runtime's start-up and the binary's package initialization, with no
// library code at all.
const envProbe = "CREW_BENCH_PROBE"

// probeMain answers if this process is a probe; TestMain calls it first.
func probeMain() {
	if os.Getenv(envProbe) == "" {
		return
	}
	os.NewFile(3, "probe").Write([]byte{'H'})
	os.Exit(0)
}

// startAll starts n copies of argv with the attributes proc gives its
// workers, each from its own locked thread as proc's spawners do, and
// returns the time until each has written a byte on fd 3 (or, with answer
// false, has exited).
func startAll(b *testing.B, n int, answer bool, argv ...string) time.Duration {
	type child struct {
		cmd *exec.Cmd
		r   *os.File
		err error
	}
	cs := make([]child, n)
	var wg sync.WaitGroup
	t := time.Now()
	for i := range cs {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c := &cs[i]
			r, w, err := os.Pipe()
			if err != nil {
				c.err = err
				return
			}
			c.r = r
			c.cmd = exec.Command(argv[0], argv[1:]...)
			c.cmd.Env = append(os.Environ(), envProbe+"=1")
			c.cmd.ExtraFiles = []*os.File{w}
			c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
			c.err = c.cmd.Start()
			w.Close()
			if c.err != nil {
				return
			}
			if answer {
				var one [1]byte
				_, c.err = r.Read(one[:])
			} else {
				c.err = c.cmd.Wait()
			}
		})
	}
	wg.Wait()
	d := time.Since(t)
	for i, c := range cs {
		if c.err != nil {
			b.Fatalf("probe %d: %v", i, c.err)
		}
		if answer {
			c.cmd.Wait()
		}
		c.r.Close()
	}
	return d
}

// readyTimes measures 2-worker start-up: crew's, Python's fork Pool's and
// the two floors, interleaved in rounds so that load from elsewhere on the
// machine falls on all of them alike. Each figure is a median in seconds.
type readyTimes struct{ crew, python, probe1, probe, bin float64 }

func measureReady(b *testing.B, rounds, per int) readyTimes {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var crew, probe1, probe, bin, py []float64
	for range rounds {
		for range per {
			t := time.Now()
			p, err := proc.New(context.Background(), proc.WithWorkers(2))
			if err != nil {
				b.Fatal(err)
			}
			crew = append(crew, time.Since(t).Seconds())
			p.Terminate()
			probe1 = append(probe1, startAll(b, 1, true, exe).Seconds())
			probe = append(probe, startAll(b, 2, true, exe).Seconds())
			bin = append(bin, startAll(b, 2, false, "/bin/true").Seconds())
		}
		py = append(py, python(b, "startup-fork", per)["seconds"])
	}
	return readyTimes{median(crew), median(py), median(probe1), median(probe), median(bin)}
}

// BenchmarkReady breaks a 2-worker pool's start-up down against its floors
// and against Python's fork start-up. Run it with -benchtime 1x; it prints
// medians in milliseconds and Python's time over each.
func BenchmarkReady(b *testing.B) {
	if _, err := exec.LookPath("python3"); err != nil {
		b.Skip("python3 not installed")
	}
	for b.Loop() {
		r := measureReady(b, 5, 20)
		line := func(name string, s float64) {
			fmt.Printf("%-44s %8.3f ms %6.2fx\n", name, s*1e3, r.python/s)
		}
		fmt.Printf("%-44s %11s %7s\n", "2 workers ready (median)", "", "python/x")
		line("python Pool(2) fork + 2-item map", r.python)
		line("crew proc.New(WithWorkers(2))", r.crew)
		line("floor: 2 re-execs of this binary answering", r.probe)
		line("floor: 1 re-exec of this binary answering", r.probe1)
		line("floor: 2 fork/exec/exit of /bin/true", r.bin)
	}
}
