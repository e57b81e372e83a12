package ipc

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"runtime"
	"slices"
	"sync/atomic"
	"time"
	"unsafe"
)

// The queue file is a 4 KiB header followed by the ring of messages. All
// integers are in the machine's byte order; the layout is crew's own, not
// meant to be read by other programs.
const (
	queueMagic    = "crewipcq"
	queueVersion  = 1
	queueHeader   = 4096
	queueKindSize = 128
	queueSlots    = 64 // processes that may hold unfinished tasks at once
	recordHead    = 8  // a message's length, before its bytes
	noSlot        = ^uint64(0)
	cacheLine     = 64

	// MaxQueueCapacity bounds a queue's ring: 1 TiB.
	MaxQueueCapacity = 1 << 40

	// lockWaiters marks a lock word whose holder must wake a waiter on
	// release. Pids fit in 22 bits on Linux, so the top bit is free.
	lockWaiters = 1 << 31

	// lockCheck is how often a process waiting for the lock checks that its
	// holder is still alive; holderCheck is how often a Join (or any
	// waiting call) looks for dead lease holders and re-checks its context.
	lockCheck = 10 * time.Millisecond
	// fullBatch is how long a producer blocked on a full ring may be left
	// asleep while there is room for its message, for consumers to free
	// half the ring first (see Queue.get).
	fullBatch   = time.Millisecond
	lockSpins   = 20
	holderCheck = 50 * time.Millisecond
)

// qstate is everything a queue operation changes besides one lease slot.
// It is only read and written under the queue's lock.
type qstate struct {
	head, tail uint64 // byte offsets into the ring, never wrapped; tail-head bytes are in use
	count      uint64 // messages in the ring
	unfinished uint64 // messages put and neither marked done nor abandoned
	closed     uint64 // 1 once Close was called
	abandoned  uint64 // tasks whose holder died, ever
	lastDead   uint64 // pid of the last holder found dead
}

// qslot is a lease: a process (pid and start time) holding n tasks it got
// and has not marked done.
type qslot struct{ pid, start, n, _ uint64 }

// qheader is the start of the queue file, mapped in place.
type qheader struct {
	magic    [8]byte
	version  uint64
	capacity uint64
	kind     [queueKindSize]byte

	// Locks: 0, or the holder's pid, with lockWaiters. lock guards the
	// state below; putLock is held by the one producer copying a message
	// into free ring space, getLock by the one consumer copying the head
	// message out, so the copies run outside lock and in parallel.
	//
	// Event counters, each with a flag that a process sleeps on it: the
	// process that changes the counter wakes the sleepers only when the
	// flag is set, so the uncontended path makes no system call.
	//
	// What producers write (putLock, notEmpty) and what consumers write
	// (getLock, notFull) lie on cache lines of their own, so one side's
	// writes do not evict the line the other side is using.
	_                       [cacheLine]byte
	lock                    atomic.Uint32
	_                       [cacheLine - 4]byte
	putLock                 atomic.Uint32
	notEmpty, notEmptySleep atomic.Uint32
	_                       [cacheLine - 12]byte
	getLock                 atomic.Uint32
	notFull, notFullSleep   atomic.Uint32
	_                       uint32
	// Set, under lock, by producers going to sleep on a full ring: the
	// largest message they wait to put, and when the first of them fell
	// asleep (Unix nanoseconds).
	fullNeed            uint64
	fullSince           int64
	_                   [cacheLine - 32]byte
	joined, joinedSleep atomic.Uint32
	_                   [cacheLine - 8]byte

	st qstate

	// A change is written here first and applied after: a process killed
	// half-way through applying it leaves journal set, and the next holder
	// of the lock applies it again (it holds absolute values, so applying
	// twice is harmless).
	journal atomic.Uint64
	jst     qstate
	jidx    uint64 // the slot the change writes, or noSlot
	jslot   qslot

	slots [queueSlots]qslot
}

// The header must fit its page.
var _ [queueHeader - unsafe.Sizeof(qheader{})]byte

func recordSize(n int) uint64 { return recordHead + (uint64(n)+7)&^7 }

// queueKind fits a codec's element description into the header field,
// replacing the end of a long one by a hash of the whole.
func queueKind(kind string) string {
	if len(kind) <= queueKindSize {
		return kind
	}
	h := fnv.New64a()
	h.Write([]byte(kind))
	return fmt.Sprintf("%s#%016x", kind[:queueKindSize-17], h.Sum64())
}

func (h *qheader) kindString() string {
	k := h.kind[:]
	for i, c := range k {
		if c == 0 {
			return string(k[:i])
		}
	}
	return string(k)
}

// decodeHeader checks the fixed part of a mapped queue file of size bytes.
func decodeHeader(data []byte) (*qheader, error) {
	if len(data) < queueHeader+16 {
		return nil, fmt.Errorf("file of %d bytes is too small for a queue", len(data))
	}
	h := (*qheader)(unsafe.Pointer(&data[0]))
	switch {
	case string(h.magic[:]) != queueMagic:
		return nil, fmt.Errorf("not a queue (magic %q)", h.magic[:])
	case h.version != queueVersion:
		return nil, fmt.Errorf("queue format version %d, not %d", h.version, queueVersion)
	case h.capacity != uint64(len(data)-queueHeader) || h.capacity%8 != 0:
		return nil, fmt.Errorf("capacity %d does not match a file of %d bytes", h.capacity, len(data))
	}
	return h, nil
}

// checkState checks the cheap invariants of a state, before every
// operation uses it: a corrupt state must give ErrCorrupt, not a wrong
// index or an endless wait.
func checkState(st *qstate, capacity uint64) error {
	if err := checkOffsets(st, capacity); err != nil {
		return err
	}
	used := st.tail - st.head
	switch {
	case st.count > used/recordHead || (st.count == 0) != (used == 0):
		return fmt.Errorf("%d messages in %d bytes", st.count, used)
	case st.closed > 1:
		return fmt.Errorf("closed flag %d", st.closed)
	case st.unfinished < st.count:
		return fmt.Errorf("%d unfinished tasks but %d queued", st.unfinished, st.count)
	}
	return nil
}

// checkOffsets checks the ring offsets of a state, all that peek reads.
func checkOffsets(st *qstate, capacity uint64) error {
	if st.head%8 != 0 || st.tail%8 != 0 || st.tail < st.head || st.tail-st.head > capacity {
		return fmt.Errorf("ring offsets %d..%d in %d bytes", st.head, st.tail, capacity)
	}
	return nil
}

// checkLeases checks that the leases account for every unfinished task
// not in the ring; it runs when a queue is opened and after a recovery.
func checkLeases(st *qstate, slots *[queueSlots]qslot) error {
	held := st.count
	for i := range slots {
		s := &slots[i]
		if (s.pid == 0) != (s.n == 0) || s.pid >= lockWaiters || s.n > MaxQueueCapacity {
			return fmt.Errorf("lease %d: pid %d holding %d", i, s.pid, s.n)
		}
		held += s.n
	}
	if held != st.unfinished {
		return fmt.Errorf("%d unfinished tasks but %d queued or held", st.unfinished, held)
	}
	return nil
}

// readLength decodes the length of the message at the ring's head.
func (q *Queue) readLength(st *qstate) (int, error) {
	n := binary.NativeEndian.Uint64(q.ring[st.head%q.capacity:])
	if n > st.tail-st.head-recordHead || recordSize(int(n)) > st.tail-st.head {
		return 0, fmt.Errorf("%w: queue %q: message of %d bytes in %d queued", ErrCorrupt, q.name, n, st.tail-st.head)
	}
	return int(n), nil
}

// writeRing copies b into the ring at offset off, wrapping at the end.
func (q *Queue) writeRing(off uint64, b []byte) {
	i := off % q.capacity
	n := copy(q.ring[i:], b)
	copy(q.ring, b[n:])
}

// readMessage appends the n bytes at offset off of the ring to dst.
func (q *Queue) readMessage(dst []byte, off uint64, n int) []byte {
	// append allocates without zeroing first, as make would: a third of
	// the cost of a 64 KiB message.
	i := off % q.capacity
	if end := i + uint64(n); end <= q.capacity {
		return append(dst, q.ring[i:end]...)
	}
	dst = append(slices.Grow(dst, n), q.ring[i:]...)
	return append(dst, q.ring[:n-int(q.capacity-i)]...)
}

// testHook, set by tests only, is called at the named points of an
// operation so a test can kill a process there.
var testHook func(point string)

func hook(point string) {
	if testHook != nil {
		testHook(point)
	}
}

// lock takes the queue's state lock and finishes any change a dead
// holder left half-applied (see recoverLocked). On error the lock is not
// held.
func (q *Queue) lock(ctx context.Context) error {
	if err := q.lockWord(ctx, &q.h.lock); err != nil {
		return err
	}
	return q.recoverLocked()
}

func (q *Queue) unlock() { q.unlockWord(&q.h.lock) }

// lockWord takes a lock that is a word in the shared header holding the
// holder's pid. The uncontended path is one compare-and-swap. The state
// lock is held for a few hundred nanoseconds, less than a sleep and
// wake-up cost, so a waiter first retries lockSpins times with
// runtime.Gosched between tries (a microsecond or two in all); then it
// sleeps on the word with futex(2), is woken by the release, and every
// lockCheck checks that the holder still lives: the lock of a holder that
// died (or became a zombie) is taken over.
func (q *Queue) lockWord(ctx context.Context, w *atomic.Uint32) error {
	me := uint32(self().pid)
	if w.CompareAndSwap(0, me) {
		return nil
	}
	for range lockSpins {
		if w.Load() == 0 && w.CompareAndSwap(0, me) {
			return nil
		}
		runtime.Gosched()
	}
	for {
		v := w.Load()
		if v == 0 {
			// Others may still be asleep behind us, so keep the mark.
			if w.CompareAndSwap(0, me|lockWaiters) {
				return nil
			}
			continue
		}
		if v&lockWaiters == 0 {
			if !w.CompareAndSwap(v, v|lockWaiters) {
				continue
			}
			v |= lockWaiters
		}
		futexWait(w, v, sleepFor(ctx, lockCheck))
		if w.Load() != v {
			continue
		}
		if owner := uint64(v &^ lockWaiters); !alive(owner, 0) {
			if w.CompareAndSwap(v, me|lockWaiters) {
				return nil
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if q.detached.Load() {
			return ErrDetached
		}
	}
}

func (q *Queue) unlockWord(w *atomic.Uint32) {
	if w.Swap(0)&lockWaiters != 0 {
		futexWake(w, 1)
	}
}

// recoverLocked finishes a change that a killed process had journaled but
// not fully applied. A change not yet journaled was never published: its
// message bytes lie beyond the tail, where the next Put overwrites them.
func (q *Queue) recoverLocked() error {
	if q.h.journal.Load() == 0 {
		return nil
	}
	st := q.h.jst
	err := checkState(&st, q.capacity)
	if err == nil && q.h.jidx != noSlot && q.h.jidx >= queueSlots {
		err = fmt.Errorf("journal names lease %d", q.h.jidx)
	}
	if err == nil {
		q.h.setState(st)
		if q.h.jidx != noSlot {
			q.h.slots[q.h.jidx] = q.h.jslot
		}
		err = checkLeases(&q.h.st, &q.h.slots)
	}
	if err != nil {
		q.unlock()
		return fmt.Errorf("%w: queue %q: journal: %v", ErrCorrupt, q.name, err)
	}
	q.h.journal.Store(0)
	return nil
}

// commit publishes a new state and, unless idx is noSlot, a new lease in
// slot idx: journal first, then apply.
func (q *Queue) commit(st qstate, idx uint64, slot qslot) {
	h := q.h
	h.jst = st
	h.jidx = idx
	h.jslot = slot
	h.journal.Store(1)
	hook("journaled")
	h.setState(st)
	if idx != noSlot {
		h.slots[idx] = slot
	}
	h.journal.Store(0)
}

// setState stores a new state. head, tail and closed are stored
// atomically, because the holders of putLock and getLock read them
// without the lock (see peek).
func (h *qheader) setState(st qstate) {
	atomic.StoreUint64(&h.st.head, st.head)
	atomic.StoreUint64(&h.st.tail, st.tail)
	atomic.StoreUint64(&h.st.closed, st.closed)
	h.st.count = st.count
	h.st.unfinished = st.unfinished
	h.st.abandoned = st.abandoned
	h.st.lastDead = st.lastDead
}

// peek returns head, tail and closed without taking the lock, for the
// holder of putLock (tail is then its own, and head can only grow, so the
// free space it sees is there) or of getLock (head is its own, and tail
// can only grow: the messages it sees are published and whole). A change
// a dead process journaled and did not finish applying is finished first,
// under the lock, since it may move the very end that is the caller's.
func (q *Queue) peek(ctx context.Context) (qstate, error) {
	if q.h.journal.Load() != 0 {
		if err := q.lock(ctx); err != nil {
			return qstate{}, err
		}
		q.unlock()
	}
	return qstate{
		head:   atomic.LoadUint64(&q.h.st.head),
		tail:   atomic.LoadUint64(&q.h.st.tail),
		closed: atomic.LoadUint64(&q.h.st.closed),
	}, nil
}

// mySlot returns the lease slot of this process, or a free one, or
// noSlot when every slot is held by another process.
func (q *Queue) mySlot() uint64 {
	me := self()
	if i := q.slotHint.Load(); i < queueSlots {
		if s := &q.h.slots[i]; s.pid == me.pid && s.start == me.start {
			return i
		}
	}
	free := noSlot
	for i := range q.h.slots {
		s := &q.h.slots[i]
		if s.pid == me.pid && s.start == me.start {
			q.slotHint.Store(uint64(i))
			return uint64(i)
		}
		if s.pid == 0 && free == noSlot {
			free = uint64(i)
		}
	}
	if free != noSlot {
		q.slotHint.Store(free)
	}
	return free
}

// reclaimLocked ends the leases of processes that died holding tasks: the
// tasks are counted as abandoned so Join does not wait for them. It
// reports whether the unfinished count reached zero.
func (q *Queue) reclaimLocked() bool {
	reached := false
	for i := range q.h.slots {
		s := q.h.slots[i]
		if s.n == 0 || alive(s.pid, s.start) {
			continue
		}
		st := q.h.st
		if s.n > st.unfinished {
			continue // corrupt; checkLeases reports it at the next open
		}
		st.unfinished -= s.n
		st.abandoned += s.n
		st.lastDead = s.pid
		q.commit(st, uint64(i), qslot{})
		if st.unfinished == 0 {
			q.h.joined.Add(1)
			reached = true
		}
	}
	return reached
}
