// Package distbench measures crew's cluster executor against its two
// yardsticks, each measured in the same benchmark iteration so that the
// ratio survives a noisy, shared machine:
//
//   - BenchmarkTrue: 1,000 jobs of `true` through an embedded broker to two
//     workers running one job each, against runner's engine running the same
//     jobs locally with -j2. Target: cluster/local <= 1.3.
//   - BenchmarkNoop: 10,000 jobs through cluster.Executor to workers whose
//     executor starts no process, against JetStream's own publish-and-ack
//     rate on the same server. Target: crew's job rate >= 50% of it.
package clusterbench

import (
	"context"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"crew/cluster"
	"crew/internal/natstest"
	"crew/runner"
)

type noop struct{}

func (noop) Exec(_ context.Context, job *runner.Job, _, _ io.Writer) runner.Result {
	return runner.Result{Seq: job.Seq, Host: ":", Start: time.Now()}
}

// cluster starts an embedded broker and workers, returning an executor
// connected to it.
func startCluster(b testing.TB, ex runner.Executor, workers, perWorker int) (*cluster.Executor, string) {
	b.Helper()
	br, err := cluster.StartBroker(cluster.BrokerConfig{StoreDir: b.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range workers {
		w, err := cluster.NewWorker(cluster.WorkerConfig{
			ConnConfig: cluster.ConnConfig{URL: br.URL()}, Executor: ex, Concurrency: perWorker,
		})
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() { _ = w.Run(ctx) })
	}
	e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{ConnConfig: cluster.ConnConfig{URL: br.URL()}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = e.Close()
		stop()
		wg.Wait()
		br.Close()
	})
	return e, br.URL()
}

func inputs(n int) []runner.Input {
	v := make([]string, n)
	for i := range v {
		v[i] = strconv.Itoa(i + 1)
	}
	return []runner.Input{{Values: v}}
}

func runTrue(b *testing.B, jobs int, ex runner.Executor, n int) time.Duration {
	b.Helper()
	start := time.Now()
	sum, err := runner.Run(context.Background(), runner.Config{
		Command: []string{"true"}, Inputs: inputs(n), Jobs: jobs, Executor: ex,
	})
	if err != nil || sum.Failed != 0 || sum.Started != int64(n) {
		b.Fatalf("run: %+v %v", sum, err)
	}
	return time.Since(start)
}

func BenchmarkTrue(b *testing.B) {
	const n = 1000
	e, _ := startCluster(b, runner.Local{}, 2, 1)
	var local, remote time.Duration
	for b.Loop() {
		local += runTrue(b, 2, nil, n)
		// The window is what crew run --server uses: many jobs in flight,
		// the workers' own -j1 bounds what runs.
		remote += runTrue(b, 256, e, n)
	}
	report(b, "local", local, "cluster", remote)
	reportBatching(b, e)
}

func BenchmarkNoop(b *testing.B) {
	benchNoop(b, func(e *cluster.Executor, n int) time.Duration { return runNoop(b, e, n) })
}

// benchNoop measures 10,000 no-op jobs sent by run against JetStream's
// publish-and-ack ceiling, in the same iterations.
func benchNoop(b *testing.B, run func(e *cluster.Executor, n int) time.Duration) {
	const n = 10000
	e, url := startCluster(b, noop{}, 2, 128)
	var ceiling, crew time.Duration
	for b.Loop() {
		d, err := natstest.PublishAckDrain(context.Background(), url, n, 100)
		if err != nil {
			b.Fatal(err)
		}
		ceiling += d
		crew += run(e, n)
	}
	report(b, "jetstream", ceiling, "crew", crew)
	b.ReportMetric(float64(n)*float64(b.N)/crew.Seconds(), "crew-jobs/s")
	b.ReportMetric(float64(n)*float64(b.N)/ceiling.Seconds(), "jetstream-msgs/s")
	reportBatching(b, e)
}

// reportBatching reports how many jobs e sent per message.
func reportBatching(b *testing.B, e *cluster.Executor) {
	jobs, msgs := e.Sent()
	b.ReportMetric(float64(jobs)/float64(msgs), "jobs/msg")
}

func runNoop(b *testing.B, e *cluster.Executor, n int) time.Duration {
	b.Helper()
	start := time.Now()
	sum, err := runner.Run(context.Background(), runner.Config{
		Command: []string{"true"}, Inputs: inputs(n), Jobs: noopWindow, Executor: e,
	})
	if err != nil || sum.Failed != 0 || sum.Started != int64(n) {
		b.Fatalf("run: %+v %v", sum, err)
	}
	return time.Since(start)
}

// report prints both wall times per iteration and their ratio.
func report(b *testing.B, baseName string, base time.Duration, name string, d time.Duration) {
	n := float64(b.N)
	b.ReportMetric(base.Seconds()/n, baseName+"-s")
	b.ReportMetric(d.Seconds()/n, name+"-s")
	b.ReportMetric(d.Seconds()/base.Seconds(), name+"/"+baseName)
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSyncAlways measures what crew broker --sync always costs: the
// JetStream publish-and-ack rate of a broker that fsyncs every write,
// against one with the default 2-minute sync interval, in the same
// iteration.
func BenchmarkSyncAlways(b *testing.B) {
	const n = 5000
	url := func(always bool) string {
		br, err := cluster.StartBroker(cluster.BrokerConfig{StoreDir: b.TempDir(), Listen: "127.0.0.1:0", SyncAlways: always})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(br.Close)
		return br.URL()
	}
	def, always := url(false), url(true)
	var dDef, dAlways time.Duration
	for b.Loop() {
		d, err := natstest.PublishAckDrain(context.Background(), def, n, 200)
		if err != nil {
			b.Fatal(err)
		}
		dDef += d
		if d, err = natstest.PublishAckDrain(context.Background(), always, n, 200); err != nil {
			b.Fatal(err)
		}
		dAlways += d
	}
	report(b, "default", dDef, "always", dAlways)
	b.ReportMetric(float64(n)*float64(b.N)/dAlways.Seconds(), "always-msgs/s")
	b.ReportMetric(float64(n)*float64(b.N)/dDef.Seconds(), "default-msgs/s")
}

// noopWindow is how many jobs crew run --server keeps in flight by default.
const noopWindow = 256
