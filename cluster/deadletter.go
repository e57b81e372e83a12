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

// onDead handles a job the server stopped delivering: the message stays
// in the work queue, so it is copied to the dead-letter stream, a failed
// result is recorded for the waiting submitter, and the job is removed.
// Workers share this through a queue group, so one of them does it.
func (w *Worker) onDead(m *nats.Msg) {
	var adv maxDeliveries
	if err := json.Unmarshal(m.Data, &adv); err != nil || adv.StreamSeq == 0 {
		return
	}
	ctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := w.bury(ctx, adv); err != nil {
		w.Logger.Error("cluster: dead-lettering a job failed", "stream_seq", adv.StreamSeq, "err", err)
	}
}

func (w *Worker) bury(ctx context.Context, adv maxDeliveries) error {
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
	return w.entomb(ctx, raw.Data, fmt.Sprintf("no result after %d deliveries", adv.Deliveries), remove)
}

// buryHeld dead-letters a redelivered job that has run as often as the
// workers allow; the job's message is acked, which removes it.
func (w *Worker) buryHeld(ctx context.Context, msg jetstream.Msg, runs int) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	remove := func() error { return msg.Ack() }
	if err := w.entomb(ctx, msg.Data(), fmt.Sprintf("no result after %d runs", runs), remove); err != nil {
		// Not acked: it comes back after AckWait and is tried again.
		w.Logger.Error("cluster: dead-lettering a job failed", "err", err)
	}
}

// entomb copies a job's message to the dead letters, records a failed
// result for each of its jobs, then removes the message. A message whose
// result is stored ran to the end (only its ack was lost): it is just
// removed.
func (w *Worker) entomb(ctx context.Context, data []byte, why string, remove func() error) error {
	key, jobs, batch, err := decodeJobs(data)
	if err != nil {
		_ = remove()
		return err
	}
	if _, err := w.sp.results.Get(ctx, key); err == nil {
		w.Logger.Info("cluster: job reached its last delivery with its result stored; removing it", "job", key)
		return remove()
	}
	if _, err := w.sp.js.Publish(ctx, DeadSubject+"."+key, data, jetstream.WithMsgID(key)); err != nil {
		return fmt.Errorf("cluster: publish dead letter: %w", err)
	}
	dead := make([]resultMsg, len(jobs))
	for i, j := range jobs {
		dead[i] = resultMsg{Seq: j.Seq, Host: w.Host, Start: time.Now(), Exit: -1, Dead: true, Err: why}
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
	w.Logger.Warn("cluster: job dead-lettered", "job", key, "why", why)
	return remove()
}
