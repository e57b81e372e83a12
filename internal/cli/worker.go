package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"crew/cluster"
	"crew/runner"
)

// workerOptions is what crew worker is asked to do.
type workerOptions struct {
	streams  Streams
	server   string
	jobs     int
	insecure bool
	ackWait  time.Duration
	maxRuns  int
	metrics  cluster.HTTPConfig // Addr and TLS from flags; credentials the worker's own
	// ssh is --ssh: serve crew run -S's session on stdin (hidden; crew
	// run -S starts it on each host).
	ssh bool
	// tagLists are the --tag values as given; tags the worker's tags,
	// canonical (cluster.ParseTags).
	tagLists, tags []string
}

func newWorkerCmd(s Streams, runF func(context.Context, *workerOptions) error) *cobra.Command {
	opts := &workerOptions{streams: s}
	cmd := &cobra.Command{
		Use:   "worker --server URL",
		Short: "Pull jobs from a broker and run them",
		Long: `crew worker pulls jobs that crew run --server submitted, runs them on this
machine (each in its own process group, with its timeout), stores the result
and only then acknowledges the job. A job whose worker dies is given to
another worker after the ack wait: jobs run at least once, results are
recorded once.

SIGINT or SIGTERM drains: running jobs finish, no new jobs are pulled. A
second signal kills the worker at once, with its running jobs; the server
gives those jobs to another worker after the ack wait.

Credentials come from CREW_NATS_TOKEN, or CREW_NATS_USER and
CREW_NATS_PASSWORD; CREW_NATS_CA names a CA file for tls:// servers. The
worker refuses a server that is not on this machine when no credentials are
set, unless --insecure: whoever can publish jobs to it runs commands as the
user running this worker. A server that refuses the credentials stops the
worker with an error; an unreachable one is retried until it answers.

A job that ran --max-runs times without a result (it kills its worker, say)
is moved to the dead letters and reported failed; a job that was only held,
not started, by a worker that died does not count a run.

--metrics-addr serves this worker's Prometheus metrics at /metrics: its jobs
started, succeeded, failed, retried and dead-lettered, their run times, its
busy slots. A host-less address (:9101) listens on loopback; another host
needs the worker's credentials (CREW_NATS_TOKEN, or CREW_NATS_USER and
CREW_NATS_PASSWORD), which every scrape must then present, and may be served
over TLS with --metrics-tls-cert/--metrics-tls-key.

All workers share one queue consumer, whose settings (--ack-wait,
--max-runs) are those of the worker that created it: a worker started with
other values uses the existing ones and says so.`,
		Example: `  # Three terminals on one machine: a broker, a worker, a run.
  crew broker --store ~/.crew/store
  crew worker --server nats://127.0.0.1:4222 -j 4
  crew run --server nats://127.0.0.1:4222 gzip {} ::: *.log

  # A worker on another machine, with the broker's token kept out of ps.
  CREW_NATS_TOKEN=s3cret crew worker --server nats://buildhost:4222 -j 8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.ssh {
				return runSSHWorker(cmd.Context(), opts)
			}
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runWorker(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.server, "server", "", "NATS server URL, e.g. nats://host:4222 (required)")
	f.IntVarP(&opts.jobs, "jobs", "j", 1, "number of jobs to run at once")
	f.BoolVar(&opts.insecure, "insecure", false, "accept a non-loopback server without credentials")
	f.StringArrayVar(&opts.tagLists, "tag", nil, "label this worker, e.g. gpu,bigmem: it also runs the jobs of runs that --require tags it all has")
	durationVarP(f, &opts.ackWait, "ack-wait", "", cluster.DefaultAckWait, "redeliver a job whose worker is silent this long (seconds, or a duration like 1m); only the first worker's value counts")
	f.IntVar(&opts.maxRuns, "max-runs", cluster.DefaultMaxRuns, "dead-letter a job that ran this many times without a result; only the first worker's value counts")
	f.StringVar(&opts.metrics.Addr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (host:port; :9101 is loopback's)")
	f.StringVar(&opts.metrics.TLSCert, "metrics-tls-cert", "", "TLS certificate for the metrics address (with --metrics-tls-key)")
	f.StringVar(&opts.metrics.TLSKey, "metrics-tls-key", "", "TLS key for the metrics address (with --metrics-tls-cert)")
	f.BoolVar(&opts.ssh, "ssh", false, "serve an SSH session of crew run -S (started by crew run itself)")
	_ = f.MarkHidden("ssh")
	return cmd
}

func (o *workerOptions) validate() error {
	if o.server == "" {
		return errors.New(`required flag(s) "server" not set`)
	}
	if o.jobs < 1 {
		return fmt.Errorf("worker: -j must be at least 1, not %d", o.jobs)
	}
	if o.ackWait <= 0 {
		return fmt.Errorf("worker: --ack-wait must be positive, not %v", o.ackWait)
	}
	if o.maxRuns < 1 {
		return fmt.Errorf("worker: --max-runs must be at least 1, not %d", o.maxRuns)
	}
	if o.tagLists != nil {
		tags, err := cluster.ParseTags(o.tagLists)
		if err != nil {
			return fmt.Errorf("worker: --tag: %s", strings.TrimPrefix(err.Error(), "cluster: "))
		}
		o.tags = tags
	}
	return nil
}

func runWorker(ctx context.Context, opts *workerOptions) error {
	s := opts.streams
	// The first SIGINT or SIGTERM cancels ctx, which drains: no more
	// pulls, running jobs finish. The running jobs' own process groups do
	// not see the terminal's Ctrl-C, so they are left to finish; a second
	// signal is the user's way to stop waiting for them.
	defer killOnSecondSignal()()
	cr := cluster.CredentialsFromEnv()
	scrubJobEnv()
	metrics := opts.metrics
	metrics.Token, metrics.User, metrics.Password = cr.Token, cr.User, cr.Password
	w, err := cluster.NewWorker(cluster.WorkerConfig{
		ConnConfig: cluster.ConnConfig{URL: opts.server, Credentials: cr, Name: "crew worker"},
		Metrics:    metrics,
		Insecure:   opts.insecure, AckWait: opts.ackWait, MaxRuns: opts.maxRuns,
		Executor:    runner.Local{},
		Version:     workerVersion(),
		Tags:        opts.tags,
		Concurrency: opts.jobs,
		Logger:      slog.New(slog.NewTextHandler(s.Err, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		if errors.Is(err, cluster.ErrInsecure) {
			return &userError{err: err, msg: fmt.Sprintf("worker: refusing %s without credentials: it is not on this machine, and whoever can publish jobs to it would run commands here; set CREW_NATS_TOKEN, or CREW_NATS_USER and CREW_NATS_PASSWORD, or pass --insecure",
				cluster.Redact(brokerURLHint(opts.server)))}
		}
		return fmt.Errorf("worker: %w", httpError(err))
	}
	fmt.Fprintf(s.Err, "crew worker: taking jobs from %s, %d at a time\n", cluster.Redact(brokerURLHint(opts.server)), opts.jobs)
	if err := w.Run(ctx); err != nil {
		return fmt.Errorf("worker: %w", httpError(err))
	}
	fmt.Fprintln(s.Err, "crew worker: drained, exiting")
	return nil
}

// runSSHWorker is the far side of crew run -S: the session's stdin
// carries the run's settings and token, and its end stops the worker and
// its jobs (cluster.ServeSSHWorker). Warnings go to stderr, which crew run
// keeps for its messages about the host.
func runSSHWorker(ctx context.Context, opts *workerOptions) error {
	scrubJobEnv()
	log := slog.New(slog.NewTextHandler(opts.streams.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := cluster.ServeSSHWorker(ctx, opts.streams.In, opts.streams.Out, log, runner.Local{}); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}
