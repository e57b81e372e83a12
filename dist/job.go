package dist

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Bounds on storing one result: each try waits storeTimeout for the
// server's ack, and a result that fails storeTries times is dropped; its
// job is then redelivered after AckWait.
const (
	storeTimeout = 5 * time.Second
	storeTries   = 5
)

// resultsPrefix is the subject of results-bucket keys: a create is a
// publish there that expects no earlier message on the key's subject.
const resultsPrefix = "$KV." + ResultsBucket + "."

// An entry is one job a worker holds, from its delivery to its ack.
type entry struct {
	msg    jetstream.Msg
	job    *jobMsg
	ctx    context.Context
	stop   context.CancelFunc
	object string // output stored in the object store, if any
	tries  int
	back   backoff

	delivered uint64 // deliveries so far, this one included
	// Guarded by Worker.mu:
	started  bool // a slot took it
	returned bool // handed back to the queue unstarted
}

// accept takes a delivered job into the worker: heartbeated from now on,
// and queued for the next free slot.
func (w *Worker) accept(ctx context.Context, msg jetstream.Msg) {
	m, err := decodeJob(msg.Data())
	if err != nil {
		w.Logger.Error("dist: dropping an unreadable job", "err", err)
		_ = msg.Term()
		return
	}
	e0 := uint64(1)
	if meta, err := msg.Metadata(); err == nil {
		e0 = meta.NumDelivered
	}
	if w.lastLong.Load() && w.held.Load() >= int64(w.slots) && !w.nearLast(e0) {
		// A pull issued before a job turned out long brought a job that
		// would wait behind it.
		_ = msg.Nak()
		return
	}
	// Jobs run on a context detached from Run's, so draining lets them
	// finish; only a cancel message stops one.
	jctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	e := &entry{msg: msg, job: m, ctx: jctx, stop: stop, delivered: e0}
	w.open.Add(1)
	w.mu.Lock()
	w.entries[e] = struct{}{}
	w.mu.Unlock()
	w.held.Add(1)
	w.ready <- e
}

// finish forgets a job: no more heartbeats. Unless it was acked, the
// server redelivers it after AckWait.
func (w *Worker) finish(e *entry) {
	e.stop()
	w.mu.Lock()
	delete(w.entries, e)
	w.mu.Unlock()
	w.open.Done()
}

// free gives a job's slot back and wakes the pull loop.
func (w *Worker) free(long bool) {
	w.lastLong.Store(long)
	w.held.Add(-1)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// heartbeat tells the server, every third of the consumer's AckWait, that each held job, queued
// or running, is still being worked on.
func (w *Worker) heartbeat(done <-chan struct{}) {
	// The period follows the consumer, which a reconnect may replace.
	period := w.curAckWait() / 3
	t := time.NewTicker(period)
	defer t.Stop()
	var held []*entry
	for {
		select {
		case <-t.C:
		case <-done:
			return
		}
		if p := w.curAckWait() / 3; p != period {
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
	w.mu.Lock()
	defer w.mu.Unlock()
	for e := range w.entries {
		if e.job.Key == k {
			e.stop()
		}
	}
}

// handle runs one held job on the calling slot goroutine and starts
// storing its result. The slot is free again as soon as the job's process
// is over: Concurrency bounds running jobs, not network round trips.
func (w *Worker) handle(e *entry) {
	w.mu.Lock()
	e.started = true
	returned := e.returned
	w.mu.Unlock()
	if returned || w.draining.Load() {
		if !returned {
			_ = e.msg.Nak()
		}
		w.free(false)
		w.finish(e)
		return
	}
	if e.delivered > 1 {
		// A worker may have stored the result and died before its ack.
		if _, err := w.sp.results.Get(e.ctx, e.job.Key); err == nil {
			_ = e.msg.Ack()
			w.free(false)
			w.finish(e)
			return
		}
	}
	var long *time.Timer
	if w.prefetch > 0 {
		long = time.AfterFunc(PrefetchBelow, w.handBack)
	}
	res := w.run(e.ctx, e.job)
	if long != nil {
		long.Stop()
	}
	w.free(res.Runtime >= PrefetchBelow)
	if err := w.store(e, res); err != nil {
		w.Logger.Error("dist: storing a result failed; the job will be redelivered", "job", e.job.Key, "err", err)
		w.finish(e)
	}
}

// handBack runs when a job turns out long: the jobs prefetched behind it
// go back to the queue, where an idle worker can take them, instead of
// waiting for it. A hand-back counts as a delivery, so a job near its
// last delivery is kept rather than risk dead-lettering one that never
// ran.
func (w *Worker) handBack() {
	w.lastLong.Store(true)
	var back []*entry
	w.mu.Lock()
	for e := range w.entries {
		if !e.started && !e.returned && !w.nearLast(e.delivered) {
			e.returned = true
			back = append(back, e)
		}
	}
	w.mu.Unlock()
	for _, e := range back {
		_ = e.msg.Nak()
	}
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

// store starts recording res under the job's key unless a result is
// already there: a job executes at least once, but its result is recorded
// once. The job is acked when the server confirms (onStored), not here.
func (w *Worker) store(e *entry, res *resultMsg) error {
	key := e.job.Key
	if len(res.Stdout)+len(res.Stderr) > w.maxIn {
		e.object = "out." + key + "." + nuid.Next()
		if _, err := w.sp.output.PutBytes(e.ctx, e.object, packOutput(res.Stdout, res.Stderr)); err != nil {
			return fmt.Errorf("dist: store output: %w", err)
		}
		res.Stdout, res.Stderr = nil, nil
		res.Object = e.object
	}
	data, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("dist: encode result: %w", err)
	}
	m := &nats.Msg{Subject: resultsPrefix + key, Data: data, Header: nats.Header{}}
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
	w.publishResult(e, m)
	return nil
}

func (w *Worker) publishResult(e *entry, m *nats.Msg) {
	w.mu.Lock()
	w.storing[m] = e
	e.tries++
	w.mu.Unlock()
	if _, err := w.rjs.PublishMsgAsync(m); err != nil {
		w.onStoreFailed(w.rjs, m, err)
	}
}

// onStored runs when the server has the result: only now is the job acked.
func (w *Worker) onStored(_ jetstream.JetStream, m *nats.Msg, _ *jetstream.PubAck) {
	if e := w.stored(m); e != nil {
		_ = e.msg.Ack()
		w.finish(e)
	}
}

func (w *Worker) onStoreFailed(_ jetstream.JetStream, m *nats.Msg, err error) {
	e := w.stored(m)
	if e == nil {
		return
	}
	if resultExists(err) {
		// Another execution recorded the job first; this one's output
		// is not needed.
		if e.object != "" {
			obj := e.object
			go func() {
				ctx, stop := context.WithTimeout(context.Background(), storeTimeout)
				defer stop()
				_ = w.sp.output.Delete(ctx, obj)
			}()
		}
		_ = e.msg.Ack()
		w.finish(e)
		return
	}
	if e.tries >= storeTries {
		w.Logger.Error("dist: storing a result failed; the job will be redelivered", "job", e.job.Key, "err", err)
		w.finish(e)
		return
	}
	d := e.back.peek()
	e.back.d = min(d*2, 30*time.Second)
	time.AfterFunc(d, func() { w.publishResult(e, m) })
}

func (w *Worker) stored(m *nats.Msg) *entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.storing[m]
	delete(w.storing, m)
	return e
}

// resultExists reports the server refusing a create because the key
// already has a value (the plain and the replicated-stream codes).
func resultExists(err error) bool {
	var ae *jetstream.APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}
