package cluster_test

import (
	"context"
	"fmt"
	"io"
	"os"

	"crew/cluster"
	"crew/runner"
)

// ExampleClient reads back a finished run through the read API that
// crew runs, crew status and the broker's dashboard use.
func ExampleClient() {
	store, _ := os.MkdirTemp("", "cluster-example-")
	defer os.RemoveAll(store)
	b, err := cluster.StartBroker(cluster.BrokerConfig{StoreDir: store, Listen: "127.0.0.1:0"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	conn := cluster.ConnConfig{URL: b.URL()}

	ctx, stopWorker := context.WithCancel(context.Background())
	defer stopWorker()
	w, _ := cluster.NewWorker(cluster.WorkerConfig{ConnConfig: conn, Executor: runner.Local{}, Concurrency: 2, Host: "w1"})
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	// A run that says what it is: a command for crew runs, and its jobs.
	e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{
		ConnConfig: conn,
		NewRun: &cluster.NewRun{Command: "test {} = a", Jobs: []cluster.PlannedJob{
			{Seq: 1, Input: "a", Command: "test a = a"},
			{Seq: 2, Input: "b", Command: "test b = a"},
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for seq, cmd := range []string{"test a = a", "test b = a"} {
		e.Exec(context.Background(), &runner.Job{Seq: int64(seq + 1), Command: cmd}, io.Discard, io.Discard)
	}
	_ = e.Finish(context.Background(), 1)
	e.Close()

	c, err := cluster.Dial(context.Background(), conn)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	runs, _ := c.Runs(context.Background())
	for _, r := range runs {
		fmt.Printf("%s: %d jobs, %d done, %d failed, exit %d\n", r.Command, r.Total, r.Done, r.Failed, r.Exit)
		jobs, _ := c.Jobs(context.Background(), r.ID)
		for _, j := range jobs {
			fmt.Printf("  %d %s on %s: %s, exit %d\n", j.Seq, j.Input, j.Worker, j.State, j.Exit)
		}
	}
	stopWorker()
	<-done
	// Output:
	// test {} = a: 2 jobs, 1 done, 1 failed, exit 1
	//   1 a on w1: done, exit 0
	//   2 b on w1: failed, exit 1
}
