package runner_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"crew/internal/wait"
	"crew/runner"
)

// joblogFields returns the Exitval and Signal columns of every job the
// joblog at path records, keyed by the Command column.
func joblogFields(t *testing.T, path string) map[string][2]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]string{}
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")[1:] {
		f := strings.SplitN(line, "\t", 9)
		if len(f) != 9 {
			t.Fatalf("bad joblog line %q", line)
		}
		got[f[8]] = [2]string{f[6], f[7]}
	}
	return got
}

// TestInterruptThenResume interrupts crew while two jobs run: GNU parallel
// records no joblog line for jobs it kills on SIGINT or SIGTERM, so that
// --resume runs them again; crew must do the same.
func TestInterruptThenResume(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "jobs.log")
			marker := fmt.Sprintf("CREW_TEST_MARK=%d-%s-%d", os.Getpid(), t.Name(), sig)
			cmd := crewCmd([]string{marker}, "run", "-j2", "--joblog", log,
				"sleep 100; touch "+dir+"/out.{}", ":::", "1", "2", "3", "4")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// crew, then a shell and a sleep for each running job.
			wait.For(t, "jobs to start", func() bool { return len(markedProcs(t, marker)) >= 5 })
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if code := cmd.ProcessState.ExitCode(); code != 255 {
				t.Errorf("exit status %d after %v, want 255", code, sig)
			}
			if got := joblogFields(t, log); len(got) != 0 {
				t.Errorf("joblog records jobs killed by the interrupt: %v", got)
			}
			out, err := crewCmd(nil, "run", "-j2", "--joblog", log, "--resume",
				"touch "+dir+"/out.{}", ":::", "1", "2", "3", "4").CombinedOutput()
			if err != nil {
				t.Fatalf("resume: %v\n%s", err, out)
			}
			for i := 1; i <= 4; i++ {
				if _, err := os.Stat(filepath.Join(dir, fmt.Sprint("out.", i))); err != nil {
					t.Errorf("job %d did not run on --resume: %v", i, err)
				}
			}
		})
	}
}

// TestJoblogSignals checks the Exitval and Signal columns against GNU
// parallel's: a job that dies of a signal has Exitval 0 and the signal's
// number; one killed by --timeout has Exitval -1 and Signal 15; a job
// killed because --halt now stopped the run is not recorded.
func TestJoblogSignals(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  runner.Config
		want map[string][2]string
		exit int
	}{
		{
			name: "signalled",
			cfg:  runner.Config{Command: []string{"kill -{} $$"}, Inputs: []runner.Input{{Values: []string{"9", "15"}}}},
			want: map[string][2]string{"kill -9 $$": {"0", "9"}, "kill -15 $$": {"0", "15"}},
			exit: 2,
		},
		{
			name: "timeout",
			cfg: runner.Config{Command: []string{"sleep {}"}, Timeout: 300e6,
				Inputs: []runner.Input{{Values: []string{"0", "100"}}}},
			want: map[string][2]string{"sleep 0": {"0", "0"}, "sleep 100": {"-1", "15"}},
			exit: 1,
		},
		{
			name: "halt now",
			cfg: runner.Config{Command: []string{"test {} != fail && sleep 100"}, Jobs: 2,
				Halt:   runner.Halt{When: runner.HaltNow, Count: 1},
				Inputs: []runner.Input{{Values: []string{"slow", "fail"}}}},
			want: map[string][2]string{"test fail != fail && sleep 100": {"1", "0"}},
			exit: 1,
		},
		{
			name: "halt now, fail=2",
			cfg: runner.Config{Command: []string{"test {} != fail && sleep 100"}, Jobs: 4,
				Halt:   runner.Halt{When: runner.HaltNow, Count: 2},
				Inputs: []runner.Input{{Values: []string{"slow", "fail", "fail", "slow"}}}},
			want: map[string][2]string{"test fail != fail && sleep 100": {"1", "0"}},
			exit: 2,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.JobLog = filepath.Join(t.TempDir(), "jobs.log")
			cfg.Jobs = max(cfg.Jobs, 2)
			cfg.Executor = runner.Local{}
			var stderr bytes.Buffer
			cfg.Stderr = &stderr
			sum, err := runner.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := joblogFields(t, cfg.JobLog)
			// The two failing jobs of fail=2 share a command line.
			if len(got) != len(c.want) {
				t.Errorf("joblog records %v, want %v", got, c.want)
			}
			for cmd, w := range c.want {
				if got[cmd] != w {
					t.Errorf("joblog for %q: Exitval, Signal = %v, want %v", cmd, got[cmd], w)
				}
			}
			if sum.ExitStatus() != c.exit {
				t.Errorf("exit status %d, want %d (GNU parallel's)", sum.ExitStatus(), c.exit)
			}
		})
	}
}

// TestHaltSaysOnce checks that only the job that made the run halt is
// named on standard error, not the jobs the halt itself killed.
func TestHaltSaysOnce(t *testing.T) {
	var stderr bytes.Buffer
	var said []string
	_, err := runner.Run(context.Background(), runner.Config{
		Command: []string{"test {} != fail && sleep 100"}, Jobs: 3, Executor: runner.Local{},
		Inputs: []runner.Input{{Values: []string{"slow", "fail", "slow"}}},
		Halt:   runner.Halt{When: runner.HaltNow, Count: 1},
		Stderr: &stderr,
		Log:    func(line string) { said = append(said, line) },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"halting: this job failed: test fail != fail && sleep 100"}
	if !slices.Equal(said, want) {
		t.Errorf("Log heard %q, want %q", said, want)
	}
	// The runner's messages went to Log, not to the jobs' stderr.
	if stderr.Len() != 0 {
		t.Errorf("stderr %q, want nothing", stderr.String())
	}
}
