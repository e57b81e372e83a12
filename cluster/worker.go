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

	"crew/runner"
)

// A Worker pulls jobs from the cluster, runs them with Executor, stores
// each result and only then acknowledges the job.
//
// The zero value is not usable: set at least URL and Executor, then call
// Run once; a Worker must not be copied or reused after Run starts.
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
	Config
	// Executor runs each job, normally a runner.Local.
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

	sp       *space
	cons     jetstream.Consumer
	rjs      jetstream.JetStream // publishes results; its callbacks ack jobs
	maxIn    int
	prefetch int
	slots    int
	ready    chan task
	wake     chan struct{} // a slot freed or a long job ended
	held     atomic.Int64  // jobs received and not yet past their process
	// batchSeen is the size of the last message's batch: pulls ask for
	// messages, room is counted in jobs.
	batchSeen atomic.Int64
	lastLong  atomic.Bool // the last job ran PrefetchBelow or longer
	draining  atomic.Bool
	open      sync.WaitGroup
	// The shared consumer's own settings, which may differ from Config's:
	// the first worker's settings rule (see Run).
	ackWaitNow    atomic.Int64
	maxDeliverNow atomic.Int64 // the server's limit on deliveries; -1 for none
	maxStartsNow  atomic.Int64 // the workers' limit on runs; 0 when the server's rules
	warned        atomic.Bool

	mu      sync.Mutex
	entries map[*entry]struct{}  // every held job, heartbeated
	storing map[*nats.Msg]*entry // results awaiting the server's ack
}

// PrefetchBelow is the run time under which a job counts as short: a
// worker prefetches only after short jobs, and hands its prefetched jobs
// back to the queue once a running job reaches it.
const PrefetchBelow = time.Second

// DefaultPrefetch is Worker.Prefetch's default. One prefetched job is not
// enough on a busy machine: the pull of the next job often takes longer
// than a short job runs.
const DefaultPrefetch = 4

// Run connects and runs jobs until ctx is cancelled, then drains: it pulls
// no more jobs, hands back the prefetched ones, lets the running ones
// finish and store their results, and returns nil. While the server cannot
// be reached, Run retries with back-off (up to 30 s between tries) and
// logs each failure.
//
// Run refuses (ErrInsecure) a server that is not on this machine when no
// credentials are configured, unless Insecure is set: anyone who can
// publish to such a server would run commands as this worker's user.
//
// All workers share one consumer, and its settings are the first
// worker's: a worker whose AckWait or MaxDeliver differ from the existing
// consumer's uses the consumer as it is and logs a warning, because
// changing it would change the deal for every worker (a job heartbeated
// for a longer wait would be redelivered while it runs). Heartbeats
// follow the consumer's AckWait, not Config's. To change the settings,
// stop all workers and delete the consumer (nats consumer rm CREW_JOBS
// crew-workers).
//
// Run returns ErrUnauthorized at once when the server refuses the
// credentials, and the errors of Check before connecting.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.Check(); err != nil {
		return err
	}
	if w.Logger == nil {
		w.Logger = slog.Default()
	}
	if w.Host == "" {
		w.Host, _ = os.Hostname()
	}
	n := max(w.Concurrency, 1)
	prefetch := w.Prefetch
	switch {
	case prefetch == 0:
		prefetch = DefaultPrefetch
	case prefetch < 0:
		prefetch = 0
	}
	w.prefetch, w.slots = prefetch, n
	w.entries = map[*entry]struct{}{}
	w.storing = map[*nats.Msg]*entry{}
	w.ready = make(chan task, n+prefetch)
	w.wake = make(chan struct{}, 1)

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
		jetstream.WithPublishAsyncMaxPending(1<<16),
	); err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	cancelSub, err := nc.Subscribe(CancelSubject+".>", w.onCancel)
	if err != nil {
		return fmt.Errorf("cluster: subscribe: %w", err)
	}
	defer cancelSub.Unsubscribe()
	deadSub, err := nc.QueueSubscribe(maxDeliveriesSubject(), "crew-dead-letter", w.onDead)
	if err != nil {
		return fmt.Errorf("cluster: subscribe: %w", err)
	}
	defer deadSub.Unsubscribe()

	var slots sync.WaitGroup
	for range n {
		slots.Go(func() {
			for t := range w.ready {
				w.handle(t)
			}
		})
	}
	beatDone := make(chan struct{})
	var beats sync.WaitGroup
	beats.Go(func() { w.heartbeat(beatDone) })

	w.pullLoop(ctx, nc, n, prefetch)
	w.draining.Store(true)
	// Drain: jobs not started go back to the queue at once rather than
	// after AckWait; running ones finish and store their results.
	close(w.ready)
	slots.Wait()
	w.open.Wait()
	close(beatDone)
	beats.Wait()
	return nil
}

// Check reports what Run would refuse before connecting: no Executor, a
// bad URL (ErrBadURL), a negative AckWait or MaxDeliver, or a server on
// another machine with no credentials and Insecure unset (ErrInsecure).
func (w *Worker) Check() error {
	if w.Executor == nil {
		return errors.New("cluster: worker has no executor")
	}
	if err := checkURL(w.URL); err != nil {
		return err
	}
	if w.AckWait < 0 {
		return fmt.Errorf("cluster: ack wait %v: must be positive", w.AckWait)
	}
	if w.MaxDeliver < 0 {
		return fmt.Errorf("cluster: max deliver %d: must be positive", w.MaxDeliver)
	}
	if !loopbackOnly(w.URL) && !w.hasCredentials() && !w.Insecure {
		return fmt.Errorf("%w: %s", ErrInsecure, Redact(w.URL))
	}
	return nil
}

// pullLoop asks the server for as many jobs as the worker has room for,
// until ctx ends. A pull request stays open while the queue is empty, and
// its jobs are handed on as they arrive, not when the batch is full.
func (w *Worker) pullLoop(ctx context.Context, nc *nats.Conn, n, prefetch int) {
	var back backoff
	for ctx.Err() == nil {
		room := n
		if !w.lastLong.Load() {
			room += prefetch
		}
		want := room - int(w.held.Load())
		if want <= 0 {
			select {
			case <-w.wake:
			case <-ctx.Done():
			}
			continue
		}
		// Messages may carry batches of jobs: ask for as many as would
		// fill the room if they are like the last one.
		want = max(1, want/int(max(w.batchSeen.Load(), 1)))
		batch, err := w.cons.Fetch(want, jetstream.FetchMaxWait(time.Second))
		if err == nil {
			for msg := range batch.Messages() {
				w.accept(ctx, msg)
			}
			err = batch.Error()
		}
		if err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			w.Logger.Warn("cluster: pulling jobs failed; retrying", "err", err, "in", back.peek())
			if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				// Only the consumer is replaced: callbacks read w.sp.
				if _, cons, err := w.prepare(ctx, nc); err == nil {
					w.cons = cons
				}
			}
			back.sleep(ctx)
			continue
		}
		back.reset()
	}
}

// dial connects, retrying with back-off until ctx is done.
func (w *Worker) dial(ctx context.Context) (*nats.Conn, error) {
	var back backoff
	for {
		nc, err := w.connect(
			nats.MaxReconnects(-1),
			nats.ReconnectWait(time.Second),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err != nil {
					w.Logger.Warn("cluster: lost the server; reconnecting", "url", Redact(w.URL), "err", err)
				}
			}),
			nats.ReconnectHandler(func(nc *nats.Conn) {
				w.Logger.Info("cluster: reconnected", "url", Redact(nc.ConnectedUrlRedacted()))
			}),
		)
		if err == nil {
			return nc, nil
		}
		if errors.Is(err, ErrUnauthorized) {
			return nil, err
		}
		w.Logger.Warn("cluster: cannot reach the server; retrying", "url", Redact(w.URL), "err", err, "in", back.peek())
		if !back.sleep(ctx) {
			return nil, ctx.Err()
		}
	}
}

// prepare sets up streams and the shared consumer, retrying until ctx is
// done: a just-restarted server may not have JetStream ready yet.
func (w *Worker) prepare(ctx context.Context, nc *nats.Conn) (*space, jetstream.Consumer, error) {
	var back backoff
	for {
		sp, cons, err := w.prepareOnce(ctx, nc)
		if err == nil {
			return sp, cons, nil
		}
		w.Logger.Warn("cluster: preparing the job queue failed; retrying", "err", err, "in", back.peek())
		if !back.sleep(ctx) {
			return nil, nil, ctx.Err()
		}
	}
}

func (w *Worker) prepareOnce(ctx context.Context, nc *nats.Conn) (*space, jetstream.Consumer, error) {
	sctx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	sp, err := setup(sctx, nc)
	if err != nil {
		return nil, nil, err
	}
	// Never an update: see Run.
	cons, err := sp.js.Consumer(sctx, JobsStream, WorkersConsumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		cons, err = sp.js.CreateConsumer(sctx, JobsStream, jetstream.ConsumerConfig{
			Durable:   WorkersConsumer,
			AckPolicy: jetstream.AckExplicitPolicy,
			AckWait:   w.ackWait(),
			// Workers, not the server, count how often a job ran: the
			// server would also count deliveries of jobs held unstarted
			// beside one that killed their worker (see startsMeta).
			MaxDeliver:    -1,
			Metadata:      map[string]string{startsMeta: strconv.Itoa(w.maxDeliver())},
			MaxAckPending: -1,
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
// says so when they differ from Config's.
func (w *Worker) adopt(c jetstream.ConsumerConfig) {
	ack, maxd := c.AckWait, c.MaxDeliver
	if ack <= 0 {
		ack = DefaultAckWait // the server's own default too
	}
	if maxd == 0 {
		maxd = -1 // unlimited
	}
	limit, starts := maxd, 0
	if v, err := strconv.Atoi(c.Metadata[startsMeta]); err == nil && v > 0 && maxd < 0 {
		limit, starts = v, v
	}
	w.ackWaitNow.Store(int64(ack))
	w.maxDeliverNow.Store(int64(maxd))
	w.maxStartsNow.Store(int64(starts))
	if (ack != w.ackWait() || limit != w.maxDeliver()) && !w.warned.Swap(true) {
		w.Logger.Warn("cluster: the shared workers consumer has other settings; using them, not this worker's",
			"ack_wait", ack, "max_deliver", limit, "wanted_ack_wait", w.ackWait(), "wanted_max_deliver", w.maxDeliver())
	}
}

// curAckWait and curMaxDeliver are the shared consumer's settings; a
// negative MaxDeliver means unlimited.
func (w *Worker) curAckWait() time.Duration { return time.Duration(w.ackWaitNow.Load()) }

// nearLast reports whether one more delivery of a job delivered n times
// could be its last, so it must not be handed back.
func (w *Worker) nearLast(n uint64) bool {
	m := w.maxDeliverNow.Load()
	return m > 0 && n+1 >= uint64(m)
}

// backoff doubles a delay from 100 ms up to 30 s.
type backoff struct{ d time.Duration }

func (b *backoff) peek() time.Duration {
	if b.d == 0 {
		return 100 * time.Millisecond
	}
	return b.d
}

// sleep waits the next delay and reports false if ctx ended first.
func (b *backoff) sleep(ctx context.Context) bool {
	b.d = min(b.peek()*2, 30*time.Second)
	t := time.NewTimer(b.d / 2)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (b *backoff) reset() { b.d = 0 }
