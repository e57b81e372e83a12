package cli

// What crew run does differently with --server: the executor it builds,
// and the flags it refuses because they cannot work when the jobs run on
// workers. Every other flag of crew run works the same with --server
// (remote_test.go runs each both ways).

import (
	"context"
	"fmt"
	"io"
	"os"

	"crew/cluster"
	"crew/runner"
)

// defaultInFlight is how many jobs crew run --server keeps submitted at
// once when not told (-j): enough to keep a few dozen worker slots busy
// and to let short jobs travel in batches. Each worker's own -j bounds
// what runs on it.
const defaultInFlight = 256

// reconnectWindowEnv names the variable that bounds how long crew run
// waits for a lost server before failing the outstanding jobs.
const reconnectWindowEnv = "CREW_NATS_RECONNECT_WINDOW"

// openClusterExecutor connects to the NATS server at url and returns an
// executor for a run there, configured further by tune when set.
// Credentials come from CREW_NATS_TOKEN, CREW_NATS_USER,
// CREW_NATS_PASSWORD and CREW_NATS_CA, so they stay out of the process
// list. Connection trouble (lost, regained) is reported on errOut.
func openClusterExecutor(ctx context.Context, url string, termSeq []runner.TermStep, errOut io.Writer, tune func(*cluster.ExecutorConfig)) (*cluster.Executor, error) {
	window := cluster.DefaultReconnectWindow
	if v := os.Getenv(reconnectWindowEnv); v != "" {
		// Read as crew's duration flags are: "30" is seconds.
		d, err := parseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%s wants a positive duration such as 30s, not %q", reconnectWindowEnv, v)
		}
		window = d
	}
	cfg := cluster.ExecutorConfig{
		ConnConfig:      cluster.ConnConfig{URL: url, Credentials: cluster.CredentialsFromEnv(), Name: "crew run"},
		ReconnectWindow: window,
		TermSeq:         termSeq,
		OnConnection: func(lost bool, u string) {
			if lost {
				fmt.Fprintf(errOut, "crew: lost the server at %s; reconnecting (jobs fail if it is not back within %v, see %s)\n", u, window, reconnectWindowEnv)
			} else {
				fmt.Fprintf(errOut, "crew: reconnected to the server at %s\n", u)
			}
		},
	}
	if tune != nil {
		tune(&cfg)
	}
	return cluster.NewExecutor(ctx, cfg)
}

// checkRemote refuses, naming the flag, what a run whose jobs run on
// workers cannot do: hold jobs back by this machine's load or memory
// (the jobs do not run here), space the jobs' starts (a worker starts a
// job when it has a slot free), or write output while a job runs (a
// worker sends a job's output when the job ends).
// mode is "--server" or "-S", for the message.
func checkRemote(c *runner.Config, mode string) error {
	refuse := func(flag, why string) error {
		return &userError{msg: fmt.Sprintf("%s cannot be used with %s: %s", flag, mode, why)}
	}
	switch {
	case c.MaxLoad > 0:
		return refuse("--load", "it holds jobs back by this machine's load, and the jobs run on the workers")
	case c.MemFree > 0:
		return refuse("--memfree", "it holds jobs back by this machine's free memory, and the jobs run on the workers")
	case c.Delay > 0:
		return refuse("--delay", "each worker starts a job as soon as it has a slot free, so crew cannot space the starts")
	case c.Output == runner.LineBuffer:
		return refuse("--line-buffer", "a worker sends a job's output when the job ends, not line by line")
	case c.Output == runner.Ungroup:
		return refuse("-u/--ungroup", "a worker sends a job's output when the job ends, not as it comes")
	case c.Pipe != nil && c.Pipe.RoundRobin && c.Pipe.Part == "":
		return refuse("--round-robin", "it streams blocks into jobs that run for the whole run, and a worker's job gets its standard input whole when it starts")
	case c.Pipe != nil && c.Pipe.Cat:
		return refuse("--cat", "the block's file would be on this machine, not on the worker; --pipe sends the block as the job's standard input")
	case c.Pipe != nil && c.Pipe.Fifo:
		return refuse("--fifo", "the named pipe would be on this machine, not on the worker; --pipe sends the block as the job's standard input")
	}
	return nil
}
