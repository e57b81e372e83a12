package cluster_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"crew/cluster"
	"crew/runner"
)

// slowLink listens on loopback and forwards every connection to target,
// each byte arriving delay after it was sent, in both directions: a link
// with a round trip of twice delay, as between a worker and a broker far
// away (or an SSH forward over a WAN).
func slowLink(tb testing.TB, target string, delay time.Duration) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	tb.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			wg.Go(func() { delayCopy(out, in, delay) })
			wg.Go(func() { delayCopy(in, out, delay) })
		}
	})
	return "nats://" + l.Addr().String()
}

// delayCopy copies src to dst, each chunk delay after it was read, in
// order; it closes both ends when either fails.
func delayCopy(dst, src net.Conn, delay time.Duration) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		for {
			b := make([]byte, 32<<10)
			n, err := src.Read(b)
			if n > 0 {
				q <- chunk{b[:n], time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	for range q {
	}
}

// BenchmarkWorkerStartSlowLink measures how long a worker that starts
// beside a queued job takes to run it when the worker's link to the
// broker has a 40 ms round trip: the round trips its start makes
// (connect, bind the streams and buckets, the consumer, its
// registration, the first pull) before the job. rtts is that time in
// round trips.
func BenchmarkWorkerStartSlowLink(b *testing.B) {
	const delay = 20 * time.Millisecond
	br, err := cluster.StartBroker(cluster.BrokerConfig{Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	far := slowLink(b, strings.TrimPrefix(br.URL(), "nats://"), delay)
	e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{ConnConfig: cluster.ConnConfig{URL: br.URL()}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	var total time.Duration
	for i := 0; b.Loop(); i++ {
		res := make(chan runner.Result, 1)
		go func() {
			res <- e.Exec(context.Background(), &runner.Job{Seq: int64(i + 1), Command: "true"}, io.Discard, io.Discard)
		}()
		w, err := cluster.NewWorker(cluster.WorkerConfig{ConnConfig: cluster.ConnConfig{URL: far}, Executor: runner.Local{}, Concurrency: 1, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- w.Run(ctx) }()
		r := <-res
		total += time.Since(start)
		cancel()
		<-done
		if r.Err != nil || r.Exit != 0 {
			b.Fatalf("job: %+v", r)
		}
	}
	n := float64(b.N)
	b.ReportMetric(total.Seconds()*1000/n, "ms")
	b.ReportMetric(total.Seconds()/n/(2*delay).Seconds(), "rtts")
	b.ReportMetric(0, "ns/op")
}
