package dist

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"crew/runner"
)

// A Worker pulls jobs from the cluster, runs them with Executor, stores
// each result and only then acknowledges the job.
//
// The zero value is not usable: set at least URL and Executor, then call
// Run once; a Worker must not be copied or reused after Run starts. Each
// running job costs two goroutines (the job, its heartbeat) besides what
// the Executor spends. While a job runs, the worker sends a heartbeat every
// AckWait/3 so the server does not give the job to another worker; if
// the worker dies, the job is redelivered after AckWait. A worker holds at
// most Concurrency jobs at a time and pulls no job it has no slot for.
type Worker struct {
	Config
	// Executor runs each job, normally a runner.Local.
	Executor runner.Executor
	// Concurrency is how many jobs run at once; default 1.
	Concurrency int
	// Host names this worker in results (the joblog's Host column);
	// default the machine's host name.
	Host string
	// Logger receives connection trouble and dropped jobs; default
	// slog.Default().
	Logger *slog.Logger

	sp      *space
	cons    jetstream.Consumer
	mu      sync.Mutex
	running map[string]context.CancelFunc
	maxIn   int
}

// Run connects and runs jobs until ctx is cancelled, then drains: it pulls
// no more jobs, lets the running ones finish and store their results, and
// returns nil. While the server cannot be reached, Run retries with
// back-off (up to 30 s between tries) and logs each failure.
//
// Run refuses (ErrInsecure) a server that is not on this machine when no
// credentials are configured, unless Insecure is set: anyone who can
// publish to such a server would run commands as this worker's user.
func (w *Worker) Run(ctx context.Context) error {
	if w.Executor == nil {
		return errors.New("dist: worker has no executor")
	}
	if !loopbackOnly(w.URL) && !w.hasCredentials() && !w.Insecure {
		return fmt.Errorf("%w: %s", ErrInsecure, w.URL)
	}
	if w.Logger == nil {
		w.Logger = slog.Default()
	}
	if w.Host == "" {
		w.Host, _ = os.Hostname()
	}
	n := max(w.Concurrency, 1)
	w.running = map[string]context.CancelFunc{}

	nc, err := w.dial(ctx)
	if err != nil {
		return nil // cancelled while waiting for the server
	}
	defer nc.Close()
	w.maxIn = inlineLimit(nc)
	if w.sp, w.cons, err = w.prepare(ctx, nc); err != nil {
		return nil
	}
	cancelSub, err := nc.Subscribe(CancelSubject+".>", w.onCancel)
	if err != nil {
		return fmt.Errorf("dist: subscribe: %w", err)
	}
	defer cancelSub.Unsubscribe()
	deadSub, err := nc.QueueSubscribe(maxDeliveriesSubject(), "crew-dead-letter", w.onDead)
	if err != nil {
		return fmt.Errorf("dist: subscribe: %w", err)
	}
	defer deadSub.Unsubscribe()

	var wg sync.WaitGroup
	slots := make(chan struct{}, n)
	back := backoff{}
	idle := false // the last look found the queue empty
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		k := 1
	more:
		for k < n && !idle {
			select {
			case slots <- struct{}{}:
				k++
			default:
				break more
			}
		}
		batch, err := w.pull(k)
		got := 0
		if err == nil {
			for msg := range batch.Messages() {
				got++
				wg.Go(func() {
					var once sync.Once
					free := func() { once.Do(func() { <-slots }) }
					defer free()
					w.handle(ctx, msg, free)
				})
			}
			err = batch.Error()
		}
		idle = got == 0
		for ; got < k; got++ {
			<-slots
		}
		if err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			w.Logger.Warn("dist: pulling jobs failed; retrying", "err", err, "in", back.peek())
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
	wg.Wait()
	return nil
}

// pull asks for up to k jobs. A batch request waits until it is full or
// expires, which would leave slots freed meanwhile idle; so several slots
// take only the jobs already queued, and one slot waits for the next job
// (at most a second, which keeps a drain quick).
func (w *Worker) pull(k int) (jetstream.MessageBatch, error) {
	if k > 1 {
		return w.cons.FetchNoWait(k)
	}
	return w.cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
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
					w.Logger.Warn("dist: lost the server; reconnecting", "url", w.URL, "err", err)
				}
			}),
			nats.ReconnectHandler(func(nc *nats.Conn) {
				w.Logger.Info("dist: reconnected", "url", nc.ConnectedUrl())
			}),
		)
		if err == nil {
			return nc, nil
		}
		w.Logger.Warn("dist: cannot reach the server; retrying", "url", w.URL, "err", err, "in", back.peek())
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
		w.Logger.Warn("dist: preparing the job queue failed; retrying", "err", err, "in", back.peek())
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
	cons, err := sp.js.CreateOrUpdateConsumer(sctx, JobsStream, jetstream.ConsumerConfig{
		Durable:       WorkersConsumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       w.ackWait(),
		MaxDeliver:    w.maxDeliver(),
		MaxAckPending: -1,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("dist: workers consumer: %w", err)
	}
	return sp, cons, nil
}

func (w *Worker) onCancel(m *nats.Msg) {
	k := m.Subject[len(CancelSubject)+1:]
	w.mu.Lock()
	stop := w.running[k]
	w.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// handle runs one delivered job. Jobs run on a context detached from
// Run's, so draining lets them finish; only a cancel message stops one.
// free gives the job's slot back once the job's process is over, so the
// next pull overlaps storing this result: Concurrency bounds running
// jobs, not network round trips.
func (w *Worker) handle(ctx context.Context, msg jetstream.Msg, free func()) {
	m, err := decodeJob(msg.Data())
	if err != nil {
		w.Logger.Error("dist: dropping an unreadable job", "err", err)
		_ = msg.Term()
		return
	}
	bg := context.WithoutCancel(ctx)
	if meta, err := msg.Metadata(); err == nil && meta.NumDelivered > 1 {
		// A worker may have stored the result and died before its ack.
		if _, err := w.sp.results.Get(bg, m.Key); err == nil {
			_ = msg.Ack()
			return
		}
	}
	jctx, stop := context.WithCancel(bg)
	defer stop()
	w.mu.Lock()
	w.running[m.Key] = stop
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.running, m.Key)
		w.mu.Unlock()
	}()

	beat := make(chan struct{})
	var beats sync.WaitGroup
	beats.Go(func() {
		t := time.NewTicker(w.ackWait() / 3)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = msg.InProgress()
			case <-beat:
				return
			}
		}
	})
	defer func() { close(beat); beats.Wait() }()

	res := w.run(jctx, m)
	free()
	if err := w.store(bg, m.Key, res); err != nil {
		w.Logger.Error("dist: storing a result failed; the job will be redelivered", "job", m.Key, "err", err)
		return
	}
	_ = msg.Ack()
}

func (w *Worker) run(ctx context.Context, m *jobMsg) *resultMsg {
	job := m.job()
	if m.StdinOb != "" {
		b, err := w.sp.output.GetBytes(ctx, m.StdinOb)
		if err != nil {
			return &resultMsg{Seq: m.Seq, Host: w.Host, Start: time.Now(), Exit: -1,
				Err: fmt.Sprintf("fetch input: %v", err)}
		}
		job.Stdin = b
	}
	var stdout, stderr bytes.Buffer
	r := w.Executor.Exec(ctx, job, &stdout, &stderr)
	res := &resultMsg{
		Seq: m.Seq, Host: w.Host, Start: r.Start, Runtime: r.Runtime, Exit: r.Exit,
		Signal: r.Signal, TimedOut: r.TimedOut, Send: r.Send, Receive: r.Receive,
		Stdout: stdout.Bytes(), Stderr: stderr.Bytes(),
	}
	if r.Err != nil {
		res.Err = r.Err.Error()
	}
	return res
}

// store records res under key unless a result is already there: a job
// executes at least once, but its result is recorded once.
func (w *Worker) store(ctx context.Context, key string, res *resultMsg) error {
	if len(res.Stdout)+len(res.Stderr) > w.maxIn {
		res.Object = "out." + key + "." + nuid.Next()
		if _, err := w.sp.output.PutBytes(ctx, res.Object, packOutput(res.Stdout, res.Stderr)); err != nil {
			return fmt.Errorf("dist: store output: %w", err)
		}
		res.Stdout, res.Stderr = nil, nil
	}
	data, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("dist: encode result: %w", err)
	}
	var back backoff
	for try := 0; ; try++ {
		_, err = w.sp.results.Create(ctx, key, data)
		if err == nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			if res.Object != "" {
				_ = w.sp.output.Delete(ctx, res.Object)
			}
			return nil
		}
		if try == 5 {
			return err
		}
		back.sleep(ctx)
	}
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
