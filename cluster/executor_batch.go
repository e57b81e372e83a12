package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultBatch is ExecutorConfig.Batch's default: the most jobs an Executor puts
// in one message.
const DefaultBatch = 64

// testHookHold, set only by tests (see export_test.go), reports whether
// e holds its queued jobs back instead of sending them, so that a test can
// queue jobs that then leave in full batches.
var testHookHold func(e *Executor) bool

// Batching rules. A batch's jobs run on one worker and their results come
// back together, so only jobs expected to end quickly are batched: a
// batch is sized so that its jobs, one after another, take about
// batchSpan by the average run time seen so far. A batch never holds more
// than an eighth of the jobs in flight, so the work still spreads over
// the workers. Jobs wait, up to maxHold, for a batch to fill while the
// server has not yet confirmed the last message (it is busy: sending more
// messages would only queue them), or while the jobs sent and unanswered
// amount to at least queuedWork of run time (the workers have plenty to
// do); otherwise they leave at once.
const (
	batchSpan  = 30 * time.Millisecond
	maxHold    = batchSpan
	queuedWork = 4 * batchSpan
)

// A pending job waits in the Executor's queue, then for its result.
type pending struct {
	key     string
	data    []byte      // the job's encoding
	ch      chan answer // its result or why it could not be sent; one value
	at      time.Time   // when it was queued
	msg     atomic.Pointer[sentMsg]
	dropped atomic.Bool // its Exec gave up before it was sent
	// sent, with ExecutorConfig.SubmitOnly, receives its message once
	// sent; the message's acked then closes when the server stored it.
	sent chan *sentMsg
}

// A sentMsg is one message of the jobs stream, shared by the jobs it
// carries: once every one of them is cancelled, the message is deleted
// from the queue, unless a worker holds it already.
type sentMsg struct {
	key   string        // its results' key
	seq   atomic.Uint64 // its stream sequence, once the server confirmed it
	live  atomic.Int32  // its jobs not cancelled
	acked chan struct{} // closed once the server confirmed it
}

// An answer is a job's result, or the error that kept the job from the
// queue or its result from being read.
type answer struct {
	res *resultMsg
	err error
}

// A waiter waits for the result stored under one key. A job's has one
// channel. A batch's has one per job, and each of its jobs also waits
// under its own key, where its result comes if a worker moved the job out
// of the batch or split the batch (see Worker); whichever answers a job
// first marks it done. Guarded by Executor.mu.
type waiter struct {
	chs    []chan answer
	keys   []string // a batch's: its jobs' keys
	done   []bool   // a batch's: its jobs already answered
	parent *waiter  // a batch job's own waiter: the batch's
	idx    int      // its index in parent
}

// take removes the waiter registered under k and marks every job it
// answers as done, returning the channels still to answer: one for a
// job, the not yet answered ones for a batch.
func (e *Executor) take(k string) []chan answer {
	wt, ok := e.waiters[k]
	if !ok {
		return nil
	}
	delete(e.waiters, k)
	if wt.keys == nil {
		if wt.parent != nil {
			wt.parent.done[wt.idx] = true
		}
		return wt.chs
	}
	var chs []chan answer
	for i, ch := range wt.chs {
		if !wt.done[i] {
			wt.done[i] = true
			delete(e.waiters, wt.keys[i])
			chs = append(chs, ch)
		}
	}
	return chs
}

// resolve hands the value stored under key k to the Execs waiting for it.
func (e *Executor) resolve(k string, v []byte) {
	e.mu.Lock()
	wt, ok := e.waiters[k]
	if !ok && e.kept != nil {
		e.keep(k, v)
		e.mu.Unlock()
		return
	}
	if !ok || wt.keys == nil {
		chs := e.take(k)
		e.mu.Unlock()
		if len(chs) > 0 {
			res, err := decodeResult(v)
			for _, ch := range chs {
				ch <- answer{res: res, err: err}
			}
		}
		e.settle(len(chs))
		return
	}
	e.mu.Unlock()
	results, split, err := decodeBatchResult(v, len(wt.chs))
	e.mu.Lock()
	delete(e.waiters, k)
	if split {
		// Every job's result comes under its own key, where it waits.
		e.mu.Unlock()
		return
	}
	n := 0
	for i, ch := range wt.chs {
		if wt.done[i] || (err == nil && results[i].Moved) {
			continue // answered already, or to come under its own key
		}
		wt.done[i] = true
		delete(e.waiters, wt.keys[i])
		n++
		// Buffered for its one answer: never blocks.
		if err != nil {
			ch <- answer{err: err}
		} else {
			ch <- answer{res: &results[i]}
		}
	}
	e.mu.Unlock()
	e.settle(n)
}

// abandon answers every Exec still waiting under k with err.
func (e *Executor) abandon(k string, err error) {
	e.mu.Lock()
	chs := e.take(k)
	e.mu.Unlock()
	for _, ch := range chs {
		ch <- answer{err: err}
	}
	e.settle(len(chs))
}

// settle counts n jobs as answered.
func (e *Executor) settle(n int) {
	if n > 0 {
		e.unfinished.Add(-int64(n))
		e.wake()
	}
}

func (e *Executor) enqueue(p *pending) {
	e.qmu.Lock()
	e.queue = append(e.queue, p)
	e.qmu.Unlock()
	e.wake()
}

// wake tells the batcher that a job was queued or answered.
func (e *Executor) wake() {
	select {
	case e.queueMoved <- struct{}{}:
	default:
	}
}

// observe feeds a job's run time into the average that sizes batches:
// the plain mean of the first eight, so that one slow start does not
// turn batching off for long, then a moving average that gives each new
// run time an eighth of the weight.
func (e *Executor) observe(d time.Duration) {
	n := min(e.runtimes.Add(1), 8)
	for {
		old := e.avgRuntime.Load()
		v := int64(max(d, 0))
		if old >= 0 {
			v = old + (v-old)/n
		}
		if e.avgRuntime.CompareAndSwap(old, v) {
			return
		}
	}
}

// batchSize is how many queued jobs the next message may carry.
func (e *Executor) batchSize(queued int) int {
	b := e.cfg.Batch
	if e.kept != nil {
		b = 1 // an attach sends only jobs with no result: few
	}
	if b == 0 {
		b = DefaultBatch
	}
	rt := e.avgRuntime.Load()
	if b <= 1 || rt < 0 {
		return 1 // batching off, or no job has ended yet
	}
	if rt > 0 {
		b = min(b, int(batchSpan/time.Duration(rt)))
	}
	b = min(b, (queued+int(e.unfinished.Load()))/8)
	return max(b, 1)
}

// batcher sends queued jobs until the Executor is closed.
func (e *Executor) batcher() {
	hold := time.NewTimer(time.Hour)
	hold.Stop()
	defer hold.Stop()
	for {
		select {
		case <-e.queueMoved:
		case <-hold.C:
		case <-e.alive.Done():
			return
		}
		for {
			ps, wait := e.next()
			if wait > 0 {
				hold.Reset(wait)
				break
			}
			if len(ps) == 0 {
				break
			}
			e.send(ps)
		}
	}
}

// next takes the jobs for the next message off the queue, or says how
// long to wait for a fuller batch.
func (e *Executor) next() ([]*pending, time.Duration) {
	e.qmu.Lock()
	defer e.qmu.Unlock()
	if testHookHold != nil && testHookHold(e) {
		return nil, 0 // a test fills the queue first
	}
	// Jobs whose Exec gave up stay unsent.
	live := e.queue[:0]
	for _, p := range e.queue {
		if !p.dropped.Load() {
			live = append(live, p)
		}
	}
	clear(e.queue[len(live):])
	e.queue = live
	n := len(e.queue)
	if n == 0 {
		return nil, 0
	}
	b := e.batchSize(n)
	busy := e.unacked.Load() > 0 ||
		time.Duration(e.unfinished.Load()*e.avgRuntime.Load()) >= queuedWork
	if b > 1 && n < b && busy {
		if wait := maxHold - time.Since(e.queue[0].at); wait > 0 {
			return nil, wait
		}
	}
	take, size := 0, 0
	for take < min(n, b) && (take == 0 || size+len(e.queue[take].data) <= e.maxIn) {
		size += len(e.queue[take].data)
		take++
	}
	ps := make([]*pending, take)
	copy(ps, e.queue)
	rest := copy(e.queue, e.queue[take:])
	clear(e.queue[rest:])
	e.queue = e.queue[:rest]
	return ps, 0
}

// send publishes one message holding ps: the job itself when alone, a
// batch otherwise. Its result's waiter is in place before the publish.
func (e *Executor) send(ps []*pending) {
	wt := &waiter{chs: make([]chan answer, len(ps))}
	for i, p := range ps {
		wt.chs[i] = p.ch
	}
	key, data := ps[0].key, ps[0].data
	if batch := len(ps) > 1; batch {
		wt.keys, wt.done = make([]string, len(ps)), make([]bool, len(ps))
		for i, p := range ps {
			wt.keys[i] = p.key
		}
		key = e.run + ".b" + strconv.FormatInt(e.batches.Add(1), 10)
		jobs := make([][]byte, len(ps))
		for i, p := range ps {
			jobs[i] = p.data
		}
		var err error
		if data, err = encodeBatch(key, jobs); err != nil {
			for _, ch := range wt.chs {
				ch <- answer{err: err}
			}
			return
		}
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		for _, ch := range wt.chs {
			ch <- answer{err: ErrClosed}
		}
		return
	}
	if len(ps) == 1 && e.kept != nil {
		// Its result came while it waited here: nothing to publish.
		if res := e.kept[key]; res != nil {
			delete(e.kept, key)
			e.mu.Unlock()
			ps[0].ch <- answer{res: res}
			return
		}
	}
	e.waiters[key] = wt
	for i, k := range wt.keys {
		e.waiters[k] = &waiter{chs: wt.chs[i : i+1], parent: wt, idx: i}
	}
	e.mu.Unlock()
	sm := &sentMsg{key: key, acked: make(chan struct{})}
	sm.live.Store(int32(len(ps)))
	for _, p := range ps {
		p.msg.Store(sm)
		if p.sent != nil {
			p.sent <- sm
		}
	}
	e.unfinished.Add(int64(len(ps)))
	e.sentJobs.Add(int64(len(ps)))
	e.sentMsgs.Add(1)
	e.unacked.Add(1)
	msg := &nats.Msg{Subject: e.subject, Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, key)
	go e.deliver(key, msg, sm)
}

// deliver waits for the server to store msg. A publish whose ack is lost
// with the connection is repeated with back-off for about 6 s (the
// Nats-Msg-Id makes a repeat harmless); a refusal by the stream (say,
// full) fails its jobs at once. While the server is away, the reconnect
// window decides.
func (e *Executor) deliver(key string, msg *nats.Msg, sm *sentMsg) {
	ctx, stop := context.WithCancel(e.alive)
	defer stop()
	defer context.AfterFunc(e.broken, stop)()
	defer func() {
		e.unacked.Add(-1)
		e.wake()
	}()
	retry := retryBackoff()
	for {
		paf, err := e.publish(ctx, msg)
		if err == nil {
			select {
			case ack := <-paf.Ok():
				sm.seq.Store(ack.Sequence)
				close(sm.acked)
				if sm.live.Load() == 0 {
					e.unqueue(ack.Sequence) // cancelled while in flight
				}
				return
			case err = <-paf.Err():
			case <-ctx.Done():
				return // the Execs see why themselves
			}
		}
		var ae *jetstream.APIError
		if errors.As(err, &ae) || ctx.Err() != nil ||
			(retry.Peek() > republishFor && e.nc.IsConnected()) || retry.Sleep(ctx) != nil {
			e.abandon(key, fmt.Errorf("submit: %w", err))
			return
		}
	}
}
