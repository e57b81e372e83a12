package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"crew/runner"
)

// ExecutorConfig configures an Executor: where the server is, and how
// jobs travel. Only URL is required; every other field has a default.
type ExecutorConfig struct {
	ConnConfig
	// ReconnectWindow is how long an Executor that lost the server waits
	// for it to come back; when the window passes, its waiting and later
	// Execs fail with ErrUnreachable. Default DefaultReconnectWindow.
	ReconnectWindow time.Duration
	// Batch is the most jobs an Executor puts in one message while jobs
	// are short; see Executor. 0 means DefaultBatch, 1 sends every job
	// alone; negative is an error.
	Batch int
	// OnConnection, if set, is told when the Executor loses the server
	// (lost is true) and when it is back (lost false); url has its
	// password redacted. It runs on the connection's callback goroutine
	// and must not block.
	OnConnection func(lost bool, url string)
	// TermSeq is how workers stop this Executor's jobs when they are
	// cancelled or run past their Timeout, as runner.Local.TermSeq does
	// on this machine: each job carries it to its worker (see
	// WorkerConfig.Executor). Nil leaves it to the worker's own Executor.
	// A step with a signal outside 1-64 or a negative wait is an error.
	TermSeq []runner.TermStep

	// NewRun describes the run for the server to keep (crew runs, crew
	// status, crew attach); nil records a run with no command, plan or
	// spec. Ignored with Attach.
	NewRun *NewRun
	// Attach, when set, is the id of a run the server keeps: the Executor
	// serves that run's results instead of starting a new run (crew
	// attach). See Executor.
	Attach string
	// SubmitOnly makes Exec return as soon as the server has stored the
	// job, with an empty Result and no output: the results stay on the
	// server for an attach (crew run --detach).
	SubmitOnly bool
	// Require are the tags a worker needs to run this run's jobs (crew
	// run --require): only workers with all of them take the jobs. Nil
	// lets every worker take them. A tag as ParseTags accepts it.
	Require []string
	// OnServed, if set with Require, is told (served false) when no
	// connected worker has all the Require tags, within about two
	// seconds of the start or of the last such worker leaving: the jobs
	// then wait until one connects, and OnServed is told (served true)
	// when one does. It runs on a goroutine of the Executor's and must
	// not block for long.
	OnServed func(served bool)
}

// DefaultReconnectWindow is ExecutorConfig.ReconnectWindow's default.
const DefaultReconnectWindow = 2 * time.Minute

func (c ExecutorConfig) reconnectWindow() time.Duration {
	if c.ReconnectWindow > 0 {
		return c.ReconnectWindow
	}
	return DefaultReconnectWindow
}

// Timings of an Executor's talks with the server.
const (
	// dialTimeout bounds the first attempt to reach the server.
	dialTimeout = 3 * time.Second
	// publishAckTimeout is how long one publish of a message may wait for
	// the server's ack before it counts as lost (and is repeated).
	publishAckTimeout = 10 * time.Second
	// republishFor is how long a message whose acks keep getting lost
	// while connected is published again before its jobs fail; the
	// back-off between tries makes it about 6 s.
	republishFor = 5 * time.Second
	// rewatchTimeout bounds one attempt to start watching the results
	// again after the server came back.
	rewatchTimeout = 5 * time.Second
	// unqueueTimeout bounds deleting a cancelled job's message.
	unqueueTimeout = 2 * time.Second
)

// maxPendingPublishes bounds the publishes an Executor has waiting for
// the server's ack; past it, a publish waits.
const maxPendingPublishes = 1 << 16

// An Executor submits jobs to the cluster and waits for their results. It
// implements runner.Executor, so the runner engine drives it as it drives
// the local one.
//
// Create one with NewExecutor; the zero value is not usable and an
// Executor must not be copied. Exec is safe for concurrent use and should
// be called concurrently: each call publishes without waiting for the
// server and then only waits for the result, so hundreds in flight keep
// the workers busy across network latency, for a few microseconds of CPU
// each. Close releases the connection; Execs still waiting return
// ErrClosed.
//
// When the connection to the server is lost, the Executor reconnects on
// its own and tells ExecutorConfig.OnConnection. Results that arrived meanwhile
// are replayed, so a broker restarted on the same store loses nothing.
// If no server is back within ExecutorConfig.ReconnectWindow, the Executor gives
// up for good: waiting and later Execs fail with ErrUnreachable.
//
// Short jobs travel in batches. Every job goes alone until the first
// result shows how long jobs run; from then on, jobs queued at the same
// moment share a message, up to ExecutorConfig.Batch of them, as many as run
// one after another in about 30 ms by the average so far, and never
// more than an eighth of the jobs in flight. While the server has not
// confirmed the previous message, or while the workers have at least
// 120 ms of jobs queued, a job waits up to 30 ms for its batch to fill;
// otherwise it leaves at once. A batch runs on one worker, is redelivered
// whole if that worker dies (and split into its jobs there), and its
// results come back together, except for jobs its worker moved out of
// it: when one of a batch's jobs runs a second (PrefetchBelow), the ones
// still waiting for a slot behind it are queued again each on its own.
//
// Every run is kept on the server (RunsBucket) with its results and output
// until the broker's retention passes, so it can be attached to again.
// An Executor made with ExecutorConfig.Attach serves an existing run: Exec
// of a job try that has a result returns it at once, and one that has none
// publishes the job again (the server stores a repeat within its
// duplicate window once; a later repeat may run the job twice, and its
// first result counts) and waits for it. Such an Executor never cancels a
// job when ctx ends: leaving an attach leaves the run alone. When the run
// is cancelled (Client.Cancel), waiting and later Execs of any Executor of
// the run return ErrRunCancelled.
type Executor struct {
	cfg     ExecutorConfig
	termSeq []termStep // cfg.TermSeq as each job carries it
	nc      *nats.Conn
	js      jetstream.JetStream // publishes jobs asynchronously
	subject string
	sp      *space
	run     string
	watcher jetstream.KeyWatcher
	done    chan struct{}
	maxIn   int // largest inline payload
	// alive ends with Close; broken when the server stayed away longer
	// than the reconnect window, and brokenErr says so.
	alive     context.Context
	kill      context.CancelFunc
	broken    context.Context
	giveUp    context.CancelFunc
	brokenErr error

	// Execs queue their jobs; one goroutine (batcher) sends them, alone
	// or, while jobs are short, several to a message.
	qmu        sync.Mutex
	queue      []*pending
	queueMoved chan struct{} // wakes the batcher: a job queued or answered
	batches    atomic.Int64  // batch keys handed out
	unfinished atomic.Int64  // jobs sent and not yet answered
	unacked    atomic.Int64  // messages the server has not confirmed
	sentJobs   atomic.Int64
	sentMsgs   atomic.Int64
	avgRuntime atomic.Int64 // jobs' average run time in ns (see observe); -1 before the first
	runtimes   atomic.Int64 // run times averaged so far

	runState // the run as the server keeps it; see executor_run.go

	mu          sync.Mutex
	waiters     map[string]*waiter // by results key: jobs' and batches'; see waiter
	tries       map[int64]int
	closed      bool
	files       uploads     // files sent with jobs (transfer.go)
	giveUpTimer *time.Timer // runs giveUp unless the server comes back
}

var _ runner.Executor = (*Executor)(nil)

// NewExecutor connects to cfg.URL, prepares the streams and buckets if
// they are missing, and returns an Executor for one run. It fails at once
// with ErrUnreachable when no server answers. Cancelling ctx aborts the
// setup; it does not affect the returned Executor.
func NewExecutor(ctx context.Context, cfg ExecutorConfig) (*Executor, error) {
	if cfg.Batch < 0 {
		return nil, fmt.Errorf("cluster: batch %d: must not be negative", cfg.Batch)
	}
	termSeq := encodeTermSeq(cfg.TermSeq)
	if err := checkTermSeq(termSeq); err != nil {
		return nil, fmt.Errorf("cluster: %v", err)
	}
	e := &Executor{
		cfg: cfg, termSeq: termSeq, run: cfg.Attach, done: make(chan struct{}),
		waiters: map[string]*waiter{}, tries: map[int64]int{},
		queueMoved: make(chan struct{}, 1),
	}
	e.avgRuntime.Store(-1)
	e.alive, e.kill = context.WithCancel(context.Background())
	e.broken, e.giveUp = context.WithCancel(context.Background())
	// The reconnect window, not the library, decides when to stop.
	nc, err := cfg.connect(nats.Timeout(dialTimeout),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { e.disconnected() }),
		nats.ReconnectHandler(e.reconnected))
	if err != nil {
		e.kill()
		e.giveUp()
		return nil, err
	}
	sp, err := setup(ctx, nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	e.nc, e.sp, e.maxIn = nc, sp, inlineLimit(nc)
	if err := e.openRun(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	if e.subject, err = e.route(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	if e.js, err = jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(maxPendingPublishes),
		jetstream.WithPublishAsyncTimeout(publishAckTimeout)); err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	// One watcher for the whole run: a result needs no request of its own.
	w, err := e.watch(ctx)
	if err != nil {
		nc.Close()
		return nil, err
	}
	e.mu.Lock()
	e.watcher = w
	e.mu.Unlock()
	go e.dispatch(w)
	go e.batcher()
	if len(e.cfg.Require) > 0 && e.cfg.OnServed != nil {
		go e.watchServed()
	}
	if err := e.follow(ctx); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// RunID returns the id that prefixes this run's job ids.
func (e *Executor) RunID() string { return e.run }

func (e *Executor) watch(ctx context.Context) (jetstream.KeyWatcher, error) {
	w, err := e.sp.results.Watch(context.WithoutCancel(ctx), e.run+".>", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("cluster: watch results: %w", err)
	}
	return w, nil
}

// disconnected starts the reconnect window.
func (e *Executor) disconnected() {
	e.mu.Lock()
	if e.closed || e.giveUpTimer != nil || e.broken.Err() != nil {
		e.mu.Unlock()
		return
	}
	window := e.cfg.reconnectWindow()
	e.giveUpTimer = time.AfterFunc(window, func() {
		e.mu.Lock()
		if e.giveUpTimer == nil { // back in the meantime
			e.mu.Unlock()
			return
		}
		e.brokenErr = fmt.Errorf("%w: %s: no server for %v", ErrUnreachable, Redact(e.cfg.URL), window)
		e.mu.Unlock()
		e.giveUp()
	})
	e.mu.Unlock()
	if f := e.cfg.OnConnection; f != nil {
		f(true, Redact(e.cfg.URL))
	}
}

// reconnected ends the reconnect window. After a reconnect the watcher's
// server-side consumer may be gone (a restarted broker); a fresh watcher
// replays this run's results, and the ones already delivered find no
// waiter.
func (e *Executor) reconnected(nc *nats.Conn) {
	e.mu.Lock()
	if e.giveUpTimer != nil {
		e.giveUpTimer.Stop()
		e.giveUpTimer = nil
	}
	gone := e.broken.Err() != nil
	e.mu.Unlock()
	if f := e.cfg.OnConnection; f != nil && !gone {
		f(false, Redact(nc.ConnectedUrlRedacted()))
	}
	e.rewatch()
}

// unreachable returns why the Executor gave up on the server, or
// ErrClosed when it was closed instead.
func (e *Executor) unreachable() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.brokenErr == nil {
		return ErrClosed
	}
	return e.brokenErr
}

// rewatch stops the current watcher; dispatch then starts a new one.
func (e *Executor) rewatch() {
	e.mu.Lock()
	w := e.watcher
	e.mu.Unlock()
	if w != nil {
		_ = w.Stop()
	}
}

func (e *Executor) dispatch(w jetstream.KeyWatcher) {
	defer close(e.done)
	retry := retryBackoff()
	for {
		for entry := range w.Updates() {
			if entry == nil {
				e.caughtUp()
				continue
			}
			e.resolve(entry.Key(), entry.Value())
		}
		for {
			e.mu.Lock()
			closed := e.closed
			e.mu.Unlock()
			if closed {
				return
			}
			ctx, stop := context.WithTimeout(e.alive, rewatchTimeout)
			nw, err := e.watch(ctx)
			stop()
			if err == nil {
				e.mu.Lock()
				if e.closed {
					e.mu.Unlock()
					_ = nw.Stop()
					return
				}
				e.watcher, w = nw, nw
				e.mu.Unlock()
				retry.Reset()
				break
			}
			_ = retry.Sleep(e.alive)
		}
	}
}

// key names one attempt of a job. The attempt number keeps a retried job
// (runner's --retries) from being taken for a duplicate of its first try.
func (e *Executor) key(seq int64) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return "", ErrClosed
	}
	e.tries[seq]++
	return e.run + "." + strconv.FormatInt(seq, 10) + "." + strconv.Itoa(e.tries[seq]), nil
}

// forget drops the waiter registered under k, a job's or a message's, if
// any: no Exec waits for those jobs any more.
func (e *Executor) forget(k string) {
	e.mu.Lock()
	chs := e.take(k)
	e.mu.Unlock()
	e.settle(len(chs))
}

// Exec publishes job, waits for a worker's result and copies the job's
// output to stdout and stderr once it is done (output is not streamed).
// The server stores a repeated publish of the job's message once (its
// message id is the job's key; see the protocol in protocol.go), so a
// publish whose ack is lost with the connection is repeated, with
// back-off, for about 6 s before Exec gives up; a refusal by the stream
// is returned at once. Each try of a job (runner's --retries) is a job of
// its own.
//
// Exec waits as long as it takes a worker to run the job: with no worker
// connected it waits until ctx ends. Cancelling ctx asks the worker
// running the job to stop it (along ExecutorConfig.TermSeq) and removes
// the job's message from the queue if no worker holds it (for a batch,
// once all its jobs are cancelled, as when a run is interrupted or
// halted); Exec then returns at once with Exit -1 and ctx's error.
func (e *Executor) Exec(ctx context.Context, job *runner.Job, stdout, stderr io.Writer) runner.Result {
	fail := func(err error) runner.Result {
		return runner.Result{Seq: job.Seq, Exit: -1, Err: err}
	}
	if e.broken.Err() != nil {
		return fail(e.unreachable())
	}
	if e.runCancelled.Err() != nil {
		return fail(fmt.Errorf("%w: %s", ErrRunCancelled, e.run))
	}
	k, err := e.key(job.Seq)
	if err != nil {
		return fail(err)
	}
	if res := e.early(k); res != nil {
		return e.finish(ctx, job, res, stdout, stderr)
	}
	m := jobMsg{
		Key: k, Seq: job.Seq, Slot: job.Slot, Command: job.Command, Argv: job.Argv,
		Stdin: job.Stdin, Timeout: job.Timeout, Env: job.Env, TermSeq: e.termSeq,
	}
	if m.Files, err = e.encodeFiles(ctx, job.Files); err != nil {
		return fail(fmt.Errorf("cluster: job %d: %w", job.Seq, err))
	}
	if len(job.Stdin) > e.maxIn {
		m.Stdin, m.StdinOb = nil, "in."+k
		if _, err := e.sp.output.PutBytes(ctx, m.StdinOb, job.Stdin); err != nil {
			return fail(fmt.Errorf("cluster: store input of job %d: %w", job.Seq, err))
		}
	}
	data, err := json.Marshal(&m)
	if err != nil {
		return fail(fmt.Errorf("cluster: encode job %d: %w", job.Seq, err))
	}
	p := &pending{key: k, data: data, ch: make(chan answer, 1), at: time.Now()}
	if e.cfg.SubmitOnly {
		p.sent = make(chan *sentMsg, 1)
	}
	e.enqueue(p)
	if p.sent != nil {
		return e.submitted(ctx, job, p)
	}
	select {
	case a := <-p.ch:
		if a.err != nil {
			if e.broken.Err() != nil {
				return fail(e.unreachable())
			}
			return fail(fmt.Errorf("cluster: job %d: %w", job.Seq, a.err))
		}
		return e.finish(ctx, job, a.res, stdout, stderr)
	case <-ctx.Done():
		p.dropped.Store(true)
		e.forget(k)
		if e.cfg.Attach == "" {
			e.cancel(p)
		}
		return fail(ctx.Err())
	case <-e.runCancelled.Done():
		p.dropped.Store(true)
		e.forget(k)
		return fail(fmt.Errorf("%w: %s", ErrRunCancelled, e.run))
	case <-e.broken.Done():
		e.forget(k)
		return fail(e.unreachable())
	case <-e.done:
		return fail(ErrClosed)
	}
}

// publish sends msg without waiting for the server, waiting only while
// too many publishes are unacknowledged.
func (e *Executor) publish(ctx context.Context, msg *nats.Msg) (jetstream.PubAckFuture, error) {
	for {
		paf, err := e.js.PublishMsgAsync(msg)
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			return paf, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
}

// finish hands a job's result m to its Exec: its output to stdout and
// stderr (fetched from the object store if it travelled there), and what
// became of it.
func (e *Executor) finish(ctx context.Context, job *runner.Job, m *resultMsg, stdout, stderr io.Writer) runner.Result {
	out, errOut := m.Stdout, m.Stderr
	if m.Object != "" {
		b, err := e.sp.output.GetBytes(ctx, m.Object)
		if err == nil {
			out, errOut, err = unpackOutput(b)
		}
		if err != nil {
			return runner.Result{Seq: job.Seq, Exit: -1, Err: fmt.Errorf("cluster: output of job %d: %w", job.Seq, err)}
		}
		// The object stays until the retention passes: an attach reads it
		// again.
	}
	e.observe(m.Runtime)
	r := m.result()
	r.Seq = job.Seq
	if err := e.writeBack(ctx, job.Files, m.Returned); err != nil && r.Err == nil {
		r.Err = fmt.Errorf("cluster: job %d: %w", job.Seq, err)
	}
	if _, err := stdout.Write(out); err != nil && r.Err == nil {
		r.Err = err
	}
	if _, err := stderr.Write(errOut); err != nil && r.Err == nil {
		r.Err = err
	}
	return r
}

// Close stops the executor and closes its connection. Execs still waiting
// return ErrClosed. Close is idempotent.
func (e *Executor) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	w := e.watcher
	if e.giveUpTimer != nil {
		e.giveUpTimer.Stop()
		e.giveUpTimer = nil
	}
	e.mu.Unlock()
	e.kill()
	err := w.Stop()
	<-e.done
	e.unfollow()
	e.nc.Close()
	e.giveUp()
	if err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("cluster: close: %w", err)
	}
	return nil
}

// Sent reports how many jobs the Executor has sent so far, and in how many
// messages: their ratio is the batching achieved.
func (e *Executor) Sent() (jobs, messages int64) {
	return e.sentJobs.Load(), e.sentMsgs.Load()
}

// cancel tells the worker running p's job, if any, to stop it, and
// deletes p's message from the queue once all its jobs are cancelled.
func (e *Executor) cancel(p *pending) {
	_ = e.nc.Publish(CancelSubject+"."+p.key, nil)
	sm := p.msg.Load()
	if sm == nil {
		return // never sent, and now it never will be
	}
	if sm.live.Add(-1) != 0 {
		return
	}
	// No Exec waits for this message's result any more.
	e.forget(sm.key)
	if seq := sm.seq.Load(); seq != 0 {
		e.unqueue(seq)
	}
}

// unqueue deletes a message from the jobs stream. It fails harmlessly
// when a worker holds the message: the cancel messages reach it instead.
func (e *Executor) unqueue(seq uint64) {
	ctx, stop := context.WithTimeout(context.Background(), unqueueTimeout)
	defer stop()
	_ = e.sp.jobs.DeleteMsg(ctx, seq)
}
