package queue_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"crew/queue"
)

// The study notes' program: five worker threads take twenty items from a
// queue, mark each done, and the main thread joins the queue before
// shutting the workers down. Close replaces putting one None per worker.
func Example() {
	ctx := context.Background()
	q := queue.New[int](0)

	var (
		mu        sync.Mutex
		processed []int
		workers   sync.WaitGroup
	)
	for range 5 {
		workers.Go(func() {
			for {
				item, err := q.Get(ctx)
				if errors.Is(err, queue.ErrClosed) {
					return
				}
				mu.Lock()
				processed = append(processed, item)
				mu.Unlock()
				q.TaskDone()
			}
		})
	}

	for item := range 20 {
		q.Put(ctx, item)
	}
	q.Join(ctx) // every item has been processed
	q.Close()   // the workers' Get now reports ErrClosed
	workers.Wait()

	// Which worker handled which item varies from run to run; the set does not.
	slices.Sort(processed)
	fmt.Println(len(processed), "items:", processed)
	// Output:
	// 20 items: [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19]
}

// A bounded queue pushes back on a fast producer: TryPut reports ErrFull
// where Put would wait.
func ExampleQueue_TryPut() {
	q := queue.New[string](2)
	for _, s := range []string{"a", "b", "c"} {
		if err := q.TryPut(s); err != nil {
			fmt.Println(s, err)
		}
	}
	v, _ := q.TryGet()
	fmt.Println("got", v, "len", q.Len())
	// Output:
	// c queue: full
	// got a len 1
}
