package ipc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// A Queue is a bounded first-in first-out queue of byte messages shared by
// every process, and every Queue value, opened with the same name and
// directory: Python's multiprocessing.JoinableQueue, with the contract of
// crew's queue.Queue. Producers Put messages and consumers Get them; a
// consumer that has finished with a message calls TaskDone, and Join waits
// until every message ever put has been marked done. After Close, Put fails
// with ErrClosed while Get hands out what is left and then fails with
// ErrClosed. For values rather than bytes, see TypedQueue.
//
// The queue is a file <dir>/<name>.queue (dir is /dev/shm unless WithDir
// says otherwise) mapped into every process that opens it: a 4 KiB header
// and a ring of capacity bytes. A message takes its length rounded up to 8
// bytes, plus 8; Put blocks while the ring has no room for it.
//
// Use OpenQueue; the zero value is not usable. A Queue must not be copied.
// Its methods may be called from several goroutines. Put, Get and Join
// block; each takes a context, and a call that returns the context's error
// has changed nothing. Blocked calls sleep in the kernel on a futex(2) word
// in the shared header and are woken by the call that changes what they
// wait for, in whichever process it runs. Messages leave in the order they
// entered; blocked callers are not served in arrival order.
//
// An operation takes a lock in the shared header (one compare-and-swap
// when uncontended; a waiter retries a few times, then sleeps on futex(2))
// only to publish its change; the message is copied into or out of the
// ring before that, under a put lock or a get lock, so one producer and
// one consumer copy at the same time. Get allocates the returned slice;
// GetAppend reuses the caller's. A sleeper is woken with one futex(2)
// call. A Put blocked on a full ring is woken once half of it is free, or
// once it has waited a millisecond with room for its message, so a
// streaming producer and its consumer take turns in batches rather than a
// message at a time. Between two processes on a 2-core machine, 3 to 4
// million 8-byte messages a second pass, 1.5 million of 1 KiB with Get and
// 2.7 million with GetAppend, and 64 KiB messages at 15 to 22 GB/s with
// GetAppend but 1 to 4.5 GB/s with Get, whose allocations and garbage
// then cost more than the copy (see bench/ipc).
//
// # Processes that die
//
// A process may be killed at any instruction, and the queue stays usable:
//
//   - A Put writes the message into free ring space first and publishes it
//     last, in one journaled step. A producer killed before that step leaves
//     nothing; killed after it, the message is whole. No message is torn.
//   - A lock word holds its holder's pid. A process waiting for a lock
//     checks every 10 ms whether the holder still lives, and takes the lock
//     of a dead one over, first finishing the step it had journaled. A
//     consumer killed while copying a message out has not taken it: the
//     next Get hands it out.
//   - A message a process got is leased to that process (its pid and start
//     time are recorded) until it calls TaskDone. When Join finds that a
//     lease holder has died (gone, a zombie, or its pid reused), the
//     holder's tasks are abandoned: they no longer count as unfinished, and
//     Join returns an *AbandonedError (errors.Is ErrAbandoned) naming the
//     dead process, so the caller learns that work was lost instead of
//     waiting forever, as Python's JoinableQueue does. The messages
//     themselves are not handed out again; re-queue them if the work must
//     be done (the error says how many).
//
// Processes sharing a queue must see each other's pids (one pid namespace).
// TaskDone marks a task got by this process; a process that calls TaskDone
// more often than it called Get gets ErrTaskDone.
type Queue struct {
	name     string
	path     string
	kind     string
	capacity uint64
	data     []byte // the whole mapping
	h        *qheader
	ring     []byte

	slotHint atomic.Uint64 // where this process's lease slot was last seen
	detached atomic.Bool
	life     sync.RWMutex // held for reading by calls using the mapping, for writing by Detach
}

var (
	// ErrFull is returned by TryPut when the queue has no room for the message.
	ErrFull = errors.New("ipc: queue full")
	// ErrEmpty is returned by TryGet when the queue is empty and open.
	ErrEmpty = errors.New("ipc: queue empty")
	// ErrTaskDone is returned by TaskDone when this process has marked done
	// every message it got.
	ErrTaskDone = errors.New("ipc: TaskDone called more times than items were got")
	// ErrTooLarge is returned by Put and TryPut for a message that could
	// never fit in the queue's ring.
	ErrTooLarge = errors.New("ipc: message larger than the queue's capacity")
	// ErrMismatch reports a queue opened with a capacity or element kind
	// (codec and type) other than the one it was created with.
	ErrMismatch = errors.New("ipc: queue exists with another capacity or element type")
	// ErrCorrupt reports a queue file whose contents make no sense: not a
	// queue, or damaged by something other than this package.
	ErrCorrupt = errors.New("ipc: corrupt queue")
	// ErrAbandoned reports tasks lost because the process holding them died
	// before TaskDone; see AbandonedError.
	ErrAbandoned = errors.New("ipc: tasks abandoned by a dead process")
	// ErrHolders is returned by Get when 64 other live processes already
	// hold unfinished tasks of the queue.
	ErrHolders = errors.New("ipc: too many processes holding tasks")
	// ErrDetached reports use of a Queue after Detach.
	ErrDetached = errors.New("ipc: queue detached")
)

// An AbandonedError is returned by Join when processes died holding tasks
// they had got and not marked done. Those tasks no longer count as
// unfinished.
type AbandonedError struct {
	Queue string // the queue's name
	PID   int    // the last dead holder found
	Tasks int    // tasks abandoned while Join ran
}

// Error names the dead process and the count of lost tasks.
func (e *AbandonedError) Error() string {
	return fmt.Sprintf("ipc: queue %q: %d task(s) abandoned: process %d died holding tasks it got and had not marked done",
		e.Queue, e.Tasks, e.PID)
}

// Unwrap returns ErrAbandoned.
func (e *AbandonedError) Unwrap() error { return ErrAbandoned }

// OpenQueue opens the queue called name, creating it with a ring of
// capacity bytes if it does not exist; creation is atomic, so any number
// of processes may race to open the same queue. It fails with an error
// matching ErrMismatch when the queue exists with another capacity, or
// was made by OpenTypedQueue. The caller must Detach it.
//
// The capacity is rounded up to a multiple of 8; it must be at least 16
// and at most MaxQueueCapacity. The only option that applies is WithDir,
// which replaces /dev/shm.
func OpenQueue(name string, capacity int, opts ...Option) (*Queue, error) {
	return openQueue(name, capacity, "bytes", opts)
}

func openQueue(name string, capacity int, kind string, opts []Option) (*Queue, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	path, err := segmentPath(name+".queue", opts)
	if err != nil {
		return nil, err
	}
	if capacity < 16 || capacity > MaxQueueCapacity {
		return nil, fmt.Errorf("ipc: queue %q: capacity %d out of range 16..%d", name, capacity, MaxQueueCapacity)
	}
	q := &Queue{name: name, path: path, kind: queueKind(kind), capacity: (uint64(capacity) + 7) &^ 7}
	for range 3 {
		err = q.open()
		if !errors.Is(err, os.ErrNotExist) {
			break
		}
		err = q.create()
		if !errors.Is(err, os.ErrExist) {
			break
		}
		// Another process created it between our open and link: open it.
	}
	if err != nil {
		return nil, err
	}
	return q, nil
}

// create makes the queue file privately and links it into place, so no
// process ever sees a queue that is not fully set up, and exactly one
// creator wins.
func (q *Queue) create() error {
	tmp, err := os.CreateTemp(filepath.Dir(q.path), "."+filepath.Base(q.path)+".*")
	if err != nil {
		return fmt.Errorf("ipc: queue %q: %w", q.name, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	size := queueHeader + int(q.capacity)
	if err := tmp.Truncate(int64(size)); err != nil {
		return fmt.Errorf("ipc: queue %q: %w", q.name, err)
	}
	data, err := mapFile(tmp, size)
	if err != nil {
		return fmt.Errorf("ipc: queue %q: %w", q.name, err)
	}
	copy(data, queueMagic)
	binary.NativeEndian.PutUint64(data[8:], queueVersion)
	binary.NativeEndian.PutUint64(data[16:], q.capacity)
	copy(data[24:24+queueKindSize], q.kind)
	if err := os.Link(tmp.Name(), q.path); err != nil {
		unix.Munmap(data)
		if errors.Is(err, os.ErrExist) {
			return err // the caller opens the winner's queue
		}
		return fmt.Errorf("ipc: queue %q: %w", q.name, err)
	}
	q.attach(data)
	return nil
}

// open maps an existing queue file and checks it against what the caller
// asked for.
func (q *Queue) open() error {
	f, err := os.OpenFile(q.path, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return err
		}
		return fmt.Errorf("ipc: queue %q: %w", q.name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("ipc: queue %q: %w", q.name, err)
	}
	size := fi.Size()
	if size < queueHeader+16 || size > queueHeader+MaxQueueCapacity {
		return fmt.Errorf("%w: queue %q: file of %d bytes", ErrCorrupt, q.name, size)
	}
	data, err := mapFile(f, int(size))
	if err != nil {
		return fmt.Errorf("ipc: queue %q: %w", q.name, err)
	}
	h, err := decodeHeader(data)
	if err == nil && (h.capacity != q.capacity || h.kindString() != q.kind) {
		err = fmt.Errorf("%w: queue %q holds %q in %d bytes, not %q in %d", ErrMismatch,
			q.name, h.kindString(), h.capacity, q.kind, q.capacity)
	} else if err != nil {
		err = fmt.Errorf("%w: queue %q: %v", ErrCorrupt, q.name, err)
	}
	if err == nil {
		q.attach(data)
		err = q.check()
	}
	if err != nil {
		unix.Munmap(data)
		return err
	}
	return nil
}

func (q *Queue) attach(data []byte) {
	q.data = data
	q.h, _ = decodeHeader(data)
	q.ring = data[queueHeader:]
	q.slotHint.Store(noSlot)
}

// check verifies the shared state once, under the lock, when the queue is
// opened.
func (q *Queue) check() error {
	if err := q.lock(context.Background()); err != nil {
		return err
	}
	defer q.unlock()
	if err := checkState(&q.h.st, q.capacity); err != nil {
		return fmt.Errorf("%w: queue %q: %v", ErrCorrupt, q.name, err)
	}
	if err := checkLeases(&q.h.st, &q.h.slots); err != nil {
		return fmt.Errorf("%w: queue %q: %v", ErrCorrupt, q.name, err)
	}
	return nil
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// Cap returns the ring's size in bytes. The largest message is Cap()-8.
func (q *Queue) Cap() int { return int(q.capacity) }

// enter guards a call against Detach; the caller must call q.life.RUnlock
// when it returns nil.
func (q *Queue) enter() error {
	q.life.RLock()
	if q.detached.Load() {
		q.life.RUnlock()
		return ErrDetached
	}
	return nil
}

// lockState takes the lock and returns the checked shared state.
func (q *Queue) lockState(ctx context.Context) (qstate, error) {
	if err := q.lock(ctx); err != nil {
		return qstate{}, err
	}
	st := q.h.st
	if err := checkState(&st, q.capacity); err != nil {
		q.unlock()
		return st, fmt.Errorf("%w: queue %q: %v", ErrCorrupt, q.name, err)
	}
	return st, nil
}

// Put appends msg, blocking while the queue has no room for it. It returns
// ErrClosed if the queue is or becomes closed before msg enters,
// ErrTooLarge if msg could never fit, and ctx's error if ctx ends first;
// in these cases msg has not entered the queue. Put copies msg.
func (q *Queue) Put(ctx context.Context, msg []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return q.put(ctx, msg, true)
}

// TryPut appends msg if there is room now. It returns ErrFull when there
// is not, ErrClosed after Close and ErrTooLarge for a message that could
// never fit. It does not wait, except for the lock held for the length of
// another call's copy.
func (q *Queue) TryPut(msg []byte) error {
	return q.put(context.Background(), msg, false)
}

func (q *Queue) put(ctx context.Context, msg []byte, block bool) error {
	if err := q.enter(); err != nil {
		return err
	}
	defer q.life.RUnlock()
	need := recordSize(len(msg))
	if need > q.capacity {
		return fmt.Errorf("%w: queue %q: %d bytes, at most %d fit", ErrTooLarge, q.name, len(msg), q.capacity-recordHead)
	}
	for {
		if err := q.lockWord(ctx, &q.h.putLock); err != nil {
			return err
		}
		// With the put lock held, the free space after tail is ours: no
		// other producer writes there, no consumer reads past tail, and
		// it can only grow while we copy. Look without the state lock
		// first; take it only to fail, or to wait for room.
		st, err := q.peek(ctx)
		if err != nil {
			q.unlockWord(&q.h.putLock)
			return err
		}
		if st.closed != 0 || checkOffsets(&st, q.capacity) != nil || q.capacity-(st.tail-st.head) < need {
			if st, err = q.lockState(ctx); err != nil {
				q.unlockWord(&q.h.putLock)
				return err
			}
			if st.closed != 0 {
				q.unlock()
				q.unlockWord(&q.h.putLock)
				return ErrClosed
			}
			if q.capacity-(st.tail-st.head) < need {
				if !block {
					q.unlock()
					q.unlockWord(&q.h.putLock)
					return ErrFull
				}
				if q.h.notFullSleep.Load() == 0 {
					q.h.fullNeed, q.h.fullSince = 0, time.Now().UnixNano()
				}
				q.h.fullNeed = max(q.h.fullNeed, need)
				if err := q.sleep(ctx, &q.h.notFull, &q.h.notFullSleep, &q.h.putLock); err != nil {
					return err
				}
				continue
			}
			q.unlock()
		}
		tail := st.tail
		var n [recordHead]byte
		binary.NativeEndian.PutUint64(n[:], uint64(len(msg)))
		q.writeRing(tail, n[:])
		q.writeRing(tail+recordHead, msg)
		hook("written")
		// Publishing takes a moment and must not be abandoned half-way
		// for a context, so it waits for the lock without one.
		st, err = q.lockState(context.Background())
		if err != nil {
			q.unlockWord(&q.h.putLock)
			return err
		}
		hook("locked")
		if st.closed != 0 || st.tail != tail {
			q.unlock()
			q.unlockWord(&q.h.putLock)
			if st.closed != 0 {
				return ErrClosed
			}
			return fmt.Errorf("%w: queue %q: tail moved under the put lock", ErrCorrupt, q.name)
		}
		st.tail += need
		st.count++
		st.unfinished++
		q.commit(st, noSlot, qslot{})
		q.signal(&q.h.notEmpty, &q.h.notEmptySleep, &q.h.putLock)
		return nil
	}
}

// signal, called with the lock held and, unless nil, the side lock too,
// counts an event and releases the locks, then wakes the processes
// sleeping on the event, if any.
func (q *Queue) signal(word, sleepers, side *atomic.Uint32) {
	q.signalIf(word, sleepers, side, true)
}

// signalIf is signal that leaves the sleepers asleep unless wake is true.
func (q *Queue) signalIf(word, sleepers, side *atomic.Uint32, wake bool) {
	word.Add(1)
	wake = wake && sleepers.Load() != 0
	if wake {
		sleepers.Store(0)
	}
	q.unlock()
	if side != nil {
		q.unlockWord(side)
	}
	if wake {
		futexWake(word, math.MaxInt32)
	}
}

// sleep, called with the lock and the side lock held, releases both and
// sleeps until the event word changes, ctx ends, or holderCheck passes. It
// returns ctx's error if ctx has ended and ErrDetached after Detach.
func (q *Queue) sleep(ctx context.Context, word, sleepers, side *atomic.Uint32) error {
	seq := word.Load()
	sleepers.Store(1)
	q.unlock()
	if side != nil {
		q.unlockWord(side)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { futexWake(word, math.MaxInt32) })
	futexWait(word, seq, sleepFor(ctx, holderCheck))
	stop()
	if err := ctx.Err(); err != nil {
		return err
	}
	if q.detached.Load() {
		return ErrDetached
	}
	return nil
}

// Get removes and returns the oldest message, blocking while the queue is
// empty and open. Once the queue is closed, Get returns the remaining
// messages and then ErrClosed. If ctx ends first it returns ctx's error
// and takes nothing. The message is leased to this process until TaskDone.
func (q *Queue) Get(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return q.get(ctx, true, nil)
}

// GetAppend is Get that appends the message to dst and returns the
// extended slice, so a consumer can reuse one buffer instead of allocating
// a slice per message: for messages of tens of kilobytes the allocation
// and the garbage collector's work cost more than the copy.
func (q *Queue) GetAppend(ctx context.Context, dst []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return dst, err
	}
	msg, err := q.get(ctx, true, dst)
	if err != nil {
		return dst, err
	}
	return msg, nil
}

// TryGet removes and returns the oldest message if there is one. It
// returns ErrEmpty when the queue is empty and open, ErrClosed when it is
// empty and closed.
func (q *Queue) TryGet() ([]byte, error) {
	return q.get(context.Background(), false, nil)
}

func (q *Queue) get(ctx context.Context, block bool, dst []byte) ([]byte, error) {
	if err := q.enter(); err != nil {
		return nil, err
	}
	defer q.life.RUnlock()
	for {
		if err := q.lockWord(ctx, &q.h.getLock); err != nil {
			return nil, err
		}
		// With the get lock held, the head message stays put: only its
		// holder moves head, and producers write only before head. Look
		// without the state lock first; take it only when nothing shows.
		st, err := q.peek(ctx)
		if err != nil {
			q.unlockWord(&q.h.getLock)
			return nil, err
		}
		if checkOffsets(&st, q.capacity) != nil || st.tail == st.head {
			if st, err = q.lockState(ctx); err != nil {
				q.unlockWord(&q.h.getLock)
				return nil, err
			}
			if st.count == 0 {
				switch {
				case st.closed != 0:
					err = ErrClosed
				case !block:
					err = ErrEmpty
				default:
					err = q.sleep(ctx, &q.h.notEmpty, &q.h.notEmptySleep, &q.h.getLock)
					if err != nil {
						return nil, err
					}
					continue
				}
				q.unlock()
				q.unlockWord(&q.h.getLock)
				return nil, err
			}
			q.unlock()
		}
		n, err := q.readLength(&st)
		if err != nil {
			q.unlockWord(&q.h.getLock)
			return nil, err
		}
		head := st.head
		msg := q.readMessage(dst, head+recordHead, n)
		hook("copied")
		if st, err = q.lockState(context.Background()); err != nil {
			q.unlockWord(&q.h.getLock)
			return nil, err
		}
		idx := q.mySlot()
		if idx == noSlot || st.head != head || st.count == 0 {
			q.unlock()
			q.unlockWord(&q.h.getLock)
			if idx == noSlot {
				return nil, fmt.Errorf("%w: queue %q", ErrHolders, q.name)
			}
			return nil, fmt.Errorf("%w: queue %q: head moved under the get lock", ErrCorrupt, q.name)
		}
		st.head += recordSize(n)
		st.count--
		me := self()
		slot := q.h.slots[idx]
		slot.pid, slot.start = me.pid, me.start
		slot.n++
		q.commit(st, idx, slot)
		// Producers blocked on a full ring are woken once half of it is
		// free (or all of it, for a message larger than half): woken at
		// every Get, a producer streaming messages would put one and sleep
		// again, a pair of context switches per message. But once there
		// is room for them they wait at most fullBatch, which is what a
		// producer behind slow consumers sees.
		wake := false
		if q.h.notFullSleep.Load() != 0 {
			free := q.capacity - (st.tail - st.head)
			wake = free >= q.capacity/2 || st.count == 0 ||
				free >= q.h.fullNeed && time.Now().UnixNano()-q.h.fullSince >= int64(fullBatch)
		}
		q.signalIf(&q.h.notFull, &q.h.notFullSleep, &q.h.getLock, wake)
		return msg, nil
	}
}

// TaskDone marks one message this process got as finished. It returns
// ErrTaskDone, changing nothing, if this process has already marked every
// message it got.
func (q *Queue) TaskDone() error {
	if err := q.enter(); err != nil {
		return err
	}
	defer q.life.RUnlock()
	st, err := q.lockState(context.Background())
	if err != nil {
		return err
	}
	me := self()
	idx := q.mySlot()
	if idx == noSlot || q.h.slots[idx].pid != me.pid || q.h.slots[idx].n == 0 {
		q.unlock()
		return ErrTaskDone
	}
	slot := q.h.slots[idx]
	if st.unfinished == 0 {
		q.unlock()
		return fmt.Errorf("%w: queue %q: a lease but no unfinished task", ErrCorrupt, q.name)
	}
	slot.n--
	if slot.n == 0 {
		slot = qslot{}
	}
	st.unfinished--
	q.commit(st, idx, slot)
	if st.unfinished == 0 {
		q.signal(&q.h.joined, &q.h.joinedSleep, nil)
		return nil
	}
	q.unlock()
	return nil
}

// Join blocks until every message ever put has been got and marked done
// with TaskDone, and returns nil; it returns at once if nothing is
// unfinished. If ctx ends first it returns ctx's error. Close does not
// release Join: messages left in a closed queue are still work to be done.
//
// While it waits, Join checks every 50 ms for processes that died holding
// tasks; it ends their leases and, once nothing is unfinished, returns an
// *AbandonedError (errors.Is ErrAbandoned) saying how many tasks were lost
// while it waited.
func (q *Queue) Join(ctx context.Context) error {
	if err := q.enter(); err != nil {
		return err
	}
	defer q.life.RUnlock()
	first := true
	var abandoned0 uint64
	for {
		if err := q.lock(ctx); err != nil {
			return err
		}
		if first {
			abandoned0 = q.h.st.abandoned
			first = false
		}
		if q.reclaimLocked() {
			q.signal(&q.h.joined, &q.h.joinedSleep, nil)
			if err := q.lock(ctx); err != nil {
				return err
			}
		}
		if st := q.h.st; st.unfinished == 0 {
			q.unlock()
			if lost := st.abandoned - abandoned0; lost > 0 {
				return &AbandonedError{Queue: q.name, PID: int(st.lastDead), Tasks: int(lost)}
			}
			return nil
		}
		if err := q.sleep(ctx, &q.h.joined, &q.h.joinedSleep, nil); err != nil {
			return err
		}
	}
}

// Close stops the queue from accepting messages, in every process: waiting
// and later Puts fail with ErrClosed, and Gets fail with ErrClosed once the
// messages already in the queue are gone. Closing a closed queue does
// nothing. Close does not Detach.
func (q *Queue) Close() error {
	if err := q.enter(); err != nil {
		return err
	}
	defer q.life.RUnlock()
	st, err := q.lockState(context.Background())
	if err != nil {
		return err
	}
	if st.closed == 0 {
		st.closed = 1
		q.commit(st, noSlot, qslot{})
	}
	q.h.notEmpty.Add(1)
	q.h.notFull.Add(1)
	q.h.notEmptySleep.Store(0)
	q.h.notFullSleep.Store(0)
	q.unlock()
	futexWake(&q.h.notEmpty, math.MaxInt32)
	futexWake(&q.h.notFull, math.MaxInt32)
	return nil
}

// Len returns the number of messages in the queue.
func (q *Queue) Len() int {
	st, err := q.snapshot()
	if err != nil {
		return 0
	}
	return int(st.count)
}

// Unfinished returns the number of messages put and not yet marked done
// (nor abandoned), the count Join waits on.
func (q *Queue) Unfinished() int {
	st, err := q.snapshot()
	if err != nil {
		return 0
	}
	return int(st.unfinished)
}

func (q *Queue) snapshot() (qstate, error) {
	if err := q.enter(); err != nil {
		return qstate{}, err
	}
	defer q.life.RUnlock()
	st, err := q.lockState(context.Background())
	if err != nil {
		return st, err
	}
	q.unlock()
	return st, nil
}

// Detach unmaps the queue from this process; the queue itself stays, for
// other processes and later OpenQueue calls, until removed. Calls blocked
// in this Queue value return ErrDetached, and so do later ones. Tasks this
// process got and did not mark done stay leased to it until it exits.
// Detaching twice returns ErrDetached.
func (q *Queue) Detach() error {
	if q.detached.Swap(true) {
		return ErrDetached
	}
	// Wake our own sleepers (and, harmlessly, other processes') so they
	// see the flag and let go of the mapping.
	for _, w := range []*atomic.Uint32{&q.h.notEmpty, &q.h.notFull, &q.h.joined, &q.h.lock, &q.h.putLock, &q.h.getLock} {
		futexWake(w, math.MaxInt32)
	}
	q.life.Lock()
	defer q.life.Unlock()
	data := q.data
	q.data, q.ring, q.h = nil, nil, nil
	if err := unix.Munmap(data); err != nil {
		return fmt.Errorf("ipc: queue %q: munmap: %w", q.name, err)
	}
	return nil
}

// Remove removes the queue's name, so a later OpenQueue creates a new
// queue; processes that have it open keep using the old one.
func (q *Queue) Remove() error { return RemoveQueue(q.name, WithDir(filepath.Dir(q.path))) }

// RemoveQueue removes the named queue's file. It returns an error matching
// ErrNotExist when there is none.
func RemoveQueue(name string, opts ...Option) error {
	if err := checkName(name); err != nil {
		return err
	}
	path, err := segmentPath(name+".queue", opts)
	if err != nil {
		return err
	}
	return removeSegment(name, path)
}
