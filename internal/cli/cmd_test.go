package cli

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// parseCmd runs the command that newCmd makes on args, with a runF that
// keeps the options instead of running: gh's seam for testing what the
// flags and arguments parse into. The options are nil when parsing failed.
func parseCmd[O any](t *testing.T, newCmd func(Streams, func(context.Context, *O) error) *cobra.Command, args ...string) (*O, error) {
	t.Helper()
	var got *O
	s := Streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard}
	cmd := newCmd(s, func(_ context.Context, o *O) error {
		got = o
		return nil
	})
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	if err != nil {
		return nil, err
	}
	if got == nil {
		t.Fatalf("%s %q: runF was not called", cmd.Name(), args)
	}
	return got, nil
}

// wantErr checks that err is set and says want, when want is not empty.
func wantErr(t *testing.T, args []string, err error, want string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("%q parsed; want an error saying %q", args, want)
	case !strings.Contains(err.Error(), want):
		t.Errorf("%q: error %q, want it to say %q", args, err, want)
	}
}
