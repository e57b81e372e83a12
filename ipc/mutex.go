package ipc

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// A Mutex is a mutual exclusion lock shared by every process, and every
// Mutex value, opened with the same name and directory. Its lock file is
// <dir>/<name>.lock.
//
// Use NewMutex; the zero value is not usable. A Mutex must not be copied.
// Its methods may be called from several goroutines: goroutines using the
// same Mutex value exclude each other as they would with sync.Mutex, and
// any goroutine may Unlock what another locked.
//
// Lock blocks while another process or Mutex value holds the lock. The
// holder's lock is released by Unlock, by Close, or by the kernel when the
// holding process dies. An uncontended Lock plus Unlock costs two flock(2)
// system calls (about a microsecond); a contended Lock sleeps between
// attempts as the package doc describes. A Mutex holds one open file
// descriptor until Close.
type Mutex struct {
	name string
	path string
	opts options

	// token is the in-process half of the lock: a flock taken through our
	// own descriptor would succeed again for a second goroutine, so
	// goroutines sharing this value first take the token.
	token chan struct{}
	done  chan struct{} // closed by Close

	mu     sync.Mutex // guards fd, held, closed
	fd     int
	held   bool
	closed bool
}

// NewMutex opens the cross-process mutex called name, creating its lock
// directory (0700) and lock file (0600) when missing. The returned Mutex is
// unlocked. The caller must Close it.
func NewMutex(name string, opts ...Option) (*Mutex, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	dir, err := o.lockDir()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name+".lock")
	fd, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	return &Mutex{
		name:  name,
		path:  path,
		opts:  o,
		token: make(chan struct{}, 1),
		done:  make(chan struct{}),
		fd:    fd,
	}, nil
}

// Name returns the name the Mutex was opened with.
func (m *Mutex) Name() string { return m.name }

// Path returns the lock file's path.
func (m *Mutex) Path() string { return m.path }

// Lock blocks until the mutex is held by this value, ctx is done, or the
// Mutex is closed. On cancellation it returns ctx.Err() and leaves the
// mutex as it was; after Close it returns ErrClosed.
func (m *Mutex) Lock(ctx context.Context) error {
	select {
	case m.token <- struct{}{}:
	case <-m.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := poll(ctx, &m.opts, m.tryFlock); err != nil {
		<-m.token
		return err
	}
	return nil
}

// TryLock takes the mutex if no one holds it and reports whether it did.
// It never blocks.
func (m *Mutex) TryLock() (bool, error) {
	select {
	case m.token <- struct{}{}:
	default:
		return false, nil
	}
	ok, err := m.tryFlock()
	if !ok {
		<-m.token
	}
	return ok, err
}

func (m *Mutex) tryFlock() (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, ErrClosed
	}
	ok, err := tryFlock(m.fd)
	if err != nil {
		return false, fmt.Errorf("ipc: mutex %q: %w", m.name, err)
	}
	m.held = ok
	return ok, nil
}

// Unlock releases the mutex. It returns ErrNotLocked when this value does
// not hold it.
func (m *Mutex) Unlock() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	if !m.held {
		m.mu.Unlock()
		return ErrNotLocked
	}
	err := unflock(m.fd)
	m.held = false
	m.mu.Unlock()
	<-m.token
	if err != nil {
		return fmt.Errorf("ipc: mutex %q: %w", m.name, err)
	}
	return nil
}

// Close releases the mutex if held and closes its file. Waiting Lock calls
// return ErrClosed. Closing twice returns ErrClosed.
func (m *Mutex) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.closed = true
	close(m.done)
	// Closing the only descriptor of the open file releases the flock.
	if err := unix.Close(m.fd); err != nil {
		return fmt.Errorf("ipc: mutex %q: close: %w", m.name, err)
	}
	return nil
}
