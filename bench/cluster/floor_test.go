package clusterbench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"crew/internal/natstest"
)

// protocolFloor runs the message pattern a cluster job needs, with no crew
// code at all: n 100-byte jobs published asynchronously (with a
// Nats-Msg-Id) to a work-queue stream; two consumers, each on its own
// connection, take them 128 at a time, create a 100-byte result per job
// in a per-subject stream (expected last subject sequence 0) and ack the
// job once the result is confirmed; the submitter reads the results with
// an ordered consumer. It returns the time until the last result arrived.
func protocolFloor(ctx context.Context, url string, n int) (time.Duration, error) {
	name := fmt.Sprintf("FLOOR_%d", time.Now().UnixNano())
	nc, err := nats.Connect(url)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(1<<16))
	if err != nil {
		return 0, err
	}
	jobs, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name + "_J", Subjects: []string{name + ".j.>"},
		Retention: jetstream.WorkQueuePolicy, Discard: jetstream.DiscardNew, Storage: jetstream.FileStorage})
	if err != nil {
		return 0, err
	}
	defer js.DeleteStream(context.WithoutCancel(ctx), name+"_J")
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name + "_R", Subjects: []string{name + ".r.>"},
		MaxMsgsPerSubject: 1, Storage: jetstream.FileStorage}); err != nil {
		return 0, err
	}
	defer js.DeleteStream(context.WithoutCancel(ctx), name+"_R")
	cons, err := jobs.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "w",
		AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: -1})
	if err != nil {
		return 0, err
	}
	payload := make([]byte, 100)
	for range 2 {
		wc, err := nats.Connect(url)
		if err != nil {
			return 0, err
		}
		defer wc.Close()
		var mu sync.Mutex
		pending := map[*nats.Msg]jetstream.Msg{}
		wjs, err := jetstream.New(wc, jetstream.WithPublishAsyncMaxPending(1<<16),
			jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, m *nats.Msg, _ *jetstream.PubAck) {
				mu.Lock()
				job := pending[m]
				delete(pending, m)
				mu.Unlock()
				_ = job.Ack()
			}))
		if err != nil {
			return 0, err
		}
		cc, err := cons.Consume(func(job jetstream.Msg) {
			m := &nats.Msg{Subject: name + ".r." + job.Subject()[len(name)+3:], Data: payload, Header: nats.Header{}}
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
			mu.Lock()
			pending[m] = job
			mu.Unlock()
			_, _ = wjs.PublishMsgAsync(m)
		}, jetstream.PullMaxMessages(128))
		if err != nil {
			return 0, err
		}
		defer cc.Stop()
	}
	got := make(chan struct{}, n)
	oc, err := js.OrderedConsumer(ctx, name+"_R", jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	rc, err := oc.Consume(func(jetstream.Msg) { got <- struct{}{} })
	if err != nil {
		return 0, err
	}
	defer rc.Stop()
	for i := range n {
		m := &nats.Msg{Subject: name + ".j." + strconv.Itoa(i), Data: payload, Header: nats.Header{}}
		m.Header.Set(jetstream.MsgIDHeader, strconv.Itoa(i))
		if _, err := js.PublishMsgAsync(m); err != nil {
			return 0, err
		}
	}
	for range n {
		select {
		case <-got:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return time.Since(start), nil
}

// BenchmarkFloor measures the bare JetStream pattern of a cluster job
// (protocolFloor) against the work-queue ceiling and against crew itself,
// all in the same iteration: how much of the gap to the ceiling is the
// protocol's, and how much is crew's.
func BenchmarkFloor(b *testing.B) {
	const n = 10000
	e, url := startCluster(b, noop{}, 2, 128)
	var ceiling, floor, crew time.Duration
	for b.Loop() {
		d, err := natstest.PublishAckDrain(context.Background(), url, n, 100)
		if err != nil {
			b.Fatal(err)
		}
		ceiling += d
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		d, err = protocolFloor(ctx, url, n)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		floor += d
		crew += runDirect(b, e, n, noopWindow)
	}
	report(b, "jetstream", ceiling, "floor", floor)
	b.ReportMetric(ceiling.Seconds()/crew.Seconds(), "crew/jetstream-rate")
	b.ReportMetric(floor.Seconds()/crew.Seconds(), "crew/floor-rate")
}
