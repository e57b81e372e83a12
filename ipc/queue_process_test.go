package ipc_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"crew/internal/testproc"
	"crew/ipc"
	"crew/proc"
)

// Queue helpers take: dir, queue name, capacity, then their own arguments.
var _ = registerQueueRoles()

func registerQueueRoles() bool {
	roles := map[string]func(q *ipc.Queue, args []string) error{
		"q-put":         putRole,
		"q-put-forever": putForeverRole,
		"q-kill-at":     killAtRole,
		"q-get-hold":    getHoldRole,
		"q-get-stop":    getStopRole,
	}
	for name, fn := range roles {
		testproc.Register(name, func(args []string) int {
			return exitStatus(name, func() error {
				capacity, _ := strconv.Atoi(args[2])
				q, err := ipc.OpenQueue(args[1], capacity, ipc.WithDir(args[0]))
				if err != nil {
					return err
				}
				return fn(q, args)
			}())
		})
	}
	testproc.Register("q-put-typed", func(args []string) int {
		return exitStatus("q-put-typed", putTypedRole(args))
	})
	return true
}

func exitStatus(role string, err error) int {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", role, err)
		return 2
	}
	return 0
}

// putRole puts messages "m<i>" for i in [first, first+n).
func putRole(q *ipc.Queue, args []string) error {
	first, _ := strconv.Atoi(args[3])
	n, _ := strconv.Atoi(args[4])
	for i := first; i < first+n; i++ {
		if err := q.Put(context.Background(), []byte("m"+strconv.Itoa(i))); err != nil {
			return err
		}
	}
	fmt.Println("done")
	return nil
}

// checkedMessage is message seq of a producer: its sequence number, then
// bytes derived from it, so a torn or mixed-up message shows.
func checkedMessage(seq uint64) []byte {
	b := binary.LittleEndian.AppendUint64(nil, seq)
	for j := range int(seq % 300) {
		b = append(b, byte(seq*7+uint64(j)))
	}
	return b
}

func checkMessage(b []byte) (uint64, error) {
	if len(b) < 8 {
		return 0, fmt.Errorf("message of %d bytes", len(b))
	}
	seq := binary.LittleEndian.Uint64(b)
	if !bytes.Equal(b, checkedMessage(seq)) {
		return seq, fmt.Errorf("message %d torn: %d bytes", seq, len(b))
	}
	return seq, nil
}

func putForeverRole(q *ipc.Queue, _ []string) error {
	for seq := uint64(0); ; seq++ {
		if err := q.Put(context.Background(), checkedMessage(seq)); err != nil {
			return err
		}
	}
}

// killAtRole puts one big message and stops for good at the named point
// of the Put, where the test kills it.
func killAtRole(q *ipc.Queue, args []string) error {
	point := args[3]
	ipc.SetQueueHook(func(p string) {
		if p == point {
			fmt.Println(p)
			time.Sleep(time.Hour)
		}
	})
	return q.Put(context.Background(), bytes.Repeat([]byte("x"), 1000))
}

// getHoldRole gets one message and never marks it done.
func getHoldRole(q *ipc.Queue, _ []string) error {
	b, err := q.Get(context.Background())
	if err != nil {
		return err
	}
	fmt.Println("got", string(b))
	time.Sleep(time.Hour)
	return nil
}

// getStopRole gets one message and stops for good once it has copied it
// out, before taking it, where the test kills it.
func getStopRole(q *ipc.Queue, _ []string) error {
	ipc.SetQueueHook(func(p string) {
		if p == "copied" {
			fmt.Println(p)
			time.Sleep(time.Hour)
		}
	})
	_, err := q.Get(context.Background())
	return err
}

// putTypedRole puts int64 values 1..n into a typed queue.
func putTypedRole(args []string) error {
	capacity, _ := strconv.Atoi(args[2])
	n, _ := strconv.Atoi(args[3])
	q, err := ipc.OpenTypedQueue(args[1], capacity, ipc.BinaryCodec[int64](), ipc.WithDir(args[0]))
	if err != nil {
		return err
	}
	defer q.Detach()
	for i := 1; i <= n; i++ {
		if err := q.Put(context.Background(), int64(i)); err != nil {
			return err
		}
	}
	return nil
}

type queueArgs struct {
	Dir, Name string
	Cap       int
}

// sumQueue runs in a proc worker: it sums a typed queue until it is closed.
var sumQueue = proc.Register("sumQueue", func(ctx context.Context, a queueArgs) (int64, error) {
	q, err := ipc.OpenTypedQueue(a.Name, a.Cap, ipc.BinaryCodec[int64](), ipc.WithDir(a.Dir))
	if err != nil {
		return 0, err
	}
	defer q.Detach()
	var sum int64
	for {
		v, err := q.Get(ctx)
		if errors.Is(err, ipc.ErrClosed) {
			return sum, nil
		}
		if err != nil {
			return sum, err
		}
		sum += v
		if err := q.TaskDone(); err != nil {
			return sum, err
		}
	}
})

func queueHelper(t *testing.T, role, dir string, capacity int, more ...string) *helper {
	t.Helper()
	return startHelperArgs(t, role, append([]string{dir, "q", strconv.Itoa(capacity)}, more...))
}

// startHelperArgs is startHelper with a free-form command line.
func startHelperArgs(t *testing.T, role string, args []string) *helper {
	t.Helper()
	cmd := testproc.Command(role, args...)
	return startCmd(t, role, cmd)
}

// Several producer processes and this one as consumer: every message
// arrives exactly once and each producer's messages in order.
func TestQueueAcrossProcesses(t *testing.T) {
	const producers, each = 3, 3000
	dir := t.TempDir()
	q := newQueue(t, dir, 512) // small, so producers block on a full ring
	var hs []*helper
	for p := range producers {
		hs = append(hs, queueHelper(t, "q-put", dir, 512, strconv.Itoa(p*each), strconv.Itoa(each)))
	}
	last := make([]int, producers)
	for p := range last {
		last[p] = p*each - 1
	}
	for range producers * each {
		s := mustGet(t, q)
		i, err := strconv.Atoi(s[1:])
		if err != nil {
			t.Fatalf("message %q", s)
		}
		p := i / each
		if i != last[p]+1 {
			t.Fatalf("producer %d: message %d after %d", p, i, last[p])
		}
		last[p] = i
		if err := q.TaskDone(); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range hs {
		h.expect(t, "done")
		h.wait(t)
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("%d messages left", n)
	}
}

// A proc worker consumes what a process started by hand produces: the
// queue needs nothing but its name and directory.
func TestQueueProcWorkerAndHandStarted(t *testing.T) {
	const n = 5000
	dir := t.TempDir()
	ctx := context.Background()
	q, err := ipc.OpenTypedQueue("q", 256, ipc.BinaryCodec[int64](), ipc.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Detach()
	p, err := proc.New(ctx, proc.WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	type result struct {
		sum int64
		err error
	}
	res := make(chan result, 1)
	go func() {
		sum, err := sumQueue.Call(ctx, p, queueArgs{Dir: dir, Name: "q", Cap: 256})
		res <- result{sum, err}
	}()
	h := queueHelper(t, "q-put-typed", dir, 256, strconv.Itoa(n))
	h.wait(t)
	jctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := q.Join(jctx); err != nil {
		t.Fatal(err)
	}
	q.Close()
	r := <-res
	if r.err != nil || r.sum != n*(n+1)/2 {
		t.Fatalf("worker's sum = %d, %v; want %d", r.sum, r.err, n*(n+1)/2)
	}
}

// A producer killed at any point of a Put leaves no torn message: killed
// before the publishing step it leaves nothing, after it a whole message;
// and a lock it held is taken over.
func TestQueueProducerKilledMidPut(t *testing.T) {
	tests := []struct {
		point   string
		visible bool // whether the killed Put's message is in the queue
	}{
		{"written", false},
		{"locked", false},
		{"journaled", true},
	}
	for _, tt := range tests {
		t.Run(tt.point, func(t *testing.T) {
			dir := t.TempDir()
			q := newQueue(t, dir, 4096)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := q.Put(ctx, []byte("before")); err != nil {
				t.Fatal(err)
			}
			h := queueHelper(t, "q-kill-at", dir, 4096, tt.point)
			h.expect(t, tt.point)
			h.kill(t)
			start := time.Now()
			if err := q.Put(ctx, []byte("after")); err != nil {
				t.Fatalf("Put after the kill: %v", err)
			}
			t.Logf("Put after the kill took %v", time.Since(start))
			want := []string{"before"}
			if tt.visible {
				want = append(want, string(bytes.Repeat([]byte("x"), 1000)))
			}
			want = append(want, "after")
			if got := q.Len(); got != len(want) {
				t.Fatalf("Len = %d, want %d", got, len(want))
			}
			for i, w := range want {
				if got := mustGet(t, q); got != w {
					t.Fatalf("message %d: %d bytes %.10q, want %d bytes %.10q", i, len(got), got, len(w), w)
				}
			}
			if u := q.Unfinished(); u != len(want) {
				t.Fatalf("Unfinished = %d, want %d", u, len(want))
			}
		})
	}
}

// The same at random moments: a producer putting as fast as it can while
// this process drains the queue is killed, and every message is whole and
// in order.
func TestQueueProducerKilledAtRandom(t *testing.T) {
	for round := range 5 {
		dir := t.TempDir()
		q := newQueue(t, dir, 1<<14)
		h := queueHelper(t, "q-put-forever", dir, 1<<14)
		next := uint64(0)
		check := func(b []byte) {
			t.Helper()
			seq, err := checkMessage(b)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if seq != next {
				t.Fatalf("round %d: message %d after %d", round, seq, next-1)
			}
			next++
		}
		killAt := time.Now().Add(time.Duration(20+round*7) * time.Millisecond)
		for time.Now().Before(killAt) {
			ctx, cancel := context.WithDeadline(context.Background(), killAt)
			b, err := q.Get(ctx)
			cancel()
			if err == nil {
				check(b)
			}
		}
		h.kill(t)
		left := 0
		for ; ; left++ {
			b, err := q.TryGet()
			if errors.Is(err, ipc.ErrEmpty) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			check(b)
		}
		t.Logf("round %d: %d whole messages, %d left after the kill", round, next, left)
	}
}

// A consumer killed after Get and before TaskDone does not make Join hang:
// Join reports the dead process and its lost task, and the next Join
// finds nothing unfinished.
func TestQueueConsumerKilledBeforeTaskDone(t *testing.T) {
	dir := t.TempDir()
	q := newQueue(t, dir, 256)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, m := range []string{"a", "b"} {
		if err := q.Put(ctx, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	h := queueHelper(t, "q-get-hold", dir, 256)
	h.expect(t, "got a")
	pid := h.cmd.Process.Pid
	if got := mustGet(t, q); got != "b" {
		t.Fatalf("got %q", got)
	}
	if err := q.TaskDone(); err != nil {
		t.Fatal(err)
	}
	// Still alive: Join must wait for it.
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	if err := q.Join(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Join while the holder lives: %v", err)
	}
	h.kill(t)
	start := time.Now()
	err := q.Join(ctx)
	var ae *ipc.AbandonedError
	if !errors.As(err, &ae) || !errors.Is(err, ipc.ErrAbandoned) || ae.PID != pid || ae.Tasks != 1 {
		t.Fatalf("Join after the kill = %v, want an AbandonedError for pid %d, 1 task", err, pid)
	}
	t.Logf("Join: %v after %v", err, time.Since(start))
	if err := q.Join(ctx); err != nil {
		t.Fatalf("second Join: %v", err)
	}
}

// A consumer killed while copying a message out has not taken it: its get
// lock is taken over and the next Get hands the message out, whole.
func TestQueueConsumerKilledMidGet(t *testing.T) {
	dir := t.TempDir()
	q := newQueue(t, dir, 256)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, m := range []string{"a", "b"} {
		if err := q.Put(ctx, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	h := queueHelper(t, "q-get-stop", dir, 256)
	h.expect(t, "copied")
	h.kill(t)
	for _, want := range []string{"a", "b"} {
		if got := mustGet(t, q); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		if err := q.TaskDone(); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Join(ctx); err != nil {
		t.Fatalf("Join: %v (the killed consumer had taken nothing)", err)
	}
}

// A zombie holds no lease: a consumer killed but not yet reaped by its
// parent counts as dead.
func TestQueueZombieHolder(t *testing.T) {
	dir := t.TempDir()
	q := newQueue(t, dir, 256)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q.Put(ctx, []byte("a"))
	h := queueHelper(t, "q-get-hold", dir, 256)
	h.expect(t, "got a")
	h.cmd.Process.Signal(os.Kill) // not reaped until the test ends
	if err := q.Join(ctx); !errors.Is(err, ipc.ErrAbandoned) {
		t.Fatalf("Join = %v, want ErrAbandoned", err)
	}
}
