package cluster_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"crew/cluster"
	"crew/runner"
)

// Example runs jobs on a worker through an embedded broker, as
// crew broker, crew worker and crew run --server do across machines. A
// program that runs a Worker with runner.Local also calls runner.Main
// first thing in its main, so that the jobs' leftover processes die with
// it; the package doc shows that main.
func Example() {
	store, _ := os.MkdirTemp("", "cluster-example-")
	defer os.RemoveAll(store)
	b, err := cluster.StartBroker(cluster.BrokerConfig{StoreDir: store, Listen: "127.0.0.1:0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()

	ctx, stopWorker := context.WithCancel(context.Background())
	defer stopWorker()
	w, err := cluster.NewWorker(cluster.WorkerConfig{
		ConnConfig: cluster.ConnConfig{URL: b.URL()}, Executor: runner.Local{}, Concurrency: 2,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{ConnConfig: cluster.ConnConfig{URL: b.URL()}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, cmd := range []string{"echo hello from a worker", "exit 3"} {
		jctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		res := e.Exec(jctx, &runner.Job{Seq: int64(i + 1), Command: cmd}, os.Stdout, os.Stderr)
		cancel()
		fmt.Printf("job %d: exit %d\n", res.Seq, res.Exit)
	}
	e.Close()
	stopWorker() // drains: running jobs finish first
	fmt.Println(<-done)
	// Output:
	// hello from a worker
	// job 1: exit 0
	// job 2: exit 3
	// <nil>
}
