package cli

import (
	"context"

	"crew/dist"
	"crew/runner"
)

// newClusterExecutor connects to the NATS server at url and returns an
// executor that runs jobs on crew workers, and a function that releases it.
// Credentials come from CREW_NATS_TOKEN, CREW_NATS_USER, CREW_NATS_PASSWORD
// and CREW_NATS_CA, so they stay out of the process list.
func newClusterExecutor(ctx context.Context, url string) (runner.Executor, func() error, error) {
	e, err := dist.NewExecutor(ctx, dist.Config{
		URL: url, Credentials: dist.CredentialsFromEnv(), Name: "crew run",
	})
	if err != nil {
		return nil, nil, err
	}
	return e, e.Close, nil
}
