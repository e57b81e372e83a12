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

// ExampleExecutor_attach submits a run and leaves it, as crew run
// --detach does, then attaches to it by its id, as crew attach does: the
// results come from the server, whoever asks and whenever, within the
// broker's retention.
func ExampleExecutor_attach() {
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
	w, _ := cluster.NewWorker(cluster.WorkerConfig{ConnConfig: conn, Executor: runner.Local{}, Concurrency: 2})
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	jobs := []*runner.Job{{Seq: 1, Command: "echo one"}, {Seq: 2, Command: "echo two"}}
	// Submit only: Exec returns once the server has the job.
	sub, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{ConnConfig: conn, SubmitOnly: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, j := range jobs {
		sub.Exec(context.Background(), j, io.Discard, io.Discard)
	}
	id := sub.RunID()
	sub.Close()

	// Attach: the same jobs, asked for again, give their results.
	att, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{ConnConfig: conn, Attach: id})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, j := range jobs {
		res := att.Exec(context.Background(), j, os.Stdout, os.Stderr)
		fmt.Println("exit", res.Exit)
	}
	att.Close()
	stopWorker()
	<-done
	// Output:
	// one
	// exit 0
	// two
	// exit 0
}
