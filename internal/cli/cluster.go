package cli

import (
	"context"
	"errors"

	"crew/runner"
)

// TODO(owner of dist): replace this placeholder with the real cluster executor.
//
// newClusterExecutor connects to the NATS server at url and returns an
// executor that runs jobs on crew workers, and a function that releases it.
func newClusterExecutor(ctx context.Context, url string) (runner.Executor, func() error, error) {
	return nil, nil, errors.New("run --server: not built yet")
}
