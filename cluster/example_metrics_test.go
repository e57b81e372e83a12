package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"strings"

	"crew/cluster"
	"crew/runner"
)

// ExampleWorker_MetricsHandler reads a worker's Prometheus metrics after
// two jobs, one of which fails. WorkerConfig.Metrics (crew worker
// --metrics-addr) serves the same at /metrics on an address of its own.
func ExampleWorker_MetricsHandler() {
	store, _ := os.MkdirTemp("", "cluster-example-")
	defer os.RemoveAll(store)
	b, err := cluster.StartBroker(cluster.BrokerConfig{StoreDir: store, Listen: "127.0.0.1:0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	conn := cluster.ConnConfig{URL: b.URL()}
	w, _ := cluster.NewWorker(cluster.WorkerConfig{ConnConfig: conn, Executor: runner.Local{}, Concurrency: 2, Host: "w1"})
	ctx, stopWorker := context.WithCancel(context.Background())
	defer stopWorker()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{ConnConfig: conn})
	if err != nil {
		fmt.Println(err)
		return
	}
	e.Exec(context.Background(), &runner.Job{Seq: 1, Command: "true"}, io.Discard, io.Discard)
	e.Exec(context.Background(), &runner.Job{Seq: 2, Command: "exit 3"}, io.Discard, io.Discard)
	e.Close()

	rec := httptest.NewRecorder()
	w.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "crew_worker_jobs_") || strings.HasPrefix(l, "crew_worker_job_run_seconds_count") {
			fmt.Println(l)
		}
	}
	stopWorker()
	<-done
	// Output:
	// crew_worker_job_run_seconds_count 2
	// crew_worker_jobs_dead_lettered_total 0
	// crew_worker_jobs_failed_total 1
	// crew_worker_jobs_held 0
	// crew_worker_jobs_retried_total 0
	// crew_worker_jobs_started_total 2
	// crew_worker_jobs_succeeded_total 1
}
