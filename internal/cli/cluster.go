package cli

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

// newClusterExecutor connects to the NATS server at url and returns an
// executor that runs jobs on crew workers, and a function that releases it.
// Credentials come from CREW_NATS_TOKEN, CREW_NATS_USER, CREW_NATS_PASSWORD
// and CREW_NATS_CA, so they stay out of the process list. Connection
// trouble (lost, regained) is reported on errOut.
func newClusterExecutor(ctx context.Context, url string, errOut io.Writer) (runner.Executor, func() error, error) {
	window := cluster.DefaultReconnectWindow
	if v := os.Getenv(reconnectWindowEnv); v != "" {
		// Read as crew's duration flags are: "30" is seconds.
		d, err := parseDuration(v)
		if err != nil || d <= 0 {
			return nil, nil, fmt.Errorf("%s wants a positive duration such as 30s, not %q", reconnectWindowEnv, v)
		}
		window = d
	}
	e, err := cluster.NewExecutor(ctx, cluster.ExecutorConfig{
		ConnConfig:      cluster.ConnConfig{URL: url, Credentials: cluster.CredentialsFromEnv(), Name: "crew run"},
		ReconnectWindow: window,
		OnConnection: func(lost bool, u string) {
			if lost {
				fmt.Fprintf(errOut, "crew: lost the server at %s; reconnecting (jobs fail if it is not back within %v, see %s)\n", u, window, reconnectWindowEnv)
			} else {
				fmt.Fprintf(errOut, "crew: reconnected to the server at %s\n", u)
			}
		},
	})
	if err != nil {
		return nil, nil, err
	}
	return e, e.Close, nil
}
