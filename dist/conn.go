package dist

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Names of what crew keeps on the server. Operators granting permissions
// need them: whoever may publish to JobsSubject runs commands on workers.
const (
	// JobsStream is the work-queue stream holding jobs not yet done.
	JobsStream = "CREW_JOBS"
	// JobsSubject is the subject prefix jobs are published under
	// (JobsSubject + "." + run id).
	JobsSubject = "crew.jobs"
	// WorkersConsumer is the durable pull consumer all workers share.
	WorkersConsumer = "crew-workers"
	// ResultsBucket is the key-value bucket of results, keyed by job id.
	ResultsBucket = "crew-results"
	// OutputBucket is the object store for output and input too large
	// for one message.
	OutputBucket = "crew-output"
	// DeadStream keeps jobs that exhausted their deliveries, under
	// DeadSubject + "." + job id.
	DeadStream = "CREW_DEAD"
	// DeadSubject is the subject prefix of dead-lettered jobs.
	DeadSubject = "crew.dead"
	// CancelSubject is the core NATS subject prefix on which a submitter
	// asks workers to stop a job (CancelSubject + "." + job id).
	CancelSubject = "crew.cancel"
)

// Defaults for Config fields left zero.
const (
	DefaultAckWait    = 30 * time.Second
	DefaultMaxDeliver = 5
	// ResultTTL is how long results and large outputs stay on the server.
	ResultTTL = 24 * time.Hour
)

var (
	// ErrUnreachable reports that the server could not be reached.
	ErrUnreachable = errors.New("dist: server unreachable")
	// ErrInsecure reports a worker asked to take jobs from a server on
	// another machine with no credentials configured.
	ErrInsecure = errors.New("dist: refusing a non-loopback server without credentials (use credentials, or Insecure)")
	// ErrAuthRequired reports a broker asked to listen beyond loopback
	// without a token or user and password.
	ErrAuthRequired = errors.New("dist: listening beyond loopback requires a token or user and password")
	// ErrClosed reports use of a closed Executor.
	ErrClosed = errors.New("dist: executor closed")
	// ErrDead is matched (errors.Is) by a *DeadError.
	ErrDead = errors.New("dist: job gave up after its last delivery")
)

// A DeadError reports a job that was delivered MaxDeliver times without a
// result (its workers died or hung without heartbeats); the job was moved
// to DeadStream.
type DeadError struct {
	Seq    int64
	Reason string
}

func (e *DeadError) Error() string {
	return fmt.Sprintf("dist: job %d dead-lettered: %s", e.Seq, e.Reason)
}

// Unwrap returns ErrDead.
func (e *DeadError) Unwrap() error { return ErrDead }

// A RemoteError is an error a worker met running a job (the job could not
// start there), carried back as text.
type RemoteError struct {
	Host string
	Msg  string
}

func (e *RemoteError) Error() string { return fmt.Sprintf("dist: on %s: %s", e.Host, e.Msg) }

// Credentials authenticate to the server. The zero value sends none.
type Credentials struct {
	Token    string
	User     string
	Password string
	// CAFile is a PEM file of root certificates to trust for tls:// URLs.
	CAFile string
}

// CredentialsFromEnv reads CREW_NATS_TOKEN, CREW_NATS_USER,
// CREW_NATS_PASSWORD and CREW_NATS_CA.
func CredentialsFromEnv() Credentials {
	return Credentials{
		Token:    os.Getenv("CREW_NATS_TOKEN"),
		User:     os.Getenv("CREW_NATS_USER"),
		Password: os.Getenv("CREW_NATS_PASSWORD"),
		CAFile:   os.Getenv("CREW_NATS_CA"),
	}
}

func (c Credentials) empty() bool { return c.Token == "" && c.User == "" }

// Config says where the cluster is and how its queue behaves. The zero
// value of each field but URL has a sensible default.
type Config struct {
	// URL is the server, e.g. nats://127.0.0.1:4222; a comma-separated
	// list names several servers of one cluster.
	URL         string
	Credentials Credentials
	// Insecure lets a worker take jobs from a non-loopback server without
	// credentials.
	Insecure bool
	// AckWait (read by workers) is how long a delivered job may go without a heartbeat
	// before it is given to another worker. Workers heartbeat every
	// AckWait/3. Default DefaultAckWait.
	AckWait time.Duration
	// MaxDeliver (read by workers) is how many times a job is delivered before it is
	// dead-lettered. Default DefaultMaxDeliver.
	MaxDeliver int
	// Name names the connection in the server's monitoring.
	Name string
}

func (c Config) ackWait() time.Duration {
	if c.AckWait > 0 {
		return c.AckWait
	}
	return DefaultAckWait
}

func (c Config) maxDeliver() int {
	if c.MaxDeliver > 0 {
		return c.MaxDeliver
	}
	return DefaultMaxDeliver
}

// hasCredentials reports credentials in the config or inside the URL.
func (c Config) hasCredentials() bool {
	if !c.Credentials.empty() {
		return true
	}
	for _, s := range strings.Split(c.URL, ",") {
		if u, err := url.Parse(strings.TrimSpace(s)); err == nil && u.User != nil {
			return true
		}
	}
	return false
}

// loopbackOnly reports whether every server in the URL list is on this
// machine.
func loopbackOnly(urls string) bool {
	for _, s := range strings.Split(urls, ",") {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err != nil {
			return false
		}
		h := u.Hostname()
		if h == "localhost" {
			continue
		}
		ip := net.ParseIP(h)
		if ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}

func (c Config) natsOptions() []nats.Option {
	opts := []nats.Option{nats.Name(c.Name)}
	cr := c.Credentials
	if cr.Token != "" {
		opts = append(opts, nats.Token(cr.Token))
	}
	if cr.User != "" {
		opts = append(opts, nats.UserInfo(cr.User, cr.Password))
	}
	if cr.CAFile != "" {
		opts = append(opts, nats.RootCAs(cr.CAFile))
	}
	return opts
}

// connect dials once, failing fast when nothing listens.
func (c Config) connect(extra ...nats.Option) (*nats.Conn, error) {
	if c.URL == "" {
		return nil, errors.New("dist: no server URL")
	}
	nc, err := nats.Connect(c.URL, append(c.natsOptions(), extra...)...)
	if err != nil {
		if errors.Is(err, nats.ErrNoServers) || isNetErr(err) {
			return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, c.URL, err)
		}
		return nil, fmt.Errorf("dist: connect %s: %w", c.URL, err)
	}
	return nc, nil
}

func isNetErr(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe)
}

// space holds the server-side objects crew uses.
type space struct {
	js      jetstream.JetStream
	jobs    jetstream.Stream
	results jetstream.KeyValue
	output  jetstream.ObjectStore
}

// setup creates (or finds) the streams and buckets; every side calls it,
// so whichever starts first prepares the server.
func setup(ctx context.Context, nc *nats.Conn) (*space, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("dist: jetstream: %w", err)
	}
	jobs, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:      JobsStream,
		Subjects:  []string{JobsSubject + ".>"},
		Retention: jetstream.WorkQueuePolicy,
		// A full queue refuses new jobs rather than dropping old ones.
		Discard: jetstream.DiscardNew,
		Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("dist: jobs stream: %w", err)
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:     DeadStream,
		Subjects: []string{DeadSubject + ".>"},
		Storage:  jetstream.FileStorage,
		MaxAge:   7 * 24 * time.Hour,
	}); err != nil {
		return nil, fmt.Errorf("dist: dead-letter stream: %w", err)
	}
	results, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: ResultsBucket, TTL: ResultTTL, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("dist: results bucket: %w", err)
	}
	output, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: OutputBucket, TTL: ResultTTL, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("dist: output bucket: %w", err)
	}
	return &space{js: js, jobs: jobs, results: results, output: output}, nil
}
