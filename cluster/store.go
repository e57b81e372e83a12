package cluster

import (
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
// server's ack, and a result that fails maxStoreTries times is dropped; its
// job is then redelivered after AckWait.
const (
	storeTimeout  = 5 * time.Second
	maxStoreTries = 5
)

// store starts recording the entry's results under its key unless a
// result is already there: a job executes at least once, but its result is
// recorded once. The message is acked when the server confirms
// (onStored), not here. Output that would not fit in the message goes to
// the object store: a job's output stays inline while the entry's inline
// outputs together fit in half a message.
func (w *Worker) store(e *entry) error {
	room := w.maxIn
	for _, res := range e.res {
		for _, ref := range res.Returned {
			if ref.Object != "" {
				e.objects = append(e.objects, ref.Object)
			}
		}
	}
	for i, res := range e.res {
		n := len(res.Stdout) + len(res.Stderr)
		if n <= room {
			room -= n
			continue
		}
		obj := "out." + e.jobs[i].Key + "." + nuid.Next()
		if _, err := w.sp.output.PutBytes(e.ctx, obj, packOutput(res.Stdout, res.Stderr)); err != nil {
			return fmt.Errorf("cluster: store output: %w", err)
		}
		e.objects = append(e.objects, obj)
		res.Stdout, res.Stderr = nil, nil
		res.Object = obj
	}
	var data []byte
	var err error
	if e.batch {
		br := batchResultMsg{Results: make([]resultMsg, len(e.res))}
		for i, r := range e.res {
			br.Results[i] = *r
		}
		data, err = json.Marshal(&br)
	} else {
		data, err = json.Marshal(e.res[0])
	}
	if err != nil {
		return fmt.Errorf("cluster: encode result: %w", err)
	}
	m := &nats.Msg{Subject: resultsPrefix + e.key, Data: data, Header: nats.Header{}}
	m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
	w.publishResult(e, m)
	return nil
}

func (w *Worker) publishResult(e *entry, m *nats.Msg) {
	w.mu.Lock()
	w.storing[m] = e
	e.storeTries++
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
		if objs := e.objects; len(objs) > 0 {
			go func() {
				ctx, stop := context.WithTimeout(context.Background(), storeTimeout)
				defer stop()
				for _, obj := range objs {
					_ = w.sp.output.Delete(ctx, obj)
				}
			}()
		}
		_ = e.msg.Ack()
		w.finish(e)
		return
	}
	if e.storeTries >= maxStoreTries {
		w.log.Error("cluster: storing a result failed; the job will be redelivered", "job", e.key, "err", err)
		w.finish(e)
		return
	}
	time.AfterFunc(e.storeRetry.Next(), func() { w.publishResult(e, m) })
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
