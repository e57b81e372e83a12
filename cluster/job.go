package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"crew/internal/backoff"
	"crew/internal/child"
	"crew/runner"
)

// An entry is one message a worker holds, from its delivery to its ack:
// one job, or a batch of short jobs that is acked once all have run.
type entry struct {
	msg   jetstream.Msg
	key   string // the results-bucket key: the job's, or the batch's
	batch bool
	jobs  []*jobMsg
	res   []*resultMsg // filled in as the jobs end
	left  atomic.Int32 // jobs not yet through a slot
	ctx   context.Context
	stop  context.CancelFunc
	stops []context.CancelFunc // one per job: a cancel message stops one
	ctxs  []context.Context

	objects    []string        // outputs stored in the object store, if any
	storeTries int             // attempts to store its results so far
	storeRetry backoff.Backoff // paces those attempts

	delivered uint64 // deliveries so far, this one included
	// runs is what to record as the job's run count before running it
	// again (a redelivered job whose runs the workers count); 0 for none.
	runs int
	// Guarded by Worker.mu:
	started  bool   // a slot took one of its jobs
	returned bool   // handed back to the queue unstarted
	begun    []bool // which of its jobs a slot took
	moved    []bool // which of its jobs were queued again on their own
}

// A task is one job of a held entry, queued for a slot.
type task struct {
	e *entry
	i int
}

// accept takes a delivered message into the worker: heartbeated from now
// on, and its jobs queued for the next free slots.
func (w *Worker) accept(ctx context.Context, msg jetstream.Msg) {
	key, jobs, batch, err := decodeJobs(msg.Data())
	if err != nil {
		w.log.Error("cluster: dropping an unreadable job", "err", err)
		_ = msg.Term()
		return
	}
	if ctx.Err() != nil {
		// A pull still open when the worker began to drain brought it:
		// another worker runs it.
		_ = msg.Nak()
		return
	}
	e0 := uint64(1)
	if meta, err := msg.Metadata(); err == nil {
		e0 = meta.NumDelivered
	}
	if w.lastLong.Load() && w.held.Load() >= int64(w.slots) && !w.lastDeliveryNext(e0) {
		// A pull issued before a job turned out long brought a job that
		// would wait behind it.
		_ = msg.Nak()
		return
	}
	w.lastBatch.Store(int64(len(jobs)))
	// Jobs run on a context detached from Run's, so draining lets them
	// finish; only a cancel message stops one.
	ectx, stop := context.WithCancel(context.WithoutCancel(ctx))
	e := &entry{
		msg: msg, key: key, batch: batch, jobs: jobs, res: make([]*resultMsg, len(jobs)),
		ctx: ectx, stop: stop, delivered: e0, storeRetry: retryBackoff(),
		ctxs: make([]context.Context, len(jobs)), stops: make([]context.CancelFunc, len(jobs)),
		begun: make([]bool, len(jobs)), moved: make([]bool, len(jobs)),
	}
	for i := range jobs {
		e.ctxs[i], e.stops[i] = context.WithCancel(ectx)
	}
	if e0 > 1 && batch {
		stop()
		w.split(ctx, msg, key, jobs)
		return
	}
	if e0 > 1 {
		// A worker may have stored the result and died before its ack.
		if _, err := w.sp.results.Get(ectx, key); err == nil {
			_ = msg.Ack()
			stop()
			return
		}
		if limit := int(w.runLimit.Load()); limit > 0 {
			// Its first delivery is taken to have run; later ones
			// count only if a worker got as far as starting the job.
			runs := max(1, w.runsRecorded(ectx, key))
			if runs >= limit {
				stop()
				w.deadLetterHeld(ctx, msg, runs)
				return
			}
			e.runs = runs + 1
		}
	}
	e.left.Store(int32(len(jobs)))
	w.unended.Add(1)
	w.mu.Lock()
	w.entries[e] = struct{}{}
	w.mu.Unlock()
	w.held.Add(int64(len(jobs)))
	for i := range jobs {
		w.ready <- task{e, i}
	}
}

// split breaks a batch that comes back (its worker died, or the batch
// ran into its ack wait) into its jobs, each queued alone, so that one job
// that kills its workers cannot take its batch-mates to the dead letters
// with it. First the batch's key gets a marker, which tells the submitter
// to wait for each job under its own key; then the jobs are queued with
// their own keys as message ids, so a repeat of this (the worker dies
// half-way) queues none twice; only then is the batch acked. A batch
// whose key holds real results was run to the end: it is acked.
func (w *Worker) split(ctx context.Context, msg jetstream.Msg, key string, jobs []*jobMsg) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	_, err := w.sp.results.Create(ctx, key, splitMarker)
	if errors.Is(err, jetstream.ErrKeyExists) {
		var v jetstream.KeyValueEntry
		if v, err = w.sp.results.Get(ctx, key); err == nil {
			if _, split, _ := decodeBatchResult(v.Value(), len(jobs)); !split {
				_ = msg.Ack()
				return
			}
		}
	}
	if err != nil {
		w.log.Error("cluster: splitting a returned batch failed; it will be redelivered", "batch", key, "err", err)
		return
	}
	for _, j := range jobs {
		data, err := json.Marshal(j)
		if err == nil {
			_, err = w.sp.js.Publish(ctx, msg.Subject(), data, jetstream.WithMsgID(j.Key))
		}
		if err != nil {
			w.log.Error("cluster: splitting a returned batch failed; it will be redelivered", "batch", key, "err", err)
			return
		}
	}
	_ = msg.Ack()
}

// runsRecorded returns how many times a redelivered job has run by the
// count recordRun keeps; 0 when it has none.
func (w *Worker) runsRecorded(ctx context.Context, key string) int {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	v, err := w.sp.results.Get(ctx, runsPrefix+key)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(string(v.Value()))
	return n
}

// recordRun records, before a redelivered job runs again, that it ran
// once more: should it kill this worker too, the next worker knows.
func (w *Worker) recordRun(e *entry) {
	ctx, cancel := context.WithTimeout(e.ctx, storeTimeout)
	defer cancel()
	if _, err := w.sp.results.Put(ctx, runsPrefix+e.key, []byte(strconv.Itoa(e.runs))); err != nil {
		w.log.Warn("cluster: recording a run of a redelivered job failed", "job", e.key, "err", err)
	}
}

// finish forgets a job: no more heartbeats. Unless it was acked, the
// server redelivers it after AckWait.
func (w *Worker) finish(e *entry) {
	e.stop()
	for _, stop := range e.stops {
		stop()
	}
	w.mu.Lock()
	delete(w.entries, e)
	w.mu.Unlock()
	w.unended.Done()
}

// free gives a job's slot back and wakes the pull loop.
func (w *Worker) free(long bool) {
	changed := w.lastLong.Swap(long) != long
	// While a batch holds more jobs than the worker has room for, the
	// pull loop has nothing to do: do not wake it for every job.
	if h := w.held.Add(-1); !changed && h >= int64(w.slots+w.prefetch) {
		return
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// heartbeat tells the server, every third of the consumer's AckWait, that each held job, queued
// or running, is still being worked on.
func (w *Worker) heartbeat(done <-chan struct{}) {
	// The period follows the consumer, which a reconnect may replace.
	period := time.Duration(w.consumerAckWait.Load()) / 3
	t := time.NewTicker(period)
	defer t.Stop()
	var held []*entry
	for {
		select {
		case <-t.C:
		case <-done:
			return
		}
		if p := time.Duration(w.consumerAckWait.Load()) / 3; p != period {
			period = p
			t.Reset(p)
		}
		held = held[:0]
		w.mu.Lock()
		for e := range w.entries {
			held = append(held, e)
		}
		w.mu.Unlock()
		for _, e := range held {
			_ = e.msg.InProgress()
		}
	}
}

func (w *Worker) onCancel(m *nats.Msg) {
	k := m.Subject[len(CancelSubject)+1:]
	run := cancelsRun(k)
	if run {
		w.reg.cancel(k)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for e := range w.entries {
		for i, j := range e.jobs {
			if j.Key == k || run && strings.HasPrefix(j.Key, k+".") {
				e.stops[i]()
			}
		}
	}
}

// handle runs one job of a held entry on the calling slot goroutine and,
// after the entry's last job, starts storing its result. The slot is free
// again as soon as the job's process is over: Concurrency bounds running
// jobs, not network round trips.
func (w *Worker) handle(t task, slot int) {
	e := t.e
	w.mu.Lock()
	// A job of a cancelled run that has not started is dropped: its run
	// wants no result of it.
	dropped := !e.started && !e.returned && w.reg.isCancelled(e.key)
	skip := e.returned || dropped || (!e.started && w.draining.Load())
	nak := skip && !e.returned && !dropped
	gone := !skip && e.moved[t.i]
	switch {
	case skip:
		e.returned = true
	case !gone:
		e.started, e.begun[t.i] = true, true
	}
	w.mu.Unlock()
	if gone {
		// Queued again on its own while it waited here; its result
		// comes from wherever it runs.
		w.free(false)
		w.settle(e, t.i, &resultMsg{Seq: e.jobs[t.i].Seq, Host: w.cfg.Host, Moved: true})
		return
	}
	if skip {
		// Handed back, or draining before any of its jobs started.
		if nak {
			_ = e.msg.Nak()
		}
		if dropped {
			_ = e.msg.Ack()
		}
		w.free(false)
		if e.left.Add(-1) == 0 {
			w.finish(e)
		}
		return
	}
	if e.runs > 0 {
		w.recordRun(e)
	}
	var long *time.Timer
	if w.prefetch > 0 {
		long = time.AfterFunc(PrefetchBelow, w.handBack)
	}
	w.reg.jobStarted(e.jobs[t.i].Key)
	w.metrics.jobStarted(e, t.i)
	res := w.run(e.ctxs[t.i], e.jobs[t.i], slot)
	w.metrics.jobEnded(res)
	w.reg.jobEnded(e.jobs[t.i].Key)
	if long != nil {
		long.Stop()
	}
	w.free(res.Runtime >= PrefetchBelow)
	w.settle(e, t.i, res)
}

// settle records the result of an entry's job i and, after its last job,
// starts storing the entry's results.
func (w *Worker) settle(e *entry, i int, res *resultMsg) {
	res.Key = e.jobs[i].Key
	e.res[i] = res
	if e.left.Add(-1) != 0 {
		return
	}
	if err := w.store(e); err != nil {
		w.log.Error("cluster: storing a result failed; the job will be redelivered", "job", e.key, "err", err)
		w.finish(e)
	}
}

// handBack runs when a job turns out long: the jobs prefetched behind it
// go back to the queue, where an idle worker can take them, instead of
// waiting for it. A hand-back counts as a delivery, so a job near its
// last delivery is kept rather than risk dead-lettering one that never
// ran. The jobs of a started batch that still wait for a slot here are
// queued again each on its own (move), so that they neither wait behind
// the long job nor hold their results back until it ends.
func (w *Worker) handBack() {
	w.lastLong.Store(true)
	type job struct {
		e *entry
		i int
	}
	var back []*entry
	var moves []job
	w.mu.Lock()
	for e := range w.entries {
		switch {
		case !e.started && !e.returned && !w.lastDeliveryNext(e.delivered):
			e.returned = true
			back = append(back, e)
		case e.batch && e.started && !w.draining.Load():
			for i := range e.jobs {
				if !e.begun[i] && !e.moved[i] {
					moves = append(moves, job{e, i})
				}
			}
		}
	}
	w.mu.Unlock()
	for _, e := range back {
		_ = e.msg.Nak()
	}
	for _, m := range moves {
		w.move(m.e, m.i)
	}
}

// move queues job i of batch e again as a message of its own, with the
// job's key as its Nats-Msg-Id (a second move of it is stored once), and
// marks it moved unless a slot here took it meanwhile; then it runs in
// both places, which at-least-once allows, and the first result stored
// wins. If the publish fails, the job stays and runs here.
func (w *Worker) move(e *entry, i int) {
	data, err := json.Marshal(e.jobs[i])
	if err == nil {
		ctx, cancel := context.WithTimeout(e.ctx, storeTimeout)
		_, err = w.sp.js.Publish(ctx, e.msg.Subject(), data, jetstream.WithMsgID(e.jobs[i].Key))
		cancel()
	}
	if err != nil {
		w.log.Warn("cluster: moving a job out of its batch failed; it runs here", "job", e.jobs[i].Key, "err", err)
		return
	}
	w.mu.Lock()
	if !e.begun[i] {
		e.moved[i] = true
	}
	w.mu.Unlock()
}

// run runs job m in the worker's job slot slot (1 to Concurrency), which
// the job sees as PARALLEL_JOBSLOT, and this host's name as
// PARALLEL_SSHHOST and PARALLEL_SSHLOGIN, as GNU parallel tells a job on
// a remote host.
func (w *Worker) run(ctx context.Context, m *jobMsg, slot int) *resultMsg {
	job, ex := m.job(), w.executorFor(m)
	job.Slot = slot
	job.Env = runner.SetJobEnv(job.Env, runner.EnvJobSlot, strconv.Itoa(slot))
	job.Env = runner.SetJobEnv(job.Env, runner.EnvSSHHost, w.cfg.Host)
	job.Env = runner.SetJobEnv(job.Env, runner.EnvSSHLogin, w.cfg.Host)
	var jd *jobDir
	if m.Files != nil {
		var err error
		if jd, err = w.placeFiles(ctx, m); err != nil {
			return &resultMsg{Seq: m.Seq, Host: w.cfg.Host, Start: time.Now(), Exit: -1, Err: err.Error()}
		}
		// runner.Local runs a job with a WorkDir there.
		job.Files = &runner.Files{WorkDir: jd.dir}
	}
	if m.StdinOb != "" {
		b, err := w.sp.output.GetBytes(ctx, m.StdinOb)
		if err != nil {
			return &resultMsg{Seq: m.Seq, Host: w.cfg.Host, Start: time.Now(), Exit: -1,
				Err: fmt.Sprintf("fetch input: %v", err)}
		}
		job.Stdin = b
	}
	var r runner.Result
	var stdout, stderr []byte
	// A fresh pair of files per job: a job's straggling background process
	// may still write into its files after the job ends.
	fo, _, erro := child.OutputFile()
	fe, _, erre := child.OutputFile()
	if erro == nil && erre == nil {
		// The job writes straight into the files, as crew run's local
		// jobs do: no pipes, no copying goroutines, no wake-ups per write.
		r = ex.Exec(ctx, job, fo, fe)
		var err error
		stdout, err = child.ReadOutput(fo)
		if err == nil {
			stderr, err = child.ReadOutput(fe)
		} else {
			fe.Close()
		}
		if err != nil && r.Err == nil {
			r.Err = fmt.Errorf("read output: %w", err)
		}
	} else {
		if erro == nil {
			fo.Close()
		}
		if erre == nil {
			fe.Close()
		}
		var bo, be bytes.Buffer
		r = ex.Exec(ctx, job, &bo, &be)
		stdout, stderr = bo.Bytes(), be.Bytes()
	}
	res := &resultMsg{
		Seq: m.Seq, Host: w.cfg.Host, Start: r.Start, Runtime: r.Runtime, Exit: r.Exit,
		Signal: r.Signal, TimedOut: r.TimedOut, Send: r.Send, Receive: r.Receive,
		Stdout: stdout, Stderr: stderr,
	}
	if r.Err != nil {
		res.Err = r.Err.Error()
	}
	if jd != nil {
		var err error
		res.Returned, err = w.collectFiles(ctx, m, jd)
		if err != nil && res.Err == "" {
			res.Err = err.Error()
		}
		if m.Files.Cleanup {
			w.cleanFiles(jd)
		}
	}
	return res
}

// executorFor returns what runs job m: the worker's Executor, which, when
// it is a runner.Local, stops m along the termination sequence that m's
// submitter asked for (crew run --term-seq), as a local run would.
func (w *Worker) executorFor(m *jobMsg) runner.Executor {
	seq := m.termSeq()
	if seq == nil {
		return w.cfg.Executor
	}
	switch l := w.cfg.Executor.(type) {
	case runner.Local:
		l.TermSeq = seq
		return l
	case *runner.Local:
		c := *l
		c.TermSeq = seq
		return c
	case *abortable: // an SSH run's worker (ServeSSHWorker)
		return l.withTermSeq(seq)
	}
	return w.cfg.Executor
}
