package ipc

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"crew/internal/backoff"
)

// openLockFile opens (creating 0600 if needed) a lock file. Each call makes
// a new open file description, and flock locks belong to those, so two
// descriptors from two calls exclude each other even within one process.
// O_CLOEXEC keeps the lock from leaking into child processes, which would
// otherwise keep it held after we exit.
func openLockFile(path string) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("ipc: open lock file: %w", &os.PathError{Op: "open", Path: path, Err: err})
		}
		return fd, nil
	}
}

// tryFlock takes an exclusive flock without blocking. It reports false when
// another open file description holds it.
func tryFlock(fd int) (bool, error) {
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		switch err {
		case nil:
			return true, nil
		case unix.EWOULDBLOCK:
			return false, nil
		case unix.EINTR:
			continue
		}
		return false, fmt.Errorf("ipc: flock: %w", err)
	}
}

func unflock(fd int) error {
	for {
		err := unix.Flock(fd, unix.LOCK_UN)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("ipc: unlock: %w", err)
		}
		return nil
	}
}

// poll calls try until it succeeds, fails or ctx is done, sleeping between
// attempts with capped exponential back-off and jitter, which keeps
// processes that started waiting together from retrying in lockstep.
//
// The first attempt is made even when ctx is already done, so a free lock
// is taken rather than refused. (x/sync's semaphore did the same until
// 2023; its Acquire now fails on a done context without trying.)
func poll(ctx context.Context, o *options, try func() (bool, error)) error {
	b := backoff.Backoff{Min: o.minBackoff, Max: o.maxBackoff, Jitter: true}
	for {
		ok, err := try()
		if err != nil || ok {
			return err
		}
		if err := b.Sleep(ctx); err != nil {
			return err
		}
	}
}
