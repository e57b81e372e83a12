package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"crew/ipc"
	"crew/proc"
)

// The lab's cross-process queues: the notes' multiprocessing.Queue and
// JoinableQueue programs, with ipc.Queue in their place.

// labQueueCap is the ring of every lab queue; workers open a queue with
// the same capacity, which OpenTypedQueue checks.
const labQueueCap = 64 << 10

var labQueueSeq atomic.Int64

// newLabQueue creates a fresh queue in /dev/shm for one run of an
// experiment; dropLabQueue removes it.
func newLabQueue[T any](what string, codec ipc.Codec[T]) (*ipc.TypedQueue[T], error) {
	name := fmt.Sprintf("crew-lab-%s-%d-%d", what, os.Getpid(), labQueueSeq.Add(1))
	return ipc.OpenTypedQueue(name, labQueueCap, codec)
}

func dropLabQueue[T any](q *ipc.TypedQueue[T]) {
	q.Queue().Remove()
	q.Detach()
}

// putSum is the worker's side of the gil experiment's process mode: it
// puts its result on the named queue, as the notes' work() does with
// result.put(total).
func putSum(ctx context.Context, name string, out sumOut) error {
	q, err := ipc.OpenTypedQueue(name, labQueueCap, ipc.JSONCodec[sumOut]())
	if err != nil {
		return err
	}
	defer q.Detach()
	return q.Put(ctx, out)
}

// queueWorkerTask asks a worker process to run the notes' worker loop over
// the named queue.
type queueWorkerTask struct {
	Queue string
	Work  time.Duration
}

// queueWorkerOut is what one worker process did: each item with when its
// work ran (Unix nanoseconds), and whether it stopped because the queue
// was closed.
type queueWorkerOut struct {
	Worker int
	Items  []int64
	Starts []int64
	Ends   []int64
	Closed bool
}

var procQueueWorker = proc.Register("lab.queueWorker", func(ctx context.Context, in queueWorkerTask) (queueWorkerOut, error) {
	out := queueWorkerOut{Worker: proc.WorkerID(ctx)}
	q, err := ipc.OpenTypedQueue(in.Queue, labQueueCap, ipc.BinaryCodec[int64]())
	if err != nil {
		return out, err
	}
	defer q.Detach()
	for {
		item, err := q.Get(ctx)
		if errors.Is(err, ipc.ErrClosed) {
			out.Closed = true
			return out, nil
		}
		if err != nil {
			return out, err
		}
		start := time.Now()
		time.Sleep(in.Work)
		out.Items = append(out.Items, item)
		out.Starts = append(out.Starts, start.UnixNano())
		out.Ends = append(out.Ends, time.Now().UnixNano())
		if err := q.TaskDone(); err != nil {
			return out, err
		}
	}
})

// runQueueProcs is the queue experiment with worker processes: a proc pool
// of workers, each running the notes' worker loop over an ipc.Queue this
// process fills, joins and closes.
func runQueueProcs(ctx context.Context, workers, items int, work time.Duration) (queueFigures, []Row, []Span, error) {
	fig := queueFigures{Items: items, Seen: make([]int, items), Workers: workers}
	q, err := newLabQueue("queue", ipc.BinaryCodec[int64]())
	if err != nil {
		return fig, nil, nil, err
	}
	defer dropLabQueue(q)
	// WithPrefetch(0): each worker takes one long-lived loop, so the
	// workers' loops land on different processes.
	pool, err := proc.New(ctx, proc.WithWorkers(workers), proc.WithPrefetch(0))
	if err != nil {
		return fig, nil, nil, err
	}
	defer pool.Close()
	type result struct {
		out queueWorkerOut
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan result, workers)
	for range workers {
		go func() {
			out, err := procQueueWorker.Call(ctx, pool, queueWorkerTask{Queue: q.Queue().Name(), Work: work})
			results <- result{out, err}
		}()
	}
	epoch := time.Now()
	for item := range items {
		if err = q.Put(ctx, int64(item)); err != nil {
			break
		}
	}
	if err == nil {
		err = q.Join(ctx)
	}
	joined := time.Now()
	q.Close()
	if err != nil {
		cancel()
	}
	var rows []Row
	var spans []Span
	for range workers {
		r := <-results
		if err == nil {
			err = r.err
		}
		if r.out.Closed {
			fig.Exited++
		}
		for i, item := range r.out.Items {
			if item < 0 || int(item) >= items {
				return fig, nil, nil, fmt.Errorf("worker got item %d, not one put", item)
			}
			start, end := time.Unix(0, r.out.Starts[i]), time.Unix(0, r.out.Ends[i])
			fig.Seen[item]++
			if !end.After(joined) {
				fig.DoneAtJoin++
			}
			spans = append(spans, span(r.out.Worker, epoch, start, end))
			rows = append(rows, Row{"mode": "processes", "item": int(item), "worker": r.out.Worker,
				"start_ms": start.Sub(epoch).Seconds() * 1e3, "end_ms": end.Sub(epoch).Seconds() * 1e3})
		}
	}
	return fig, rows, spans, err
}

// ipcQueueCap is the ring of the ipc experiment's queues for size-byte
// messages: room for two.
func ipcQueueCap(size int) int { return max(4096, 2*(size+16)) }

// ipcQueues opens the ipc experiment's pair of queues: data from the
// parent to the child, acknowledgements back.
func ipcQueues(name string, size int) (data, ack *ipc.Queue, err error) {
	if data, err = ipc.OpenQueue(name+"-data", ipcQueueCap(size)); err != nil {
		return nil, nil, err
	}
	if ack, err = ipc.OpenQueue(name+"-ack", ipcQueueCap(size)); err != nil {
		data.Detach()
		return nil, nil, err
	}
	return data, ack, nil
}

// ipcQueueParent is the parent's side of the ipc experiment over
// ipc.Queue: put a message, get the child's acknowledgement.
func ipcQueueParent(ctx context.Context, task ipcTask) (time.Duration, error) {
	data, ack, err := ipcQueues(task.Name, task.Size)
	if err != nil {
		return 0, err
	}
	defer func() {
		data.Remove()
		ack.Remove()
		data.Detach()
		ack.Detach()
	}()
	msg := make([]byte, task.Size)
	var buf []byte
	t0 := time.Now()
	for range task.Count {
		if err := data.Put(ctx, msg); err != nil {
			return 0, err
		}
		if buf, err = ack.GetAppend(ctx, buf[:0]); err != nil {
			return 0, err
		}
		ack.TaskDone()
	}
	return time.Since(t0), nil
}

// ipcQueueReceive is the child's side: get each message, acknowledge it.
func ipcQueueReceive(ctx context.Context, in ipcTask) (int, error) {
	data, ack, err := ipcQueues(in.Name, in.Size)
	if err != nil {
		return 0, err
	}
	defer data.Detach()
	defer ack.Detach()
	buf := make([]byte, 0, in.Size)
	for range in.Count {
		if buf, err = data.GetAppend(ctx, buf[:0]); err != nil {
			return 0, err
		}
		data.TaskDone()
		if err := ack.Put(ctx, []byte{1}); err != nil {
			return 0, err
		}
	}
	return in.Count, nil
}
