package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"crew/internal/wait"
	"crew/queue"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTryOps(t *testing.T) {
	type op struct {
		name string // put, get, close, done
		v    int
		want error
		got  int
	}
	tests := []struct {
		name     string
		capacity int
		ops      []op
	}{
		{"empty get", 0, []op{{name: "get", want: queue.ErrEmpty}}},
		{"fifo", 0, []op{
			{name: "put", v: 1}, {name: "put", v: 2}, {name: "put", v: 3},
			{name: "get", got: 1}, {name: "get", got: 2}, {name: "get", got: 3},
			{name: "get", want: queue.ErrEmpty},
		}},
		{"bounded full", 2, []op{
			{name: "put", v: 1}, {name: "put", v: 2}, {name: "put", v: 3, want: queue.ErrFull},
			{name: "get", got: 1}, {name: "put", v: 4}, {name: "get", got: 2}, {name: "get", got: 4},
		}},
		{"close drains", 0, []op{
			{name: "put", v: 7}, {name: "close"}, {name: "put", v: 8, want: queue.ErrClosed},
			{name: "get", got: 7}, {name: "get", want: queue.ErrClosed}, {name: "close"},
		}},
		{"task done", 0, []op{
			{name: "done", want: queue.ErrTaskDone},
			{name: "put", v: 1}, {name: "put", v: 2},
			{name: "done", want: queue.ErrTaskDone},
			{name: "get", got: 1}, {name: "done"}, {name: "done", want: queue.ErrTaskDone},
		}},
		{"wraps around", 3, []op{
			{name: "put", v: 1}, {name: "put", v: 2}, {name: "get", got: 1},
			{name: "put", v: 3}, {name: "put", v: 4}, {name: "get", got: 2},
			{name: "get", got: 3}, {name: "get", got: 4},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := queue.New[int](tt.capacity)
			for i, o := range tt.ops {
				var err error
				switch o.name {
				case "put":
					err = q.TryPut(o.v)
				case "get":
					var v int
					v, err = q.TryGet()
					if err == nil && v != o.got {
						t.Fatalf("op %d: got %d, want %d", i, v, o.got)
					}
				case "close":
					q.Close()
				case "done":
					err = q.TaskDone()
				}
				if !errors.Is(err, o.want) || (o.want == nil) != (err == nil) {
					t.Fatalf("op %d (%s): err = %v, want %v", i, o.name, err, o.want)
				}
			}
		})
	}
}

func TestZeroValueIsUnbounded(t *testing.T) {
	var q queue.Queue[string]
	for i := range 100 {
		if err := q.TryPut(fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if q.Len() != 100 || q.Cap() != 0 {
		t.Fatalf("Len %d Cap %d, want 100 0", q.Len(), q.Cap())
	}
}

type item struct{ producer, seq int }

// TestManyProducersConsumers checks that every item is delivered exactly
// once and that each consumer sees each producer's items in order.
func TestManyProducersConsumers(t *testing.T) {
	for _, capacity := range []int{0, 1, 7} {
		for _, consumers := range []int{1, 6} {
			t.Run(fmt.Sprintf("cap=%d/consumers=%d", capacity, consumers), func(t *testing.T) {
				const producers, perProducer = 6, 2000
				ctx := context.Background()
				q := queue.New[item](capacity)
				var prod sync.WaitGroup
				for p := range producers {
					prod.Go(func() {
						for s := range perProducer {
							if err := q.Put(ctx, item{p, s}); err != nil {
								t.Error(err)
								return
							}
						}
					})
				}
				got := make([][]item, consumers)
				var cons sync.WaitGroup
				for c := range consumers {
					cons.Go(func() {
						for {
							it, err := q.Get(ctx)
							if errors.Is(err, queue.ErrClosed) {
								return
							}
							if err != nil {
								t.Error(err)
								return
							}
							got[c] = append(got[c], it)
							if err := q.TaskDone(); err != nil {
								t.Error(err)
							}
						}
					})
				}
				prod.Wait()
				if err := q.Join(ctx); err != nil {
					t.Fatal(err)
				}
				q.Close()
				cons.Wait()

				seen := make(map[item]int)
				for c, items := range got {
					last := make([]int, producers)
					for i := range last {
						last[i] = -1
					}
					for _, it := range items {
						seen[it]++
						if it.seq <= last[it.producer] {
							t.Fatalf("consumer %d got producer %d's item %d after %d", c, it.producer, it.seq, last[it.producer])
						}
						last[it.producer] = it.seq
					}
				}
				if len(seen) != producers*perProducer {
					t.Fatalf("got %d distinct items, want %d", len(seen), producers*perProducer)
				}
				for it, n := range seen {
					if n != 1 {
						t.Fatalf("item %v delivered %d times", it, n)
					}
				}
				if n := q.Unfinished(); n != 0 {
					t.Fatalf("Unfinished = %d after Join", n)
				}
			})
		}
	}
}

// TestBlockedPuttersFIFO checks that Puts waiting on a full queue enter in
// the order they began to wait, even when Gets free room one at a time.
func TestBlockedPuttersFIFO(t *testing.T) {
	ctx := context.Background()
	q := queue.New[int](1)
	if err := q.TryPut(0); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		wg.Go(func() {
			if err := q.Put(ctx, i); err != nil {
				t.Error(err)
			}
		})
		wait.For(t, fmt.Sprintf("put %d to block", i), func() bool { p, _ := q.Waiting(); return p == i })
	}
	for want := 0; want <= n; want++ {
		v, err := q.Get(ctx)
		if err != nil || v != want {
			t.Fatalf("Get = %d, %v; want %d", v, err, want)
		}
	}
	wg.Wait()
}

func TestBlockedGettersFIFO(t *testing.T) {
	ctx := context.Background()
	q := queue.New[int](0)
	const n = 5
	got := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v, err := q.Get(ctx)
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
		wait.For(t, fmt.Sprintf("get %d to block", i+1), func() bool { _, g := q.Waiting(); return g == i+1 })
	}
	for i := range n {
		if err := q.Put(ctx, 100+i); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	for i, v := range got {
		if v != 100+i {
			t.Fatalf("getter %d got %d, want %d", i, v, 100+i)
		}
	}
}

func TestCloseWakesWaiters(t *testing.T) {
	ctx := context.Background()
	q := queue.New[int](1)
	empty := queue.New[int](1)
	if err := q.TryPut(1); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- q.Put(ctx, 2) }()
	go func() { _, err := empty.Get(ctx); errs <- err }()
	wait.For(t, "a put and a get to block", func() bool { p, _ := q.Waiting(); _, g := empty.Waiting(); return p == 1 && g == 1 })
	q.Close()
	empty.Close()
	for range 2 {
		if err := <-errs; !errors.Is(err, queue.ErrClosed) {
			t.Fatalf("woken call returned %v, want ErrClosed", err)
		}
	}
	// The refused Put left nothing behind: only the first item remains.
	if v, err := q.Get(ctx); err != nil || v != 1 {
		t.Fatalf("Get = %d, %v; want 1", v, err)
	}
	if _, err := q.Get(ctx); !errors.Is(err, queue.ErrClosed) {
		t.Fatalf("Get after drain = %v, want ErrClosed", err)
	}
}

func TestCancelLeavesNothing(t *testing.T) {
	t.Run("blocked put", func(t *testing.T) {
		q := queue.New[int](1)
		if err := q.TryPut(1); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error)
		go func() { errc <- q.Put(ctx, 2) }()
		wait.For(t, "the put to block", func() bool { p, _ := q.Waiting(); return p == 1 })
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Put = %v, want context.Canceled", err)
		}
		if p, _ := q.Waiting(); p != 0 {
			t.Fatalf("%d putters still waiting", p)
		}
		if v, _ := q.TryGet(); v != 1 {
			t.Fatalf("got %d, want 1", v)
		}
		if _, err := q.TryGet(); !errors.Is(err, queue.ErrEmpty) {
			t.Fatalf("cancelled item entered the queue: %v", err)
		}
		if q.Unfinished() != 1 {
			t.Fatalf("Unfinished = %d, want 1", q.Unfinished())
		}
	})
	t.Run("blocked get", func(t *testing.T) {
		q := queue.New[int](0)
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error)
		go func() { _, err := q.Get(ctx); errc <- err }()
		wait.For(t, "the get to block", func() bool { _, g := q.Waiting(); return g == 1 })
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Get = %v, want context.Canceled", err)
		}
		if err := q.TryPut(5); err != nil {
			t.Fatal(err)
		}
		if v, err := q.TryGet(); err != nil || v != 5 {
			t.Fatalf("item given to a cancelled getter: %d, %v", v, err)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		q := queue.New[int](0)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := q.Put(ctx, 1); !errors.Is(err, context.Canceled) {
			t.Fatalf("Put = %v", err)
		}
		if q.Len() != 0 {
			t.Fatal("Put with a cancelled context added an item")
		}
		if _, err := q.Get(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Get = %v", err)
		}
		if err := q.Join(ctx); err != nil {
			t.Fatalf("Join with nothing unfinished = %v, want nil", err)
		}
	})
}

// TestCancelRace races short deadlines against deliveries: whatever each
// call reports must match what the queue did, so no item is lost or doubled.
func TestCancelRace(t *testing.T) {
	q := queue.New[int](2)
	const n = 3000
	putOK := make([]bool, n)
	var putter, getter sync.WaitGroup
	putter.Go(func() {
		for i := range n {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%50)*time.Microsecond)
			putOK[i] = q.Put(ctx, i) == nil
			cancel()
		}
	})
	var got []int
	getter.Go(func() {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Microsecond)
			v, err := q.Get(ctx)
			cancel()
			switch {
			case err == nil:
				got = append(got, v)
			case errors.Is(err, queue.ErrClosed):
				return
			}
		}
	})
	putter.Wait()
	q.Close()
	getter.Wait()

	var want []int
	for i, ok := range putOK {
		if ok {
			want = append(want, i)
		}
	}
	if len(want) == 0 {
		t.Fatal("no Put succeeded; the test proves nothing")
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %d items, %d Puts succeeded; first got %v, want %v", len(got), len(want), got[:min(10, len(got))], want[:min(10, len(want))])
	}
}

func TestJoin(t *testing.T) {
	ctx := context.Background()
	q := queue.New[int](0)
	for i := range 3 {
		if err := q.Put(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	joined := make(chan error, 1)
	go func() { joined <- q.Join(ctx) }()

	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := q.Join(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Join with unfinished items = %v, want DeadlineExceeded", err)
	}
	q.Close() // Close does not release Join: the items are still work.
	for i := range 3 {
		if _, err := q.Get(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-joined:
			t.Fatalf("Join returned %v with %d of 3 items done", err, i)
		default:
		}
		if err := q.TaskDone(); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-joined; err != nil {
		t.Fatalf("Join = %v", err)
	}
	if err := q.TaskDone(); !errors.Is(err, queue.ErrTaskDone) {
		t.Fatalf("extra TaskDone = %v, want ErrTaskDone", err)
	}
	if err := q.Join(ctx); err != nil {
		t.Fatalf("second Join = %v", err)
	}
}
