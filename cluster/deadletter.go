package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bounds on dead-lettering one job: copying it, recording its failed
// result and removing it.
const deadLetterTimeout = 10 * time.Second

// onMaxDeliveries handles a job the server stopped delivering (a job of a
// consumer with a server-side MaxDeliver, see maxRunsMeta): the message stays
// in the work queue, so it is copied to the dead-letter stream, a failed
// result is recorded for the waiting submitter, and the job is removed.
// Workers share this through a queue group, so one of them does it.
func (w *Worker) onMaxDeliveries(m *nats.Msg) {
	var adv maxDeliveries
	if err := json.Unmarshal(m.Data, &adv); err != nil || adv.StreamSeq == 0 {
		return
	}
	ctx, stop := context.WithTimeout(context.Background(), deadLetterTimeout)
	defer stop()
	if err := w.deadLetterAdvised(ctx, adv); err != nil {
		w.log.Error("cluster: dead-lettering a job failed", "stream_seq", adv.StreamSeq, "err", err)
	}
}

// deadLetterAdvised dead-letters the job a max-deliveries advisory names,
// reading it from the jobs stream by its sequence.
func (w *Worker) deadLetterAdvised(ctx context.Context, adv maxDeliveries) error {
	raw, err := w.sp.jobs.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // a late ack or another worker got there first
	}
	if err != nil {
		return err
	}
	remove := func() error {
		if err := w.sp.jobs.DeleteMsg(ctx, adv.StreamSeq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return err
		}
		return nil
	}
	return w.deadLetter(ctx, raw.Data, fmt.Sprintf("no result after %d deliveries", adv.Deliveries), remove)
}

// deadLetterHeld dead-letters a redelivered job, held by this worker,
// that has run as often as the workers allow; the job's message is acked,
// which removes it.
func (w *Worker) deadLetterHeld(ctx context.Context, msg jetstream.Msg, runs int) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deadLetterTimeout)
	defer cancel()
	remove := func() error { return msg.Ack() }
	if err := w.deadLetter(ctx, msg.Data(), fmt.Sprintf("no result after %d runs", runs), remove); err != nil {
		// Not acked: it comes back after AckWait and is tried again.
		w.log.Error("cluster: dead-lettering a job failed", "err", err)
	}
}

// deadLetter copies a job's message to the dead letters, records a failed
// result for each of its jobs, then removes the message. A message whose
// result is stored ran to the end (only its ack was lost): it is just
// removed.
func (w *Worker) deadLetter(ctx context.Context, data []byte, why string, remove func() error) error {
	key, jobs, batch, err := decodeJobs(data)
	if err != nil {
		_ = remove()
		return err
	}
	if _, err := w.sp.results.Get(ctx, key); err == nil {
		w.log.Info("cluster: job reached its last delivery with its result stored; removing it", "job", key)
		return remove()
	}
	if _, err := w.sp.js.Publish(ctx, DeadSubject+"."+key, data, jetstream.WithMsgID(key)); err != nil {
		return fmt.Errorf("cluster: publish dead letter: %w", err)
	}
	dead := make([]resultMsg, len(jobs))
	for i, j := range jobs {
		dead[i] = resultMsg{Key: j.Key, Seq: j.Seq, Host: w.cfg.Host, Start: time.Now(), Exit: -1, Dead: true, Err: why}
	}
	var res []byte
	if batch {
		res, err = json.Marshal(&batchResultMsg{Results: dead})
	} else {
		res, err = json.Marshal(&dead[0])
	}
	if err != nil {
		return err
	}
	if _, err := w.sp.results.Create(ctx, key, res); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("cluster: record dead job: %w", err)
	}
	w.log.Warn("cluster: job dead-lettered", "job", key, "why", why)
	w.metrics.jobs.dead.Add(float64(len(jobs)))
	return remove()
}
