package natstest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// PublishAckDrain measures JetStream's own ceiling for a work queue on the
// server at url: it publishes n messages of size bytes (asynchronously, as
// fast as the server acknowledges) to a fresh WorkQueue stream while one
// pull consumer fetches and acknowledges them, and returns the time until
// the last message was acknowledged. Benchmarks compare crew's job rate
// with it.
func PublishAckDrain(ctx context.Context, url string, n, size int) (time.Duration, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return 0, err
	}
	name := fmt.Sprintf("CEILING_%d", time.Now().UnixNano())
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: name, Subjects: []string{name + ".>"},
		Retention: jetstream.WorkQueuePolicy, Discard: jetstream.DiscardNew, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return 0, err
	}
	defer js.DeleteStream(context.WithoutCancel(ctx), name)
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "drain", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: -1,
	})
	if err != nil {
		return 0, err
	}
	payload := make([]byte, size)
	start := time.Now()
	var wg sync.WaitGroup
	var consumeErr error
	wg.Go(func() {
		for got := 0; got < n; {
			batch, err := cons.Fetch(min(n-got, 512), jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				consumeErr = err
				return
			}
			for m := range batch.Messages() {
				_ = m.Ack()
				got++
			}
			if err := batch.Error(); err != nil {
				consumeErr = err
				return
			}
		}
	})
	for i := 0; i < n; i++ {
		if _, err := js.PublishAsync(name+".x", payload, jetstream.WithStallWait(30*time.Second)); err != nil {
			return 0, err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	wg.Wait()
	if consumeErr != nil {
		return 0, consumeErr
	}
	// Acks are fire-and-forget; a flush makes sure the server has them all.
	if err := nc.Flush(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
