package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"crew/dist"
	"crew/runner"
)

type workerOptions struct {
	server   string
	jobs     int
	insecure bool
	ackWait  time.Duration
}

func newWorkerCmd(s Streams) *cobra.Command {
	var opts workerOptions
	cmd := &cobra.Command{
		Use:   "worker --server URL",
		Short: "Pull jobs from a broker and run them",
		Long: `crew worker pulls jobs that crew run --server submitted, runs them on this
machine (each in its own process group, with its timeout), stores the result
and only then acknowledges the job. A job whose worker dies is given to
another worker after the ack wait: jobs run at least once, results are
recorded once.

SIGINT or SIGTERM drains: running jobs finish, no new jobs are pulled. A
second signal kills the worker.

Credentials come from CREW_NATS_TOKEN, or CREW_NATS_USER and
CREW_NATS_PASSWORD; CREW_NATS_CA names a CA file for tls:// servers. The
worker refuses a server that is not on this machine when no credentials are
set, unless --insecure: whoever can publish jobs to it runs commands as the
user running this worker.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWorker(cmd.Context(), s, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.server, "server", "", "NATS server URL, e.g. nats://host:4222 (required)")
	f.IntVarP(&opts.jobs, "jobs", "j", 1, "number of jobs to run at once")
	f.BoolVar(&opts.insecure, "insecure", false, "accept a non-loopback server without credentials")
	f.DurationVar(&opts.ackWait, "ack-wait", dist.DefaultAckWait, "redeliver a job whose worker is silent this long (all workers should agree)")
	_ = cmd.MarkFlagRequired("server")
	return cmd
}

func runWorker(ctx context.Context, s Streams, opts workerOptions) error {
	if opts.jobs < 1 {
		return fmt.Errorf("worker: -j must be at least 1, not %d", opts.jobs)
	}
	// Signals stop the pulling only; the running jobs' own process groups
	// do not see the terminal's Ctrl-C, so they are left to finish.
	w := &dist.Worker{
		Config: dist.Config{
			URL: opts.server, Credentials: dist.CredentialsFromEnv(), Insecure: opts.insecure,
			AckWait: opts.ackWait, Name: "crew worker",
		},
		Executor:    runner.Local{},
		Concurrency: opts.jobs,
		Logger:      slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	fmt.Fprintf(s.Err, "crew worker: taking jobs from %s, %d at a time\n", brokerURLHint(opts.server), opts.jobs)
	if err := w.Run(ctx); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	fmt.Fprintln(s.Err, "crew worker: drained, exiting")
	return nil
}
