package runner_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"crew/internal/wait"
)

// openPTY opens a pseudo-terminal pair: the master, which the test reads,
// and the slave, which a child process gets as its stderr.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		t.Fatalf("ptsname: %v", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	slave, err = os.OpenFile(name, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Fatalf("open %s: %v", name, err)
	}
	return master, slave
}

// readAll reads the master side until the slave is closed everywhere; Linux
// reports that as EIO rather than EOF.
func readAll(master *os.File) ([]byte, error) {
	var b bytes.Buffer
	_, err := io.Copy(&b, master)
	if errors.Is(err, syscall.EIO) {
		err = nil
	}
	return b.Bytes(), err
}

// TestProgressOnTerminal runs crew run with --bar, --eta and --progress
// with its stderr on a pseudo-terminal and reads what it drew: the last
// drawing must show every job done. With stderr on a file, crew must draw
// nothing.
func TestProgressOnTerminal(t *testing.T) {
	const jobs = 10
	args := []string{"run", "-j3", "echo {}", ":::"}
	for i := 1; i <= jobs; i++ {
		args = append(args, fmt.Sprint(i))
	}
	stdin := strings.Repeat("x\n", jobs)
	for _, c := range []struct {
		name, flag string
		stdin      bool // inputs on stdin: the number of jobs is not known in advance
		want       []string
	}{
		{"bar", "--bar", false, []string{"100%", fmt.Sprintf("(%d/%d)", jobs, jobs)}},
		{"eta", "--eta", false, []string{"100%", fmt.Sprintf("(%d/%d)", jobs, jobs)}},
		{"progress", "--progress", false, []string{"100%", fmt.Sprintf("(%d/%d)", jobs, jobs)}},
		{"bar stdin", "--bar", true, []string{fmt.Sprintf("(%d/-)", jobs)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			master, slave := openPTY(t)
			defer master.Close()
			var out strings.Builder
			a := append([]string{args[0], c.flag}, args[1:]...)
			if c.stdin {
				a = []string{"run", c.flag, "-j3", "echo {}"}
			}
			cmd := crewCmd(nil, a...)
			if c.stdin {
				cmd.Stdin = strings.NewReader(stdin)
			}
			cmd.Stdout = &out
			cmd.Stderr = slave
			if err := cmd.Start(); err != nil {
				slave.Close()
				t.Fatal(err)
			}
			// Only the child may hold the slave now, so that reading ends
			// when the child exits.
			slave.Close()
			drawn, rerr := readAll(master)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("crew %q: %v\n%s", a, err, drawn)
			}
			if rerr != nil {
				t.Fatalf("reading the terminal: %v", rerr)
			}
			if n := len(strings.Fields(out.String())); n != jobs {
				t.Errorf("stdout has %d lines, want %d: %q", n, jobs, out.String())
			}
			final := lastDrawing(string(drawn))
			t.Logf("last drawing: %q", final)
			for _, want := range c.want {
				if !strings.Contains(final, want) {
					t.Errorf("last drawing %q lacks %q; terminal got %q", final, want, drawn)
				}
			}
		})
	}
	// A run that stops early (here --halt after the second job fails)
	// leaves the bar where it stood: it must not claim 100%.
	t.Run("bar halted", func(t *testing.T) {
		master, slave := openPTY(t)
		defer master.Close()
		cmd := crewCmd(nil, "run", "--bar", "-j1", "--halt", "now,fail=1", "exit {}", ":::", "0", "1", "0", "0", "0", "0", "0", "0", "0", "0")
		cmd.Stderr = slave
		if err := cmd.Start(); err != nil {
			slave.Close()
			t.Fatal(err)
		}
		slave.Close()
		drawn, _ := readAll(master)
		if err := cmd.Wait(); err == nil {
			t.Fatal("a halted run exited 0")
		}
		if final := lastDrawing(string(drawn)); strings.Contains(final, "100%") || strings.Contains(final, "(10/10)") {
			t.Errorf("the halted run's bar ended at %q; terminal got %q", final, drawn)
		}
	})
	// An interrupted run whose jobs all started (as a cluster run's all
	// do: they wait in its queue) leaves the bar at the jobs that ended:
	// the stopped ones are not done.
	t.Run("bar interrupted", func(t *testing.T) {
		marks := t.TempDir()
		master, slave := openPTY(t)
		defer master.Close()
		cmd := crewCmd(nil, "run", "--bar", "-j8", "touch "+marks+"/{}; sleep 30", ":::", "1", "2", "3", "4", "5", "6", "7", "8")
		cmd.Stderr = slave
		if err := cmd.Start(); err != nil {
			slave.Close()
			t.Fatal(err)
		}
		slave.Close()
		drawing := make(chan []byte, 1)
		go func() { b, _ := readAll(master); drawing <- b }()
		wait.For(t, "8 jobs running", func() bool { e, _ := os.ReadDir(marks); return len(e) == 8 })
		_ = cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err == nil {
			t.Fatal("an interrupted run exited 0")
		}
		drawn := <-drawing
		// The bar's last drawing, before the line saying the run was
		// interrupted.
		bar, _, _ := strings.Cut(string(drawn), "crew: interrupted")
		if final := lastDrawing(bar); !strings.Contains(final, "(0/8)") {
			t.Errorf("the interrupted run's bar ended at %q, want (0/8); terminal got %q", final, drawn)
		}
	})
	t.Run("not a terminal", func(t *testing.T) {
		f, err := os.Create(t.TempDir() + "/stderr")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd := crewCmd(nil, append([]string{"run", "--bar", "--eta", "--progress"}, args[1:]...)...)
		cmd.Stderr = f
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		// Whole lines, as a CI log wants them: one per tenth of the jobs,
		// never a carriage return.
		got, _ := os.ReadFile(f.Name())
		lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
		if len(lines) != 10 || strings.Contains(string(got), "\r") ||
			!strings.HasPrefix(lines[len(lines)-1], "crew: [####################] 10/10 jobs done (100%), 0 running, 0 failed, ") {
			t.Errorf("with stderr on a file crew wrote %q; want 10 progress lines ending in 10/10 jobs done", got)
		}
	})
}

// lastDrawing returns what a terminal would show on the last line that was
// drawn: the text after the last carriage return that is not blank.
func lastDrawing(s string) string {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' })
	for i := len(parts) - 1; i >= 0; i-- {
		if strings.TrimSpace(parts[i]) != "" {
			return strings.TrimSpace(parts[i])
		}
	}
	return ""
}
