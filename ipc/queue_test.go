package ipc_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"crew/ipc"
)

// newQueue opens a queue in a private directory, detached when the test
// ends.
func newQueue(t *testing.T, dir string, capacity int) *ipc.Queue {
	t.Helper()
	q, err := ipc.OpenQueue("q", capacity, ipc.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Detach() })
	return q
}

func mustGet(t *testing.T, q *ipc.Queue) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := q.Get(ctx)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return string(b)
}

// The same contract as queue.Queue, step by step, with two Queue values
// (two mappings) standing in for two processes.
func TestQueueContract(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := newQueue(t, dir, 64) // room for 4 messages of up to 8 bytes
	b := newQueue(t, dir, 64)
	steps := []struct {
		name string
		do   func() error
		want error
	}{
		{"put 1", func() error { return a.Put(ctx, []byte("one")) }, nil},
		{"put 2", func() error { return a.TryPut([]byte("two")) }, nil},
		{"put empty", func() error { return b.Put(ctx, nil) }, nil},
		{"put 4", func() error { return b.Put(ctx, []byte("four")) }, nil},
		{"get append", func() error {
			got, err := a.GetAppend(ctx, []byte("0:"))
			if err == nil && string(got) != "0:one" {
				err = fmt.Errorf("GetAppend = %q, want %q", got, "0:one")
			}
			return errors.Join(err, a.TaskDone(), a.Put(ctx, []byte("one")))
		}, nil},
		{"full", func() error { return a.TryPut([]byte("five")) }, ipc.ErrFull},
		{"len 4", func() error { return expectInt("Len", b.Len(), 4) }, nil},
		{"fifo 2", func() error { return expectGet(a, "two") }, nil},
		{"fifo 3", func() error { return expectGet(b, "") }, nil},
		{"done 1", b.TaskDone, nil},
		{"done 2", a.TaskDone, nil},
		{"done more than got", a.TaskDone, ipc.ErrTaskDone},
		{"unfinished 2", func() error { return expectInt("Unfinished", a.Unfinished(), 2) }, nil},
		{"close", a.Close, nil},
		{"close again", b.Close, nil},
		{"put after close", func() error { return b.Put(ctx, []byte("x")) }, ipc.ErrClosed},
		{"tryput after close", func() error { return a.TryPut([]byte("x")) }, ipc.ErrClosed},
		{"drain 4", func() error { return expectGet(b, "four") }, nil},
		{"drain 1", func() error { return expectGet(a, "one") }, nil},
		{"get closed", func() error { _, err := a.Get(ctx); return err }, ipc.ErrClosed},
		{"tryget closed", func() error { _, err := b.TryGet(); return err }, ipc.ErrClosed},
		{"done 3", a.TaskDone, nil},
		{"done 4", b.TaskDone, nil},
		{"join", func() error { return a.Join(ctx) }, nil},
		{"len 0", func() error { return expectInt("Len", a.Len(), 0) }, nil},
	}
	for _, s := range steps {
		if err := s.do(); !errors.Is(err, s.want) || (s.want == nil && err != nil) {
			t.Fatalf("%s: %v, want %v", s.name, err, s.want)
		}
	}
}

func expectGet(q *ipc.Queue, want string) error {
	got, err := q.TryGet()
	if err != nil {
		return err
	}
	if string(got) != want {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}

func expectInt(what string, got, want int) error {
	if got != want {
		return fmt.Errorf("%s = %d, want %d", what, got, want)
	}
	return nil
}

// Messages that wrap around the end of the ring come out whole.
func TestQueueWraps(t *testing.T) {
	q := newQueue(t, t.TempDir(), 100) // rounded up to 104
	for i := range 200 {
		msg := []byte(strings.Repeat(string(rune('a'+i%26)), i%50))
		if err := q.TryPut(msg); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		got := ""
		if i%2 == 0 {
			got = mustGet(t, q)
		} else {
			b, err := q.GetAppend(context.Background(), []byte("x"))
			if err != nil {
				t.Fatal(err)
			}
			got = string(b[1:])
		}
		if got != string(msg) {
			t.Fatalf("message %d: got %q, want %q", i, got, msg)
		}
		q.TaskDone()
	}
}

// A Get blocked on an empty queue is woken by a Put from another Queue
// value; a Put blocked on a full queue is woken by a Get; a Join by the
// last TaskDone; a Get by Close.
func TestQueueWakes(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(a *ipc.Queue)
		block func(a *ipc.Queue) error
		wake  func(b *ipc.Queue)
		want  error
	}{
		{"get by put", nil,
			func(a *ipc.Queue) error { _, err := a.Get(ctx); return err },
			func(b *ipc.Queue) { b.Put(ctx, []byte("x")) }, nil},
		{"put by get", func(a *ipc.Queue) { a.Put(ctx, make([]byte, 24)) },
			func(a *ipc.Queue) error { return a.Put(ctx, make([]byte, 24)) },
			func(b *ipc.Queue) { b.TryGet() }, nil},
		{"join by task done", func(a *ipc.Queue) { a.Put(ctx, nil) },
			func(a *ipc.Queue) error { return a.Join(ctx) },
			func(b *ipc.Queue) { b.TryGet(); b.TaskDone() }, nil},
		{"get by close", nil,
			func(a *ipc.Queue) error { _, err := a.Get(ctx); return err },
			func(b *ipc.Queue) { b.Close() }, ipc.ErrClosed},
		{"put by close", func(a *ipc.Queue) { a.Put(ctx, make([]byte, 24)) },
			func(a *ipc.Queue) error { return a.Put(ctx, make([]byte, 24)) },
			func(b *ipc.Queue) { b.Close() }, ipc.ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			a, b := newQueue(t, dir, 40), newQueue(t, dir, 40)
			if tt.setup != nil {
				tt.setup(a)
			}
			done := make(chan error, 1)
			go func() { done <- tt.block(a) }()
			select {
			case err := <-done:
				t.Fatalf("returned %v before being woken", err)
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			tt.wake(b)
			if err := <-done; !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			// The safety-net timeout is 50ms: a wake-up must come sooner.
			if d := time.Since(start); d > 40*time.Millisecond {
				t.Logf("woken after %v (slow machine?)", d)
			}
		})
	}
}

// Blocked calls return the context's error, cancelled or timed out, and
// leave the queue as it was.
func TestQueueContext(t *testing.T) {
	dir := t.TempDir()
	q := newQueue(t, dir, 16)
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"get", func(ctx context.Context) error { _, err := q.Get(ctx); return err }},
		{"join", func(ctx context.Context) error { return q.Join(ctx) }},
		{"put", func(ctx context.Context) error { return q.Put(ctx, []byte("12345678")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/timeout", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			if err := tt.call(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("got %v, want DeadlineExceeded", err)
			}
		})
		t.Run(tt.name+"/cancel", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
			start := time.Now()
			if err := tt.call(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want Canceled", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("cancel took %v", d)
			}
		})
		if tt.name == "get" {
			// Fill the queue for "join" (unfinished work) and "put" (no room).
			if err := q.Put(context.Background(), []byte("12345678")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if q.Len() != 1 || q.Unfinished() != 1 {
		t.Fatalf("Len %d, Unfinished %d after cancelled calls, want 1, 1", q.Len(), q.Unfinished())
	}
}

// Bad input gives errors callers can test, never a panic or a hang.
func TestQueueBadInput(t *testing.T) {
	dir := t.TempDir()
	q := newQueue(t, dir, 64)
	type point struct{ X, Y int }
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"slash", func() error { _, err := ipc.OpenQueue("a/b", 64, ipc.WithDir(dir)); return err }, ipc.ErrBadName},
		{"too long", func() error {
			_, err := ipc.OpenQueue(strings.Repeat("x", 201), 64, ipc.WithDir(dir))
			return err
		}, ipc.ErrBadName},
		{"other capacity", func() error { _, err := ipc.OpenQueue("q", 128, ipc.WithDir(dir)); return err }, ipc.ErrMismatch},
		{"typed over bytes", func() error {
			_, err := ipc.OpenTypedQueue("q", 64, ipc.JSONCodec[int](), ipc.WithDir(dir))
			return err
		}, ipc.ErrMismatch},
		{"other codec", func() error {
			if _, err := ipc.OpenTypedQueue("t", 64, ipc.JSONCodec[int](), ipc.WithDir(dir)); err != nil {
				return err
			}
			_, err := ipc.OpenTypedQueue("t", 64, ipc.GobCodec[int](), ipc.WithDir(dir))
			return err
		}, ipc.ErrMismatch},
		{"other element size", func() error {
			if _, err := ipc.OpenTypedQueue("e", 64, ipc.BinaryCodec[int32](), ipc.WithDir(dir)); err != nil {
				return err
			}
			_, err := ipc.OpenTypedQueue("e", 64, ipc.BinaryCodec[int64](), ipc.WithDir(dir))
			return err
		}, ipc.ErrMismatch},
		{"other type", func() error {
			_, err := ipc.OpenTypedQueue("t", 64, ipc.JSONCodec[point](), ipc.WithDir(dir))
			return err
		}, ipc.ErrMismatch},
		{"too large", func() error { return q.Put(context.Background(), make([]byte, 57)) }, ipc.ErrTooLarge},
		{"too large try", func() error { return q.TryPut(make([]byte, 1000)) }, ipc.ErrTooLarge},
		{"task done first", q.TaskDone, ipc.ErrTaskDone},
		{"not a queue", func() error {
			os.WriteFile(filepath.Join(dir, "junk.queue"), make([]byte, 8192), 0o600)
			_, err := ipc.OpenQueue("junk", 4096, ipc.WithDir(dir))
			return err
		}, ipc.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	// Bad capacities and a codec that cannot work are plain errors.
	for _, c := range []int{0, 15, -1, ipc.MaxQueueCapacity + 1} {
		if _, err := ipc.OpenQueue("c", c, ipc.WithDir(dir)); err == nil {
			t.Errorf("capacity %d accepted", c)
		}
	}
	if _, err := ipc.OpenTypedQueue("s", 64, ipc.BinaryCodec[string](), ipc.WithDir(dir)); err == nil {
		t.Error("binary codec accepted string")
	}
}

// Typed queues round-trip values with each codec.
func TestTypedQueueCodecs(t *testing.T) {
	type point struct {
		X, Y int32
		Tag  [4]byte
	}
	want := point{1, -2, [4]byte{'a', 'b'}}
	tests := []struct {
		name  string
		codec ipc.Codec[point]
	}{
		{"binary", ipc.BinaryCodec[point]()},
		{"json", ipc.JSONCodec[point]()},
		{"gob", ipc.GobCodec[point]()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := ipc.OpenTypedQueue("p", 1024, tt.codec, ipc.WithDir(t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			defer q.Detach()
			if err := q.Put(context.Background(), want); err != nil {
				t.Fatal(err)
			}
			got, err := q.TryGet()
			if err != nil || got != want {
				t.Fatalf("got %v, %v; want %v", got, err, want)
			}
			if err := q.TaskDone(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A message that does not decode is reported and already marked done, so
// Join does not wait for it.
func TestTypedQueueDecodeError(t *testing.T) {
	dir := t.TempDir()
	tq, err := ipc.OpenTypedQueue("d", 64, ipc.BinaryCodec[int64](), ipc.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer tq.Detach()
	if err := tq.Queue().TryPut([]byte("short")); err != nil {
		t.Fatal(err)
	}
	if _, err := tq.TryGet(); err == nil {
		t.Fatal("5 bytes decoded as an int64")
	}
	if err := tq.Join(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Detach releases calls blocked on this value and refuses later ones.
func TestQueueDetach(t *testing.T) {
	q, err := ipc.OpenQueue("q", 64, ipc.WithDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Go(func() { _, err := q.Get(context.Background()); errs <- err })
	}
	time.Sleep(20 * time.Millisecond)
	if err := q.Detach(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for range 2 {
		if err := <-errs; !errors.Is(err, ipc.ErrDetached) {
			t.Fatalf("blocked Get: %v, want ErrDetached", err)
		}
	}
	if err := q.TryPut(nil); !errors.Is(err, ipc.ErrDetached) {
		t.Fatalf("TryPut after Detach: %v", err)
	}
	if err := q.Detach(); !errors.Is(err, ipc.ErrDetached) {
		t.Fatalf("second Detach: %v", err)
	}
	if err := q.Remove(); err != nil {
		t.Fatal(err)
	}
}

// Goroutines of one process share a queue like processes do: every
// message is got exactly once.
func TestQueueGoroutines(t *testing.T) {
	const producers, consumers, each = 3, 3, 2000
	q := newQueue(t, t.TempDir(), 256)
	ctx := context.Background()
	var prod, cons sync.WaitGroup
	seen := make([][]int, consumers)
	for p := range producers {
		prod.Go(func() {
			for i := range each {
				if err := q.Put(ctx, fmt.Appendf(nil, "%d", p*each+i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for c := range consumers {
		cons.Go(func() {
			for {
				b, err := q.Get(ctx)
				if err != nil {
					if !errors.Is(err, ipc.ErrClosed) {
						t.Error(err)
					}
					return
				}
				var v int
				fmt.Sscan(string(b), &v)
				seen[c] = append(seen[c], v)
				q.TaskDone()
			}
		})
	}
	prod.Wait()
	if err := q.Join(ctx); err != nil {
		t.Fatal(err)
	}
	q.Close()
	cons.Wait()
	count := make([]int, producers*each)
	for _, s := range seen {
		for _, v := range s {
			count[v]++
		}
	}
	for v, n := range count {
		if n != 1 {
			t.Fatalf("message %d got %d times", v, n)
		}
	}
}
