package ipc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// maxSlots bounds a Semaphore's size: each slot is a file and, while the
// Semaphore is open, a file descriptor.
const maxSlots = 1024

// A Semaphore is a counting semaphore of n slots shared by every process,
// and every Semaphore value, opened with the same name and directory. Each
// slot is a lock file <dir>/<name>.0 … <dir>/<name>.<n-1>; a holder owns
// one slot's flock. The slot count is recorded in <dir>/<name>.sem by the
// first user, and a later NewSemaphore with a different n fails with
// ErrSlots, so processes cannot silently disagree on the limit.
//
// Use NewSemaphore; the zero value is not usable. A Semaphore must not be
// copied. Its methods may be called from several goroutines. One value may
// hold several slots at once (call Lock several times): each Unlock
// releases one of them, the most recently taken, so a value that took k
// slots gives them all back after k Unlock calls, whichever goroutines make
// them.
//
// Lock blocks while all n slots are held. Slots are released by Unlock, by
// Close, or by the kernel when a holder dies. An attempt costs up to n
// flock(2) calls; waiting sleeps between attempts as the package doc
// describes. A Semaphore holds n open file descriptors until Close.
type Semaphore struct {
	name string
	n    int
	opts options

	mu     sync.Mutex // guards fds, held, stack, closed
	fds    []int
	held   []bool // held[i]: this value holds slot i
	stack  []int  // slots taken, in order; Unlock pops
	closed bool
}

// NewSemaphore opens the cross-process semaphore called name with n slots,
// creating its lock directory (0700) and files (0600) when missing. It
// returns an error matching ErrSlots when the semaphore already exists with
// another slot count. The caller must Close it.
func NewSemaphore(name string, n int, opts ...Option) (*Semaphore, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if n < 1 || n > maxSlots {
		return nil, fmt.Errorf("ipc: semaphore %q: slot count %d out of range 1..%d", name, n, maxSlots)
	}
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	dir, err := o.lockDir()
	if err != nil {
		return nil, err
	}
	if err := agreeSlots(dir, name, n); err != nil {
		return nil, err
	}
	s := &Semaphore{name: name, n: n, opts: o, held: make([]bool, n)}
	for i := range n {
		fd, err := openLockFile(filepath.Join(dir, name+"."+strconv.Itoa(i)))
		if err != nil {
			s.closeFDs()
			return nil, err
		}
		s.fds = append(s.fds, fd)
	}
	return s, nil
}

// agreeSlots records n in the header file, or checks it against the count
// already recorded there.
func agreeSlots(dir, name string, n int) error {
	path := filepath.Join(dir, name+".sem")
	want := strconv.Itoa(n) + "\n"
	// Write a private file and link it into place: link fails if the header
	// exists, so no reader ever sees a half-written header and exactly one
	// creator wins.
	tmp, err := os.CreateTemp(dir, "."+name+".sem.*")
	if err != nil {
		return fmt.Errorf("ipc: semaphore %q: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.WriteString(want)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("ipc: semaphore %q: %w", name, err)
	}
	err = os.Link(tmp.Name(), path)
	if err == nil {
		return nil
	}
	if !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("ipc: semaphore %q: %w", name, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("ipc: semaphore %q: %w", name, err)
	}
	have, err := parseSlots(data)
	if err != nil {
		return fmt.Errorf("ipc: semaphore %q: header %s: %w", name, path, err)
	}
	if have != n {
		return fmt.Errorf("ipc: semaphore %q has %s, not %d (remove %s to change it): %w",
			name, slots(have), n, path, ErrSlots)
	}
	return nil
}

// slots says "1 slot" or "n slots".
func slots(n int) string {
	if n == 1 {
		return "1 slot"
	}
	return strconv.Itoa(n) + " slots"
}

// parseSlots reads a header file: a decimal slot count and a newline.
func parseSlots(data []byte) (int, error) {
	text, ok := strings.CutSuffix(string(data), "\n")
	if !ok || text == "" || len(text) > 4 || strings.TrimLeft(text, "0123456789") != "" {
		return 0, fmt.Errorf("malformed slot count %q", data)
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 1 || n > maxSlots {
		return 0, fmt.Errorf("malformed slot count %q", data)
	}
	return n, nil
}

// Name returns the name the Semaphore was opened with.
func (s *Semaphore) Name() string { return s.name }

// Slots returns the number of slots, n.
func (s *Semaphore) Slots() int { return s.n }

// Held returns how many slots this value holds.
func (s *Semaphore) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.stack)
}

// Lock blocks until this value holds one more slot, ctx is done, or the
// Semaphore is closed. On cancellation it returns ctx.Err() and takes no
// slot; after Close it returns ErrClosed.
func (s *Semaphore) Lock(ctx context.Context) error {
	return poll(ctx, &s.opts, s.TryLock)
}

// TryLock takes a free slot if there is one and reports whether it did. It
// never blocks.
func (s *Semaphore) TryLock() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, ErrClosed
	}
	for i, fd := range s.fds {
		// Our own descriptor would lock again without conflict, so skip
		// slots this value already holds.
		if s.held[i] {
			continue
		}
		ok, err := tryFlock(fd)
		if err != nil {
			return false, fmt.Errorf("ipc: semaphore %q: %w", s.name, err)
		}
		if ok {
			s.held[i] = true
			s.stack = append(s.stack, i)
			return true, nil
		}
	}
	return false, nil
}

// Unlock releases the slot this value took most recently. It returns
// ErrNotLocked when this value holds no slot.
func (s *Semaphore) Unlock() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if len(s.stack) == 0 {
		return ErrNotLocked
	}
	i := s.stack[len(s.stack)-1]
	s.stack = s.stack[:len(s.stack)-1]
	s.held[i] = false
	if err := unflock(s.fds[i]); err != nil {
		return fmt.Errorf("ipc: semaphore %q: %w", s.name, err)
	}
	return nil
}

// Close releases every slot this value holds and closes its files. Waiting
// Lock calls return ErrClosed. Closing twice returns ErrClosed.
func (s *Semaphore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	s.stack = nil
	if err := s.closeFDs(); err != nil {
		return fmt.Errorf("ipc: semaphore %q: close: %w", s.name, err)
	}
	return nil
}

func (s *Semaphore) closeFDs() error {
	var errs []error
	for _, fd := range s.fds {
		errs = append(errs, unix.Close(fd))
	}
	s.fds = nil
	return errors.Join(errs...)
}
