package proc_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
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

// startBoth starts n copies of argv with the attributes proc gives its
// workers, from one locked thread as proc's spawner does, and returns the
// time until each has written a byte on fd 3 (or, with answer false, has
// exited).
func startBoth(b *testing.B, n int, answer bool, argv ...string) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cmds := make([]*exec.Cmd, n)
	rs := make([]*os.File, n)
	t := time.Now()
	for i := range cmds {
		r, w, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), envProbe+"=1")
		cmd.ExtraFiles = []*os.File{w}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		w.Close()
		cmds[i], rs[i] = cmd, r
	}
	for i, cmd := range cmds {
		if answer {
			var one [1]byte
			if _, err := rs[i].Read(one[:]); err != nil {
				b.Fatalf("probe %d: %v", i, err)
			}
		} else if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	d := time.Since(t)
	for i, cmd := range cmds {
		if answer {
			cmd.Wait()
		}
		rs[i].Close()
	}
	return d
}

// readyTimes measures 2-worker start-up: crew's, Python's fork Pool's and
// the two floors, interleaved in rounds so that load from elsewhere on the
// machine falls on all of them alike. Each figure is a median in seconds.
type readyTimes struct{ crew, python, probe, bin float64 }

func measureReady(b *testing.B, rounds, per int) readyTimes {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var crew, probe, bin, py []float64
	for range rounds {
		for range per {
			t := time.Now()
			p, err := proc.New(context.Background(), proc.Workers(2))
			if err != nil {
				b.Fatal(err)
			}
			crew = append(crew, time.Since(t).Seconds())
			p.Terminate()
			probe = append(probe, startBoth(b, 2, true, exe).Seconds())
			bin = append(bin, startBoth(b, 2, false, "/bin/true").Seconds())
		}
		py = append(py, python(b, "startup-fork", per)["seconds"])
	}
	return readyTimes{median(crew), median(py), median(probe), median(bin)}
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
		line("crew proc.New(Workers(2))", r.crew)
		line("floor: 2 re-execs of this binary answering", r.probe)
		line("floor: 2 fork/exec/exit of /bin/true", r.bin)
	}
}
