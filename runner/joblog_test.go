package runner_test

import (
	"errors"
	"strings"
	"testing"

	"crew/runner"
)

// FuzzJoblog: whatever a joblog holds, --retry-failed's reader neither
// panics nor lists a job twice, and a command written by the joblog's own
// writer, newlines and all, reads back unchanged.
func FuzzJoblog(f *testing.F) {
	f.Add("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"+
		"1\t:\t1.000\t 0.001\t0\t2\t1\t0\techo a\n", "echo b\nexit 1")
	f.Add("2\t:\t1.000\t 0.001\t0\t2\t0\t0\techo a\n2\t:\t1\t0\t0\t0\t1\t0\tx", "")
	f.Add("1\tx\t\t\t\t\t-1\t15\t\x00\n\n\t\t\t\t\t\t\t\t\n", "a\x00b")
	f.Fuzz(func(t *testing.T, log, command string) {
		if _, err := runner.RetryCommands(strings.NewReader(log)); err != nil && !errors.Is(err, runner.ErrNotJoblog) {
			t.Fatalf("reading from memory failed: %v", err)
		}
		if strings.Contains(command, "\x00") {
			return // NUL is the joblog's own stand-in for newline
		}
		line := runner.JoblogLine(7, 1, command)
		if strings.Count(line, "\n") != 1 {
			t.Fatalf("line %q is not one line", line)
		}
		got, err := runner.RetryCommands(strings.NewReader(line))
		if err != nil || got[7] != command || len(got) != 1 {
			t.Fatalf("command %q read back as %v (%v)", command, got, err)
		}
	})
}
