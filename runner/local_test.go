package runner_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"crew/internal/cli"
	"crew/runner"
)

// TestBackgroundHoldsPipe runs a job that leaves a process in the
// background holding its output pipe, `sleep 3 & echo hi`: crew must be
// done with it well before the sleep is (GNU parallel takes 0.12 s), with
// the job's output intact, and leave the sleep running.
func TestBackgroundHoldsPipe(t *testing.T) {
	const command = "sleep 3 & echo hi"
	for _, c := range []struct {
		name string
		run  func() (string, error)
		want string
	}{
		{"Local.Exec with a pipe", func() (string, error) {
			var out lockedBuffer // not an *os.File: the job writes into a pipe
			res := runner.Local{}.Exec(context.Background(), &runner.Job{Seq: 1, Command: command}, &out, nil)
			if res.Err != nil || res.Exit != 0 || res.Signal != 0 {
				return out.String(), fmt.Errorf("result %+v", res)
			}
			return out.String(), nil
		}, "hi\n"},
		{"crew run --line-buffer", func() (string, error) {
			var out, errb bytes.Buffer
			code := cli.MainArgs([]string{"run", "--line-buffer", command, ":::", "1"}, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != 0 {
				return out.String(), fmt.Errorf("exit status %d, stderr %q", code, errb.String())
			}
			return out.String(), nil
		}, "hi 1\n"}, // crew run appends the input, as GNU parallel does
	} {
		t.Run(c.name, func(t *testing.T) {
			marker := fmt.Sprintf("CREW_TEST_MARK=%d-%d", os.Getpid(), time.Now().UnixNano())
			name, value, _ := strings.Cut(marker, "=")
			t.Setenv(name, value) // the jobs inherit it
			killMarked(t, marker)
			start := time.Now()
			out, err := c.run()
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if out != c.want {
				t.Errorf("output %q, want %q", out, c.want)
			}
			if took > 1500*time.Millisecond {
				t.Errorf("took %v; the background sleep held crew up", took)
			}
			if len(procsNamed(t, marker, "sleep")) != 1 {
				t.Error("the background sleep is not running: a job's background processes must outlive it")
			}
		})
	}
}

// TestTermSeqOutlastsWaitDelay times out a job that traps SIGTERM and
// takes 300 ms to exit, under a --term-seq that gives it a second: the
// job must end by its own exit, not by a SIGKILL when os/exec's WaitDelay
// (100 ms) runs out, and still be reported as timed out.
func TestTermSeqOutlastsWaitDelay(t *testing.T) {
	marker := fmt.Sprintf("CREW_TEST_MARK=%d-%d", os.Getpid(), time.Now().UnixNano())
	killMarked(t, marker)
	local := runner.Local{TermSeq: []runner.TermStep{{Signal: syscall.SIGTERM, Wait: time.Second}, {Signal: syscall.SIGKILL}}}
	job := &runner.Job{Seq: 1, Timeout: 200 * time.Millisecond, Env: []string{marker},
		Command: "trap 'sleep 0.3; exit 7' TERM; sleep 100 & wait"}
	var out lockedBuffer
	res := local.Exec(context.Background(), job, &out, nil)
	if res.Exit != 7 || res.Signal != 0 || !res.TimedOut || res.Err != nil {
		t.Errorf("result %+v, want a timed-out job that exited with 7", res)
	}
	if res.Runtime < 500*time.Millisecond {
		t.Errorf("runtime %v, want the timeout and the trap's 300 ms", res.Runtime)
	}
}
