package cli

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "60", want: time.Minute},
		{in: "1.5", want: 1500 * time.Millisecond},
		{in: "0", want: 0},
		{in: ".25", want: 250 * time.Millisecond},
		{in: "-2", want: -2 * time.Second},
		{in: "200ms", want: 200 * time.Millisecond},
		{in: "1m30s", want: 90 * time.Second},
		{in: "2h", want: 2 * time.Hour},
		{in: "-1s", want: -time.Second},
		{in: "", bad: true},
		{in: "soon", bad: true},
		{in: "1x", bad: true},
		{in: "NaN", bad: true},
		{in: "Inf", bad: true},
		{in: "1e10", bad: true},
	} {
		got, err := parseDuration(c.in)
		switch {
		case c.bad && err == nil:
			t.Errorf("parseDuration(%q) = %v, want an error", c.in, got)
		case c.bad && !strings.Contains(err.Error(), "want seconds, or a duration like 1m30s"):
			t.Errorf("parseDuration(%q): error %q does not say what it wants", c.in, err)
		case !c.bad && (err != nil || got != c.want):
			t.Errorf("parseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

// TestDurationFlags checks that every duration flag of every command takes
// a bare number as seconds and a number with a unit as a Go duration, the
// same way: "crew sem --timeout 60" and "crew worker --ack-wait 30" once
// failed with "missing unit" where "crew run --timeout 60" worked.
func TestDurationFlags(t *testing.T) {
	for _, c := range []struct {
		flag       string
		bare, unit string
		want       time.Duration
		parse      func(t *testing.T, v string) (time.Duration, error)
	}{
		{"crew run --timeout", "60", "1m", time.Minute,
			durationOf(newRunCmd, func(o *runOptions) time.Duration { return o.timeout }, "--timeout", "", "true")},
		{"crew run --delay", "0.5", "500ms", 500 * time.Millisecond,
			durationOf(newRunCmd, func(o *runOptions) time.Duration { return o.delay }, "--delay", "", "true")},
		{"crew sem --timeout", "60", "1m", time.Minute,
			durationOf(newSemCmd, func(o *semOptions) time.Duration { return o.timeout }, "--timeout", "", "--", "true")},
		{"crew worker --ack-wait", "30", "30s", 30 * time.Second,
			durationOf(newWorkerCmd, func(o *workerOptions) time.Duration { return o.ackWait }, "--server", "nats://127.0.0.1:4222", "--ack-wait", "")},
		{"crew broker --sync", "1.5", "1500ms", 1500 * time.Millisecond,
			durationOf(newBrokerCmd, func(o *brokerOptions) time.Duration { return o.syncInterval }, "--sync", "")},
	} {
		for _, v := range []string{c.bare, c.unit} {
			got, err := c.parse(t, v)
			if err != nil || got != c.want {
				t.Errorf("%s %s = %v, %v; want %v", c.flag, v, got, err, c.want)
			}
		}
	}
}

// durationOf returns a function that parses args, with its empty argument
// replaced by a value, and picks a duration out of the options.
func durationOf[O any](newCmd func(Streams, func(context.Context, *O) error) *cobra.Command, pick func(*O) time.Duration, args ...string) func(*testing.T, string) (time.Duration, error) {
	return func(t *testing.T, v string) (time.Duration, error) {
		a := slices.Clone(args)
		a[slices.Index(a, "")] = v
		o, err := parseCmd(t, newCmd, a...)
		if err != nil {
			return 0, err
		}
		return pick(o), nil
	}
}

// TestEveryDurationFlag walks every command's flags: a flag that holds a
// duration must use crew's own value type, not pflag's Duration, which
// refuses a bare number.
func TestEveryDurationFlag(t *testing.T) {
	root := newRootCmd(Streams{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	var walk func(c *cobra.Command)
	seen := 0
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			switch f.Value.(type) {
			case durationValue, timeoutValue, syncValue:
				seen++
				return
			}
			if strings.Contains(f.Value.Type(), "duration") {
				t.Errorf("crew %s --%s is a %T, not crew's durationValue", c.Name(), f.Name, f.Value)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if seen < 5 {
		t.Errorf("found %d duration flags, want at least 5 (run --timeout, --delay, sem --timeout, worker --ack-wait, broker --sync)", seen)
	}
}
