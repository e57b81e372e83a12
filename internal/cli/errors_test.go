package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"crew/runner"
)

// TestFlagErrorWording checks that a bad flag value is reported as crew's
// other errors are, the flag named once, with exit status 255.
func TestFlagErrorWording(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sem", "--timeout", "soon", "--", "true"}, "crew: --timeout: bad duration \"soon\" (want seconds, or a duration like 1m30s)\n"},
		{[]string{"worker", "--server", "nats://127.0.0.1:1", "--ack-wait", "1x"}, "crew: --ack-wait: bad duration \"1x\" (want seconds, or a duration like 1m30s)\n"},
		{[]string{"broker", "--sync", "never"}, "crew: --sync: want always or a positive duration, not \"never\"\n"},
		{[]string{"run", "--timeout", "soon", "echo"}, "crew: --timeout: bad value \"soon\" (want seconds, a duration like 1m30s, or N% of the median run time)\n"},
	} {
		var stderr strings.Builder
		code := MainArgs(c.args, Streams{In: strings.NewReader(""), Out: io.Discard, Err: &stderr})
		if code != exitError || stderr.String() != c.want {
			t.Errorf("crew %q: status %d, stderr %q; want %d, %q", c.args, code, stderr.String(), exitError, c.want)
		}
	}
}

// TestPlain checks how the runner's errors about what it was given are
// worded for crew's user: without "runner: ", found with errors.As
// however deep, the context around them kept.
func TestPlain(t *testing.T) {
	_, badSize := runner.ParseSize("1X")
	nul := &runner.InputError{Name: "in.txt", Line: 2, Err: runner.ErrNulByte}
	other := errors.New("cluster: unreachable")
	for _, c := range []struct {
		flag string
		err  error
		want string
	}{
		{"", badSize, `bad size: "1X" (want a number with an optional k, M, G or T)`},
		{"--memfree", badSize, `--memfree: bad size: "1X" (want a number with an optional k, M, G or T)`},
		{"", fmt.Errorf("reading settings: %w", badSize), `reading settings: bad size: "1X" (want a number with an optional k, M, G or T)`},
		{"", nul, "in.txt: record 2: contains a NUL byte (use -0 for NUL-separated input)"},
		{"", other, "cluster: unreachable"},
		{"--server", other, "--server: cluster: unreachable"},
	} {
		got := plain(c.flag, c.err)
		if got.Error() != c.want {
			t.Errorf("plain(%q, %q) = %q, want %q", c.flag, c.err, got, c.want)
		}
		if !errors.Is(got, c.err) {
			t.Errorf("plain(%q, %q) does not wrap the error", c.flag, c.err)
		}
	}
}
