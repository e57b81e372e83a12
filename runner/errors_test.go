package runner_test

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"crew/runner"
)

// TestUsageErrors checks that mistakes in what the runner is given come
// back as *UsageError: matched by errors.Is against the sentinel or the
// system error, and with a Msg that drops the package prefix.
func TestUsageErrors(t *testing.T) {
	readErr := errors.New("disk on fire")
	run := func(cfg runner.Config) error {
		_, err := runner.Run(context.Background(), cfg)
		return err
	}
	for _, c := range []struct {
		name string
		err  error
		is   error
		msg  string // the start of Msg
	}{
		{"jobs", second(runner.ParseJobs("many", runtime.NumCPU())), runner.ErrBadJobs, `bad -j value: "many"`},
		{"halt", second(runner.ParseHalt("sometimes")), runner.ErrBadHalt, `bad --halt value: "sometimes"`},
		{"halt without count", run(runner.Config{Command: []string{"true"}, Jobs: 1, Executor: runner.Local{}, Halt: runner.Halt{When: runner.HaltNow}}),
			runner.ErrBadHalt, "bad --halt value: needs a count"},
		{"size", second(runner.ParseSize("1X")), runner.ErrBadSize, `bad size: "1X"`},
		{"zero jobs", run(runner.Config{Command: []string{"true"}}), runner.ErrBadJobs, "bad -j value: jobs must be at least 1"},
		{"no command", second(runner.ParseTemplate(nil, false)), runner.ErrBadTemplate, "bad command template: no command"},
		{"joblog", run(runner.Config{Command: []string{"true"}, Jobs: 1, Executor: runner.Local{}, JobLog: filepath.Join(t.TempDir(), "no", "such", "dir")}),
			fs.ErrNotExist, "joblog: open "},
		{"input", run(runner.Config{Command: []string{"true"}, Jobs: 1, Executor: runner.Local{}, Inputs: []runner.Input{{Reader: iotest.ErrReader(readErr), Name: "in.txt"}}}),
			readErr, "reading in.txt: disk on fire"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !errors.Is(c.err, c.is) {
				t.Fatalf("error %v is not %v", c.err, c.is)
			}
			var ue *runner.UsageError
			if !errors.As(c.err, &ue) {
				t.Fatalf("error %v (%T) is no *UsageError", c.err, c.err)
			}
			if !strings.HasPrefix(ue.Msg, c.msg) {
				t.Errorf("Msg = %q, want it to start with %q", ue.Msg, c.msg)
			}
			if got := c.err.Error(); got != "runner: "+ue.Msg {
				t.Errorf("Error() = %q, want %q", got, "runner: "+ue.Msg)
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }
