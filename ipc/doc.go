// Package ipc holds what processes share through the kernel: named locks
// that several programs can take in turn, shared memory they can all read
// and write, and queues they pass messages through.
//
// # Locks
//
// A [Mutex] is a lock named by a string. Every process that opens a Mutex
// with the same name and directory contends for the same lock, and so do
// two Mutex values in one process:
//
//	m, err := ipc.NewMutex("render")
//	if err != nil { ... }
//	defer m.Close()
//	if err := m.Lock(ctx); err != nil { ... }
//	defer m.Unlock()
//
// A [Semaphore] admits up to n holders at once, machine-wide; it is what
// "crew sem -j N" is built on.
//
// Both are made of flock(2) locks on small files in a lock directory: by
// default $XDG_RUNTIME_DIR/crew/locks, else crew/locks in the user cache
// directory, else a private crew-<uid>/locks in the temporary directory for
// users with no usable home (see [DefaultDir] and [WithDir]). The kernel releases a flock
// when the last descriptor of its open file is closed, which happens when
// the holding process exits for any reason, including SIGKILL: a crashed
// holder never leaves a lock stuck. Lock files are never deleted by this
// package, because deleting a lock file while another process waits on it
// would let two processes hold "the same" lock on two different files.
//
// A blocked flock(2) cannot be cancelled, so Lock instead retries a
// non-blocking attempt with capped exponential back-off (50µs doubling up to
// 10ms by default, see [WithBackoff]). That is what makes Lock honour its
// context, at a price: a waiter notices a release only at its next attempt,
// so handing a contended lock from one process to another takes up to the
// back-off cap (about half a millisecond after a 1ms hold on an idle
// machine, against a few microseconds for sync.Mutex), and waiters are not
// served in arrival order. Back-off sleeps under 1ms use nanosleep(2) on the
// waiting goroutine's thread, because Go's timers round them up to ~1ms.
//
// # Shared memory
//
// A [Segment] is a named file in /dev/shm (a RAM-backed file system) mapped
// into the process with MAP_SHARED, so a write by one process is seen by
// every other process that maps it. [Segment.Counter] returns an
// *atomic.Int64 placed inside the segment for counters that several
// processes update at once. A segment outlives the process that created it
// until it is removed ([Segment.Remove] or [RemoveSegment]). Names are the
// file names, so a segment made here can be opened from Python as
// multiprocessing.shared_memory.SharedMemory(name).
//
// An [Array] is Python's multiprocessing.Array across programs: a
// fixed-length array of numbers (int8 to uint64, float32, float64) in a
// segment whose small header records the element type and length, so
// [OpenArray] refuses an array of another type ([ErrArrayType]) and a Python
// process maps the same memory by name with a memoryview or numpy view (the
// layout and the Python recipe are in the Array doc). Indexes are checked
// ([ErrIndex]); Load, Store, Add and CompareAndSwap are atomic across
// processes for the 32- and 64-bit integers.
//
// # Queues
//
// A [Queue] is a bounded, joinable FIFO of byte messages in a named file in
// /dev/shm, opened (and created, by whichever process comes first) with
// [OpenQueue]; a [TypedQueue] carries values through a [Codec] (binary,
// JSON or gob). It has the contract of crew's queue.Queue and Python's
// multiprocessing.JoinableQueue: Put, Get, TaskDone, Join, Close. Blocked
// calls sleep on futex(2) words in the shared file and honour their
// context. A killed producer never leaves a torn message, a lock held by a
// dead process is taken over, and Join reports tasks abandoned by a dead
// consumer ([AbandonedError]) instead of waiting for them forever.
//
// Names of locks, segments and queues must be non-empty file names: no
// "/", no NUL byte, not "." or "..". A bad name is reported as a [*NameError] matching
// [ErrBadName].
package ipc
