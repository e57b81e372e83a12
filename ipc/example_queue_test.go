package ipc_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"crew/ipc"
)

// A worker loop over a Queue, as a worker process would run it: Get until
// the queue is closed and drained, TaskDone after each message. Here the
// "other processes" are goroutines with their own Queue values.
func ExampleQueue() {
	name := fmt.Sprintf("crew-example-%d", os.Getpid())
	ctx := context.Background()
	q, err := ipc.OpenQueue(name, 4096)
	if err != nil {
		log.Fatal(err)
	}
	defer q.Remove()
	defer q.Detach()

	done := make(chan struct{})
	go func() { // a worker
		defer close(done)
		w, err := ipc.OpenQueue(name, 4096)
		if err != nil {
			log.Fatal(err)
		}
		defer w.Detach()
		for {
			msg, err := w.Get(ctx)
			if errors.Is(err, ipc.ErrClosed) {
				return
			}
			fmt.Printf("worker got %s\n", msg)
			w.TaskDone()
		}
	}()
	for _, s := range []string{"one", "two", "three"} {
		q.Put(ctx, []byte(s))
	}
	q.Join(ctx) // every message got and marked done
	q.Close()
	<-done
	fmt.Println("left:", q.Len())
	// Output:
	// worker got one
	// worker got two
	// worker got three
	// left: 0
}

// A TypedQueue carries values through a codec; the results of workers
// gathered as the study notes' multiprocessing.Queue program does.
func ExampleTypedQueue() {
	type partial struct {
		Worker int64
		Sum    int64
	}
	name := fmt.Sprintf("crew-example-typed-%d", os.Getpid())
	q, err := ipc.OpenTypedQueue(name, 4096, ipc.BinaryCodec[partial]())
	if err != nil {
		log.Fatal(err)
	}
	defer q.Queue().Remove()
	defer q.Detach()
	ctx := context.Background()
	q.Put(ctx, partial{Worker: 1, Sum: 1250025000})
	q.Put(ctx, partial{Worker: 2, Sum: 3750025000})
	var total int64
	for range 2 {
		p, err := q.Get(ctx)
		if err != nil {
			log.Fatal(err)
		}
		total += p.Sum
		q.TaskDone()
	}
	fmt.Println(total)
	// Output: 5000050000
}
