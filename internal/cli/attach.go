package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"crew/cluster"
)

// serverEnv names the variable that gives the broker's URL to the
// commands that read runs (crew attach, runs, status, cancel, workers)
// when --server is not given.
const serverEnv = "CREW_SERVER"

// attachOptions is what crew attach is asked to do.
type attachOptions struct {
	streams Streams
	server  string
	run     string
}

func newAttachCmd(s Streams, runF func(context.Context, *attachOptions) error) *cobra.Command {
	opts := &attachOptions{streams: s}
	cmd := &cobra.Command{
		Use:   "attach RUN",
		Short: "Show a run's output as crew run would have, and exit with its status",
		Long: `crew attach RUN follows a run kept in the broker (crew run --server, with or
without --detach) and writes its output exactly as the attached crew run
would have: in -k order, with --tag or --tagstring, the same --joblog and
--results, and the same exit status. It waits for the jobs still running or
queued, and runs the ones nobody submitted (a submitter killed mid-run).

Attach as often as you like, from any machine that reaches the broker, also
after the run has finished, until the broker's retention (crew broker
--retention, default 24h) drops it. Ctrl-C leaves the run going on; crew
cancel RUN stops it. A run whose crew run was interrupted, or stopped by
--halt, is cancelled: its jobs not run by then are deleted.

Exit status: the run's (the number of failed jobs, or --halt's); 255 for a
run the broker does not keep (unknown, or past the retention), a cancelled
run, or one whose input was too large to keep (over 64 MiB).`,
		Example: `  id=$(crew run --server nats://127.0.0.1:4222 --detach -k ./render.sh ::: scenes/*)
  crew attach $id --server nats://127.0.0.1:4222 > rendered.txt`,
		Args: exactRunArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.run = args[0]
			if err := needServer(&opts.server); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAttach(cmd.Context(), opts)
		},
	}
	serverFlag(cmd.Flags(), &opts.server)
	return cmd
}

// serverFlag binds --server for the commands that read runs.
func serverFlag(f *pflag.FlagSet, v *string) {
	f.StringVar(v, "server", "", "the broker's URL, e.g. nats://host:4222 (default $"+serverEnv+")")
}

// needServer fills in the server from the environment, or says it is
// missing.
func needServer(v *string) error {
	if *v == "" {
		*v = os.Getenv(serverEnv)
	}
	if *v == "" {
		return &userError{msg: "no broker given: pass --server URL or set " + serverEnv}
	}
	return nil
}

// exactRunArg wants one run id.
func exactRunArg(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return &userError{msg: fmt.Sprintf("want one run id (crew runs lists them), got %d arguments", len(args))}
	}
	return nil
}

func runAttach(ctx context.Context, opts *attachOptions) error {
	c, err := dialServer(ctx, opts.server)
	if err != nil {
		return err
	}
	defer c.Close()
	raw, err := c.Spec(ctx, opts.run)
	if err != nil {
		return runError(opts.run, err)
	}
	if info, err := c.Run(ctx, opts.run); err != nil {
		return runError(opts.run, err)
	} else if info.State == cluster.RunCancelled {
		return runError(opts.run, cluster.ErrRunCancelled)
	}
	spec, err := decodeSpec(raw)
	if err != nil {
		return fmt.Errorf("attach %s: %w", opts.run, err)
	}
	ro, err := replayRun(ctx, opts.streams, spec)
	if err != nil {
		return fmt.Errorf("attach %s: %w", opts.run, err)
	}
	ro.server = opts.server
	cfg := ro.config()
	if cfg.Inputs, err = keptInputs(ro, spec); err != nil {
		return fmt.Errorf("attach %s: %w", opts.run, err)
	}
	e, err := openClusterExecutor(ctx, opts.server, ro.termSeq, opts.streams.Err, func(c *cluster.ExecutorConfig) {
		c.Attach = opts.run
		c.Name = "crew attach"
		ro.route(c, opts.streams.Err)
	})
	if err != nil {
		return runError(opts.run, err)
	}
	defer e.Close()
	return follow(ctx, ro, cfg, e, true)
}

// dialServer connects to the broker for the commands that read runs.
func dialServer(ctx context.Context, url string) (*cluster.Client, error) {
	return cluster.Dial(ctx, cluster.ConnConfig{URL: url, Credentials: cluster.CredentialsFromEnv(), Name: "crew"})
}

// runError words the errors about a run id for the user.
func runError(id string, err error) error {
	switch {
	case errors.Is(err, cluster.ErrNoRun):
		return &userError{msg: fmt.Sprintf("no run %s in the broker: unknown, or older than its retention (crew runs lists the runs it keeps)", id), err: err}
	case errors.Is(err, cluster.ErrRunCancelled):
		return &userError{msg: fmt.Sprintf("run %s was cancelled (crew status %s shows its jobs)", id, id), err: err}
	case errors.Is(err, cluster.ErrRunFinished):
		return &userError{msg: fmt.Sprintf("run %s has finished; nothing to cancel", id), err: err}
	case errors.Is(err, cluster.ErrNoSpec):
		return &userError{msg: fmt.Sprintf("run %s cannot be attached to: its input was too large to keep in the broker (over 64 MiB)", id), err: err}
	}
	return err
}
