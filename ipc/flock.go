package ipc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"golang.org/x/sys/unix"
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
// attempts with capped exponential back-off. The first attempt is made even
// when ctx is already done, as x/sync's semaphore does.
func poll(ctx context.Context, o *options, try func() (bool, error)) error {
	var timer *time.Timer
	d := o.minBackoff
	for {
		ok, err := try()
		if err != nil || ok {
			return err
		}
		// Jitter keeps processes that started waiting together from retrying
		// in lockstep.
		sleep := d/2 + rand.N(d)
		if sleep < shortSleep {
			// Go's timers do not fire much sooner than a millisecond in an
			// otherwise idle program, which would turn a 50µs back-off into
			// 1ms. nanosleep(2) is precise; it holds this goroutine's thread
			// and delays noticing ctx by at most shortSleep.
			ts := unix.NsecToTimespec(int64(sleep))
			_ = unix.Nanosleep(&ts, nil) // EINTR only makes the retry sooner
			if err := ctx.Err(); err != nil {
				return err
			}
		} else {
			if timer == nil {
				timer = time.NewTimer(sleep)
				defer timer.Stop()
			} else {
				timer.Reset(sleep)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
			}
		}
		d = min(2*d, o.maxBackoff)
	}
}

// shortSleep is the back-off below which poll sleeps in nanosleep(2)
// rather than on a Go timer.
const shortSleep = time.Millisecond
