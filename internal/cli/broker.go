package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"crew/cluster"
)

// brokerOptions is what crew broker is asked to do.
type brokerOptions struct {
	streams Streams
	store   string
	listen  string
	// syncAlways and syncInterval are --sync: "always", or how often
	// JetStream syncs its store (zero: its own default).
	syncAlways   bool
	syncInterval time.Duration
	token        string
	user         string
	password     string
	tlsCert      string
	tlsKey       string
	urlFile      string
	metricsAddr  string
	retention    time.Duration
	httpAddr     string
}

func newBrokerCmd(s Streams, runF func(context.Context, *brokerOptions) error) *cobra.Command {
	opts := &brokerOptions{streams: s}
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Start an embedded NATS JetStream broker for distributed runs",
		Long: `crew broker starts an embedded NATS server with JetStream persisted under
--store, prints the URL it listens on, and runs until SIGINT or SIGTERM.
Workers (crew worker --server URL) and runs (crew run --server URL ...)
connect to it. A production deployment may use its own NATS cluster instead.

The broker listens on loopback by default. Listening on any other address
requires a token, or a user and password; add --tls-cert and --tls-key to
encrypt. Anyone who can publish jobs to the broker runs commands as the
workers' user.

Give secrets in CREW_NATS_TOKEN, or CREW_NATS_USER and CREW_NATS_PASSWORD,
rather than --token and --password: flags are visible to every user in the
process list (ps), the environment is not. Flags win over the environment.

--metrics-addr serves Prometheus metrics at /metrics: the cluster's jobs
started, succeeded, failed, retried and dead-lettered, their run times, the
queue's depth. A host-less address (:9100) listens on loopback; another host
needs the broker's token or user and password, which every scrape must then
present (bearer token or basic auth), and is served over TLS with
--tls-cert/--tls-key.

--http serves a live dashboard: the runs, the workers and the queue, each
run's jobs and a timeline of which worker ran what, and a button to cancel a
run. It follows the same rules as --metrics-addr (loopback unless the broker
has credentials, which the browser then asks for: any user name and the token
as the password, or the broker's user and password) and serves /metrics too.

JetStream syncs its store to disk every 2 minutes by default: a killed broker
loses nothing, a power loss may lose jobs accepted since the last sync.
--sync always syncs every write before accepting it, at a cost in throughput.

Runs live in the broker: their jobs, results and output stay for --retention
(default 24h) after they were written, whether or not a submitter reads them,
so crew attach, crew runs and crew status work after the submitter is gone.
A restart with another --retention applies it to what is kept already.`,
		Example: `  # Three terminals on one machine: a broker, a worker, a run.
  crew broker --store ~/.crew/store
  crew worker --server nats://127.0.0.1:4222 -j 4
  crew run --server nats://127.0.0.1:4222 gzip {} ::: *.log

  # A broker with its dashboard at http://127.0.0.1:8222 and Prometheus
  # metrics at http://127.0.0.1:9100/metrics.
  crew broker --store ~/.crew/store --http 127.0.0.1:8222 --metrics-addr :9100

  # A broker other machines can reach, with the token kept out of ps.
  CREW_NATS_TOKEN=s3cret crew broker --listen 0.0.0.0:4222 --store ~/.crew/store`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.retention <= 0 {
				return &userError{msg: fmt.Sprintf("--retention must be positive, not %v", opts.retention)}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runBroker(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.store, "store", "", "JetStream store directory (default: a temporary directory, removed on exit)")
	f.StringVar(&opts.listen, "listen", "127.0.0.1:4222", "host:port to listen on; port 0 picks a free port")
	f.Var(syncValue{durationValue{&opts.syncInterval}, &opts.syncAlways}, "sync", `"always" to sync every write to disk, or a sync interval such as 1s (default 2m)`)
	f.StringVar(&opts.token, "token", "", "token clients must present (default $CREW_NATS_TOKEN, which keeps it out of ps)")
	f.StringVar(&opts.user, "user", "", "user name clients must present, with a password (default $CREW_NATS_USER)")
	f.StringVar(&opts.password, "password", "", "password clients must present, with --user (default $CREW_NATS_PASSWORD, which keeps it out of ps)")
	f.StringVar(&opts.tlsCert, "tls-cert", "", "TLS certificate file (with --tls-key)")
	f.StringVar(&opts.tlsKey, "tls-key", "", "TLS key file (with --tls-cert)")
	f.StringVar(&opts.urlFile, "url-file", "", "also write the URL to this file once listening (for scripts)")
	durationVarP(f, &opts.retention, "retention", "", cluster.DefaultRetention, "keep runs, their results and output this long (crew runs, crew attach); applies to runs already kept too")
	f.StringVar(&opts.httpAddr, "http", "", "serve the dashboard at http://ADDR/ (host:port; :8222 is loopback's)")
	f.StringVar(&opts.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (host:port; :9100 is loopback's)")
	return cmd
}

func runBroker(ctx context.Context, opts *brokerOptions) error {
	s := opts.streams
	env := cluster.CredentialsFromEnv()
	if opts.token == "" && opts.user == "" {
		opts.token, opts.user = env.Token, env.User
	}
	if opts.password == "" && opts.user != "" && opts.user == env.User {
		opts.password = env.Password
	}
	cfg := cluster.BrokerConfig{
		StoreDir: opts.store, Listen: opts.listen,
		Token: opts.token, User: opts.user, Password: opts.password,
		TLSCert: opts.tlsCert, TLSKey: opts.tlsKey,
		SyncAlways: opts.syncAlways, SyncInterval: opts.syncInterval,
		MetricsAddr: opts.metricsAddr, HTTPAddr: opts.httpAddr,
		Retention: opts.retention,
	}
	b, err := cluster.StartBroker(cfg)
	if err != nil {
		return fmt.Errorf("broker: %w", httpError(err))
	}
	defer b.Close()
	fmt.Fprintln(s.Out, b.URL())
	if u := b.MetricsURL(); u != "" {
		fmt.Fprintf(s.Err, "crew broker: metrics at %s\n", u)
	}
	if u := b.DashboardURL(); u != "" {
		fmt.Fprintf(s.Err, "crew broker: dashboard at %s\n", u)
	}
	if b.ListensEverywhere() {
		host, _ := os.Hostname()
		if u, err := url.Parse(b.URL()); err == nil {
			fmt.Fprintf(s.Err, "crew broker: listening on every interface; other machines dial this one by name or address, e.g. %s://%s\n",
				u.Scheme, net.JoinHostPort(host, u.Port()))
		}
	}
	if opts.urlFile != "" {
		// Written whole under a temporary name so a reader never sees half.
		tmp := opts.urlFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(b.URL()+"\n"), 0o644); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
		if err := os.Rename(tmp, opts.urlFile); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
	}
	<-ctx.Done()
	fmt.Fprintln(s.Err, "crew broker: shutting down")
	return nil
}

// brokerURLHint keeps error messages short when several URLs are given.
func brokerURLHint(url string) string {
	if i := strings.IndexByte(url, ','); i >= 0 {
		return url[:i] + ",..."
	}
	return url
}

// httpError words the HTTP servers' (metrics, dashboard) start failures
// for the user: which flag's address, and what to do.
func httpError(err error) error {
	switch {
	case errors.Is(err, cluster.ErrAddrInUse):
		return &userError{err: err, msg: err.Error() + "; another program listens there: pick another port"}
	}
	return err
}
