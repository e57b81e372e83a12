package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"crew/internal/backoff"
	"crew/runner"
)

// WorkerConfig configures a Worker. Only URL and Executor are required;
// every other field has a default.
type WorkerConfig struct {
	ConnConfig
	// Executor runs each job, normally a runner.Local. A runner.Local
	// stops each job (cancelled, or past its timeout) along the
	// termination sequence the job's submitter asked for; any other
	// Executor stops jobs its own way.
	Executor runner.Executor
	// Concurrency is how many jobs run at once; default 1.
	Concurrency int
	// Prefetch is how many jobs beyond Concurrency the worker holds while
	// its jobs are short; 0 means DefaultPrefetch, and a negative value
	// turns prefetching off.
	Prefetch int
	// Host names this worker in results (the joblog's Host column);
	// default the machine's host name.
	Host string
	// Logger receives connection trouble and dropped jobs; default
	// slog.Default().
	Logger *slog.Logger
	// Insecure lets the worker take jobs from a server on another machine
	// without credentials.
	Insecure bool
	// Metrics, when its Addr is set, is where Run serves the worker's
	// Prometheus metrics (/metrics); see HTTPConfig for who may read
	// them. MetricsHandler serves the same without an address.
	Metrics HTTPConfig
	// Version and Tags are shown by crew workers (Client.Workers): the
	// worker's crew version, and the labels it advertises. The worker
	// runs the jobs of runs that require no tags and of those whose
	// required tags it all has (crew worker --tag, crew run --require).
	// Each tag is letters, digits, '-' and '_' (see ParseTags).
	Version string
	Tags    []string

	// AckWait and MaxRuns are settings of the consumer all workers
	// share, and only the worker that creates it sets them; later workers
	// use the consumer's (see Worker.Run).

	// AckWait is how long a delivered job may go without a heartbeat
	// before it is given to another worker. Default DefaultAckWait;
	// negative is an error.
	AckWait time.Duration
	// MaxRuns is how many times a job may run without a result before it
	// is dead-lettered. A job counts a run when its first delivery
	// reaches a worker and, after that, only when a worker starts it:
	// jobs a dying worker held without starting them come back with no
	// run counted. Default DefaultMaxRuns; negative is an error.
	MaxRuns int

	// ephemeral says the broker ends with the worker's run (the workers
	// of an SSH run, on the hosts and for ":"). When Run's context ends,
	// the worker leaves its open pull request at once instead of waiting
	// up to pullWait for it to expire: a job the server then delivers to
	// the abandoned request would wait out AckWait on a lasting broker,
	// and on this one has no one to wait for. And the shared consumer,
	// if this worker creates it, keeps its state in memory, which nobody
	// reads after the run: the broker's Close then need not wait for its
	// store's flusher.
	ephemeral bool
}

// Defaults of WorkerConfig's settings of the shared consumer.
const (
	// DefaultAckWait is WorkerConfig.AckWait's default.
	DefaultAckWait = 30 * time.Second
	// DefaultMaxRuns is WorkerConfig.MaxRuns's default.
	DefaultMaxRuns = 5
)

func (c *WorkerConfig) ackWait() time.Duration {
	if c.AckWait > 0 {
		return c.AckWait
	}
	return DefaultAckWait
}

func (c *WorkerConfig) maxRuns() int {
	if c.MaxRuns > 0 {
		return c.MaxRuns
	}
	return DefaultMaxRuns
}

// PrefetchBelow is the run time under which a job counts as short: a
// worker prefetches only after short jobs, and hands its prefetched jobs
// back to the queue once a running job reaches it.
const PrefetchBelow = time.Second

// DefaultPrefetch is WorkerConfig.Prefetch's default. One prefetched job
// is not enough on a busy machine: the pull of the next job often takes
// longer than a short job runs.
const DefaultPrefetch = 4

// pullWait is how long one pull request waits for jobs before the
// worker sends another (and looks at its room again). A variable for the
// tests.
var pullWait = time.Second

// Timings of a worker's talks with the server.
const (
	// setupTimeout bounds one attempt to set up the streams, buckets and
	// the shared consumer.
	setupTimeout = 10 * time.Second
)

// A Worker pulls jobs from the cluster, runs them with its Executor,
// stores each result and only then acknowledges the job.
//
// Create one with NewWorker and call Run once; the zero value is not
// usable, and a Worker must not be copied.
//
// A worker runs at most Concurrency jobs at a time, each on one of
// Concurrency long-lived goroutines; the jobs of a batch (see Executor)
// spread over them, and the batch's results are stored, and the batch
// acknowledged, when its last job ends; one more goroutine heartbeats every
// job the worker holds (InProgress every third of the shared consumer's
// AckWait), so the server does
// not give a held job to another worker; if the worker dies, its jobs are
// redelivered after AckWait. Results are published asynchronously and the
// job is acknowledged when the server confirms the result, so a job costs
// no goroutine of its own beyond what the Executor spends (while
// prefetching, one timer that notices a long job).
//
// While its jobs are short (the last one ran under PrefetchBelow), a
// worker also holds up to Prefetch jobs beyond Concurrency, ready to start
// the moment a slot frees: the pull round trip then hides behind the
// running job. A prefetched job is heartbeated like a running one, so it
// is not redelivered. It waits for a slot on this worker even if another
// worker is idle, but not for long: once a running job reaches
// PrefetchBelow, the worker hands its prefetched jobs back to the queue
// (a Nak, which counts as a delivery) and prefetches no more until a
// short job ends. The jobs of a batch it has started cannot go back that
// way; those still waiting for a slot are queued again each as a message
// of its own, with its own key, and the batch's stored result marks them
// moved.
type Worker struct {
	cfg      WorkerConfig // defaults filled in
	log      *slog.Logger
	prefetch int // jobs held beyond the slots while jobs are short
	slots    int // jobs run at once

	sp    *space
	cons  jetstream.Consumer
	rjs   jetstream.JetStream // publishes results; its callbacks ack jobs
	maxIn int
	ready chan task
	wake  chan struct{} // a slot freed or a long job ended
	held  atomic.Int64  // jobs received and not yet past their process
	// lastBatch is the size of the last message's batch: pulls ask for
	// messages, room is counted in jobs.
	lastBatch atomic.Int64
	lastLong  atomic.Bool // the last job ran PrefetchBelow or longer
	draining  atomic.Bool
	// Pull loops: how many run (one, or with tags one per consumer), and
	// the jobs their open pulls may bring.
	pulls    atomic.Int64
	reserved atomic.Int64
	unended  sync.WaitGroup // entries held and not yet finished
	// The shared consumer's own settings, which may differ from cfg's:
	// the first worker's settings rule (see Run).
	consumerAckWait  atomic.Int64 // a time.Duration
	serverMaxDeliver atomic.Int64 // the server's limit on deliveries; -1 for none
	runLimit         atomic.Int64 // the workers' limit on runs; 0 when the server's rules
	warnedSettings   atomic.Bool

	metrics *workerMetrics
	reg     registry // what crew workers shows of this worker

	files fileCache // base files of jobs (transfer.go)

	mu      sync.Mutex
	entries map[*entry]struct{}  // every held job, heartbeated
	storing map[*nats.Msg]*entry // results awaiting the server's ack
}

// NewWorker checks cfg and returns a Worker that Run starts. It refuses
// a config without Executor, a bad URL (ErrBadURL), a negative AckWait
// or MaxRuns, and (ErrInsecure) a server that is not on this machine
// when no credentials are configured and Insecure is unset: anyone who
// can publish to such a server would run commands as this worker's user.
// A Metrics config that HTTPConfig's rules refuse is an error too. It
// does not connect or listen.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.Executor == nil {
		return nil, errors.New("cluster: worker has no executor")
	}
	if err := checkURL(cfg.URL); err != nil {
		return nil, err
	}
	if cfg.AckWait < 0 {
		return nil, fmt.Errorf("cluster: ack wait %v: must be positive", cfg.AckWait)
	}
	if cfg.MaxRuns < 0 {
		return nil, fmt.Errorf("cluster: max runs %d: must be positive", cfg.MaxRuns)
	}
	tags, err := canonicalTags(cfg.Tags)
	if err != nil {
		return nil, err
	}
	cfg.Tags = tags
	if !loopbackOnly(cfg.URL) && !cfg.hasCredentials() && !cfg.Insecure {
		return nil, fmt.Errorf("%w: %s", ErrInsecure, Redact(cfg.URL))
	}
	if cfg.Metrics.Addr != "" {
		if err := cfg.Metrics.check("metrics"); err != nil {
			return nil, err
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Host == "" {
		cfg.Host, _ = os.Hostname()
	}
	w := &Worker{cfg: cfg, log: cfg.Logger, slots: max(cfg.Concurrency, 1)}
	switch {
	case cfg.Prefetch == 0:
		w.prefetch = DefaultPrefetch
	case cfg.Prefetch > 0:
		w.prefetch = cfg.Prefetch
	}
	w.metrics = newWorkerMetrics(w)
	return w, nil
}

// Run connects and runs jobs until ctx is cancelled, then drains: it pulls
// no more jobs, hands back the prefetched ones, lets the running ones
// finish and store their results, and returns nil. While the server cannot
// be reached, Run retries with back-off (up to 30 s between tries) and
// logs each failure. Run returns ErrUnauthorized at once when the server
// refuses the credentials.
//
// All workers share one consumer, and its settings are the first
// worker's: a worker whose AckWait or MaxRuns differ from the existing
// consumer's uses the consumer as it is and logs a warning, because
// changing it would change the deal for every worker (a job heartbeated
// for a longer wait would be redelivered while it runs). Heartbeats
// follow the consumer's AckWait, not WorkerConfig's. To change the
// settings, stop all workers and delete the consumer (nats consumer rm
// CREW_JOBS crew-workers).
func (w *Worker) Run(ctx context.Context) error {
	n, prefetch := w.slots, w.prefetch
	w.entries = map[*entry]struct{}{}
	w.storing = map[*nats.Msg]*entry{}
	w.ready = make(chan task, n+prefetch)
	w.wake = make(chan struct{}, 1)

	if w.cfg.Metrics.Addr != "" {
		srv, err := serveHTTP(w.cfg.Metrics, "metrics", w.metricsMux())
		if err != nil {
			return err
		}
		defer srv.Close()
		w.log.Info("cluster: serving metrics", "url", srv.URL()+"/metrics")
	}

	defer w.files.close()
	nc, err := w.dial(ctx)
	if err != nil {
		if errors.Is(err, ErrUnauthorized) {
			return err
		}
		return nil // cancelled while waiting for the server
	}
	defer nc.Close()
	w.maxIn = inlineLimit(nc)
	if w.sp, w.cons, err = w.prepare(ctx, nc); err != nil {
		return nil
	}
	if w.rjs, err = jetstream.New(nc,
		jetstream.WithPublishAsyncAckHandler(w.onStored),
		jetstream.WithPublishAsyncErrHandler(w.onStoreFailed),
		jetstream.WithPublishAsyncTimeout(storeTimeout),
		jetstream.WithPublishAsyncMaxPending(maxPendingPublishes),
	); err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	cancelSub, err := nc.Subscribe(CancelSubject+".>", w.onCancel)
	if err != nil {
		return fmt.Errorf("cluster: subscribe: %w", err)
	}
	defer cancelSub.Unsubscribe()
	deadSub, err := nc.QueueSubscribe(maxDeliveriesSubject(), "crew-dead-letter", w.onMaxDeliveries)
	if err != nil {
		return fmt.Errorf("cluster: subscribe: %w", err)
	}
	defer deadSub.Unsubscribe()

	var slots sync.WaitGroup
	for slot := range n {
		slots.Go(func() {
			for t := range w.ready {
				w.handle(t, slot+1)
			}
		})
	}
	beatDone := make(chan struct{})
	var beats sync.WaitGroup
	beats.Go(func() { w.heartbeat(beatDone) })
	w.registered()
	beats.Go(func() { w.register(beatDone) })

	if len(w.cfg.Tags) == 0 {
		w.pullLoop(ctx, nc, n, prefetch, nil, w.wake)
	} else {
		w.pullTagged(ctx, nc, n, prefetch)
	}
	w.draining.Store(true)
	// Drain: jobs not started go back to the queue at once rather than
	// after AckWait; running ones finish and store their results.
	close(w.ready)
	slots.Wait()
	w.unended.Wait()
	close(beatDone)
	beats.Wait()
	return nil
}

// pullLoop asks the server for as many jobs as the worker has room for,
// until ctx ends. A pull request stays open while the queue is empty, and
// its jobs are handed on as they arrive, not when the batch is full.
//
// cons is the consumer pulled from: nil for the shared one (w.cons),
// which is made again if it goes missing; a tag set's consumer that goes
// missing ends the loop. wake says that room may have freed. Several
// loops share the room (pullTagged): each reserves what it asks for while
// its pull is open.
func (w *Worker) pullLoop(ctx context.Context, nc *nats.Conn, n, prefetch int, cons jetstream.Consumer, wake <-chan struct{}) {
	retry := retryBackoff()
	for ctx.Err() == nil {
		room := n
		if !w.lastLong.Load() {
			room += prefetch
		}
		want := room - int(w.held.Load()) - int(w.reserved.Load())
		if loops := int(w.pulls.Load()); loops > 1 {
			// Each loop a share, so that one queue's open pull does not
			// keep another queue's jobs waiting for it.
			want = min(want, max(1, room/loops))
		}
		if want <= 0 {
			select {
			case <-wake:
			case <-ctx.Done():
			}
			continue
		}
		w.reserved.Add(int64(want))
		// Messages may carry batches of jobs: ask for as many as would
		// fill the room if they are like the last one.
		c := cons
		if c == nil {
			c = w.cons
		}
		err := w.pull(ctx, c, max(1, want/int(max(w.lastBatch.Load(), 1))))
		w.reserved.Add(-int64(want))
		if w.pulls.Load() > 1 {
			w.kick() // the room this loop held may be another's now
		}
		if cons != nil && (errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted)) {
			return
		}
		if err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			w.log.Warn("cluster: pulling jobs failed; retrying", "err", err, "in", retry.Peek())
			if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				// Only the consumer is replaced: callbacks read w.sp.
				if _, cons, err := w.prepare(ctx, nc); err == nil {
					w.cons = cons
				}
			}
			_ = retry.Sleep(ctx)
			continue
		}
		retry.Reset()
	}
}

// pull asks c for up to n messages and accepts their jobs as they arrive,
// until the pull request expires or is filled. An ephemeral worker's pull
// also ends with ctx.
func (w *Worker) pull(ctx context.Context, c jetstream.Consumer, n int) error {
	wait := jetstream.FetchMaxWait(pullWait)
	if w.cfg.ephemeral {
		// The request expires a little before the context, which the
		// library's own goroutine for it watches.
		fctx, cancel := context.WithTimeout(ctx, pullWait)
		defer cancel()
		wait = jetstream.FetchContext(fctx)
	}
	batch, err := c.Fetch(n, wait)
	if err != nil {
		return err
	}
	for msg := range batch.Messages() {
		w.accept(ctx, msg)
	}
	if err := batch.Error(); err != nil && !(w.cfg.ephemeral && ctx.Err() != nil) {
		return err
	}
	return nil
}

// dial connects, retrying with back-off until ctx is done.
func (w *Worker) dial(ctx context.Context) (*nats.Conn, error) {
	retry := retryBackoff()
	for {
		nc, err := w.cfg.connect(
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err != nil {
					w.log.Warn("cluster: lost the server; reconnecting", "url", Redact(w.cfg.URL), "err", err)
				}
			}),
			nats.ReconnectHandler(func(nc *nats.Conn) {
				w.log.Info("cluster: reconnected", "url", Redact(nc.ConnectedUrlRedacted()))
			}),
		)
		if err == nil {
			return nc, nil
		}
		if errors.Is(err, ErrUnauthorized) {
			return nil, err
		}
		w.log.Warn("cluster: cannot reach the server; retrying", "url", Redact(w.cfg.URL), "err", err, "in", retry.Peek())
		if retry.Sleep(ctx) != nil {
			return nil, ctx.Err()
		}
	}
}

// prepare sets up streams and the shared consumer, retrying until ctx is
// done: a just-restarted server may not have JetStream ready yet.
func (w *Worker) prepare(ctx context.Context, nc *nats.Conn) (*space, jetstream.Consumer, error) {
	retry := retryBackoff()
	for {
		sp, cons, err := w.prepareOnce(ctx, nc)
		if err == nil {
			return sp, cons, nil
		}
		w.log.Warn("cluster: preparing the job queue failed; retrying", "err", err, "in", retry.Peek())
		if retry.Sleep(ctx) != nil {
			return nil, nil, ctx.Err()
		}
	}
}

func (w *Worker) prepareOnce(ctx context.Context, nc *nats.Conn) (*space, jetstream.Consumer, error) {
	sctx, stop := context.WithTimeout(ctx, setupTimeout)
	defer stop()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	// Never an update of its settings: see Run. (Its filter, which
	// leaves the jobs of runs with tags to their own consumers, is set on
	// a consumer of an older broker that has none.) Looked for while the
	// streams are bound: on a prepared server it is there.
	var cons jetstream.Consumer
	var consErr error
	sp, err := setupWith(sctx, js, func(ctx context.Context) error {
		cons, consErr = js.Consumer(ctx, JobsStream, WorkersConsumer)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if errors.Is(consErr, jetstream.ErrStreamNotFound) {
		// A new server: the stream did not exist when we looked.
		cons, consErr = js.Consumer(sctx, JobsStream, WorkersConsumer)
	}
	err = consErr
	if err == nil {
		cons, err = filterShared(sctx, sp, cons)
	}
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		cons, err = sp.js.CreateConsumer(sctx, JobsStream, jetstream.ConsumerConfig{
			Durable:       WorkersConsumer,
			FilterSubject: sharedFilter,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       w.cfg.ackWait(),
			// Workers, not the server, count how often a job ran: the
			// server would also count deliveries of jobs held unstarted
			// beside one that killed their worker (see maxRunsMeta).
			MaxDeliver:    -1,
			Metadata:      map[string]string{maxRunsMeta: strconv.Itoa(w.cfg.maxRuns())},
			MaxAckPending: -1,
			// A broker that ends with the run keeps nothing for later.
			MemoryStorage: w.cfg.ephemeral,
		})
		if errors.Is(err, jetstream.ErrConsumerExists) {
			// Another worker created it first, with other settings.
			cons, err = sp.js.Consumer(sctx, JobsStream, WorkersConsumer)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: workers consumer: %w", err)
	}
	w.adopt(cons.CachedInfo().Config)
	return sp, cons, nil
}

// adopt takes the shared consumer's settings as the worker's own, and
// says so when they differ from its config's.
func (w *Worker) adopt(c jetstream.ConsumerConfig) {
	ack, maxd := c.AckWait, c.MaxDeliver
	if ack <= 0 {
		ack = DefaultAckWait // the server's own default too
	}
	if maxd == 0 {
		maxd = -1 // unlimited
	}
	limit, starts := maxd, 0
	if v, err := strconv.Atoi(c.Metadata[maxRunsMeta]); err == nil && v > 0 && maxd < 0 {
		limit, starts = v, v
	}
	w.consumerAckWait.Store(int64(ack))
	w.serverMaxDeliver.Store(int64(maxd))
	w.runLimit.Store(int64(starts))
	if (ack != w.cfg.ackWait() || limit != w.cfg.maxRuns()) && !w.warnedSettings.Swap(true) {
		w.log.Warn("cluster: the shared workers consumer has other settings; using them, not this worker's",
			"ack_wait", ack, "max_runs", limit, "wanted_ack_wait", w.cfg.ackWait(), "wanted_max_runs", w.cfg.maxRuns())
	}
}

// lastDeliveryNext reports whether one more delivery of a job delivered
// n times could be its last by the server's count, so it must not be
// handed retry.
func (w *Worker) lastDeliveryNext(n uint64) bool {
	m := w.serverMaxDeliver.Load()
	return m > 0 && n+1 >= uint64(m)
}

// retryBackoff paces the retries of a failed talk with the server: 100 ms
// first, doubling up to 30 s.
func retryBackoff() backoff.Backoff {
	return backoff.Backoff{Min: 100 * time.Millisecond, Max: 30 * time.Second}
}
