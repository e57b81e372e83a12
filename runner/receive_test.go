package runner_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"crew/runner"
)

// TestJoblogReceive checks that the joblog's Receive column counts the
// bytes of standard output the runner itself took in, in every output
// mode, whatever the executor reported: GNU parallel counts a job's
// standard output (not its standard error), and nothing with --ungroup.
func TestJoblogReceive(t *testing.T) {
	const job = "printf 'hello\\n'; printf 'not counted\\n' >&2"
	for _, c := range []struct {
		name   string
		cfg    runner.Config
		want   string
		stdout string // what the run writes, when not "hello\n" per job
	}{
		{name: "group", cfg: runner.Config{Executor: runner.Local{}}, want: "6"},
		{name: "keep order", cfg: runner.Config{Executor: runner.Local{}, KeepOrder: true}, want: "6"},
		{name: "line buffer", cfg: runner.Config{Executor: runner.Local{}, Output: runner.LineBuffer}, want: "6"},
		{name: "line buffer, keep order", cfg: runner.Config{Executor: runner.Local{}, Output: runner.LineBuffer, KeepOrder: true}, want: "6"},
		{name: "ungroup", cfg: runner.Config{Executor: runner.Local{}, Output: runner.Ungroup}, want: "0"},
		// An executor that does not count, or miscounts, does not matter.
		{name: "silent executor", cfg: runner.Config{Executor: echoExecutor{claim: 0}}, want: "6"},
		{name: "boasting executor", cfg: runner.Config{Executor: echoExecutor{claim: 999}}, want: "6"},
		{name: "boasting executor, line buffer", cfg: runner.Config{Executor: echoExecutor{claim: 999}, Output: runner.LineBuffer}, want: "6"},
		{name: "boasting executor, ungroup", cfg: runner.Config{Executor: echoExecutor{claim: 999}, Output: runner.Ungroup}, want: "0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.Command = []string{job}
			cfg.Inputs = []runner.Input{{Values: []string{"1", "2"}}}
			cfg.Jobs = 2
			cfg.JobLog = filepath.Join(t.TempDir(), "jobs.log")
			// Ungrouped jobs write at once.
			var stdout, stderr lockedBuffer
			cfg.Stdout, cfg.Stderr = &stdout, &stderr
			sum, err := runner.Run(context.Background(), cfg)
			if err != nil || sum.Failed != 0 {
				t.Fatalf("Run: %+v, %v", sum, err)
			}
			if got := stdout.String(); got != "hello\nhello\n" {
				t.Errorf("stdout %q, want the two jobs' hello", got)
			}
			data, err := os.ReadFile(cfg.JobLog)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			if len(lines) != 3 {
				t.Fatalf("joblog %q, want a header and two jobs", data)
			}
			for _, line := range lines[1:] {
				if f := strings.Split(line, "\t"); len(f) < 9 || f[5] != c.want {
					t.Errorf("joblog line %q: Receive want %s", line, c.want)
				}
			}
		})
	}
}

// echoExecutor runs no process: it writes "hello" to the job's standard
// output, noise to its standard error, and reports Receive as claim.
type echoExecutor struct{ claim int64 }

func (e echoExecutor) Exec(_ context.Context, job *runner.Job, stdout, stderr io.Writer) runner.Result {
	start := time.Now()
	_, _ = io.WriteString(stdout, "hello\n")
	_, _ = io.WriteString(stderr, "not counted\n")
	return runner.Result{Seq: job.Seq, Host: "echo", Start: start, Runtime: time.Since(start), Receive: e.claim}
}

// TestNoExecutor checks that a Config without an Executor is refused
// before any input is read, with an error that says how to fix it.
func TestNoExecutor(t *testing.T) {
	read := false
	_, err := runner.Run(context.Background(), runner.Config{
		Command: []string{"true"}, Jobs: 1,
		Inputs: []runner.Input{{Reader: readFunc(func([]byte) (int, error) { read = true; return 0, io.EOF }), Name: "in"}},
	})
	if !errors.Is(err, runner.ErrNoExecutor) {
		t.Fatalf("Run without an executor: %v, want ErrNoExecutor", err)
	}
	if !strings.Contains(err.Error(), "runner.Local{}") {
		t.Errorf("error %q does not say how to run jobs locally", err)
	}
	if read {
		t.Error("Run read its input before refusing the Config")
	}
}

// lockedBuffer is a bytes.Buffer several jobs may write at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type readFunc func([]byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

// TestLogDefault checks that without Config.Log the runner's messages go
// to Stderr with its own prefix, between whole lines of job output.
func TestLogDefault(t *testing.T) {
	var stderr bytes.Buffer
	_, err := runner.Run(context.Background(), runner.Config{
		Command: []string{"sleep {}"}, Jobs: 1, Executor: runner.Local{},
		Inputs:  []runner.Input{{Values: []string{"10"}}},
		Timeout: 100 * time.Millisecond,
		Stderr:  &stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "runner: warning: job 1 killed by --timeout: sleep 10\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}
