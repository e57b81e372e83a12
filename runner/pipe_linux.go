package runner

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// The kernel's zero-copy paths for --pipe: a block that lies in a file
// goes to a job's pipe by splice(2) and to a --cat file by
// copy_file_range(2), so its bytes never pass through crew.

// maxPipeSize bounds the pipes crew makes bigger: what an unprivileged
// process may ask for by default (/proc/sys/fs/pipe-max-size).
const maxPipeSize = 1 << 20

// setPipeSize grows the pipe w writes to towards n bytes, so a job reads
// its block in fewer, larger pieces and crew is woken less often. It is
// only a hint: a refusal leaves the default 64 KiB.
func setPipeSize(w *os.File, n int64) {
	rc, err := w.SyscallConn()
	if err != nil {
		return
	}
	size := int(min(max(n, 64<<10), maxPipeSize))
	rc.Control(func(fd uintptr) {
		unix.FcntlInt(fd, unix.F_SETPIPE_SZ, size)
	})
}

// spliceRange moves n bytes of src at off into the pipe w with splice(2),
// waiting in the netpoller while the pipe is full. It falls back to
// reading and writing where splice cannot be used.
func spliceRange(w *os.File, src *os.File, off, n int64) error {
	rc, err := w.SyscallConn()
	if err != nil {
		return err
	}
	sfd := int(src.Fd())
	var serr error
	fallback := false
	for n > 0 && serr == nil && !fallback {
		err := rc.Write(func(fd uintptr) bool {
			for n > 0 {
				m, err := unix.Splice(sfd, &off, int(fd), nil, int(min(n, 1<<30)), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
				switch {
				case err == unix.EAGAIN:
					return false
				case err == unix.EINTR:
					continue
				case err == unix.EINVAL || err == unix.ENOSYS:
					fallback = true
					return true
				case err != nil:
					serr = err
					return true
				case m == 0:
					serr = io.ErrUnexpectedEOF // the file shrank
					return true
				}
				n -= m
			}
			return true
		})
		if err != nil {
			return err
		}
	}
	if fallback {
		_, err := io.Copy(w, io.NewSectionReader(src, off, n))
		return err
	}
	return serr
}

// copyRange copies n bytes of src at off to the end of dst, by
// copy_file_range(2) where the file systems allow it.
func copyRange(dst, src *os.File, off, n int64) error {
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	for n > 0 {
		m, err := unix.CopyFileRange(sfd, &off, dfd, nil, int(min(n, 1<<30)), 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || m == 0 {
			_, err := io.Copy(dst, io.NewSectionReader(src, off, n))
			return err
		}
		n -= int64(m)
	}
	return nil
}

func mkfifo(path string) error { return unix.Mkfifo(path, 0o600) }

// errNoReader is openFifoWriter's error while no process has the named
// pipe open for reading.
var errNoReader = errors.New("no reader")

// openFifoWriter opens the named pipe at path for writing without
// waiting for a reader (which open(2) would, forever if none comes).
func openFifoWriter(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == unix.ENXIO {
		return nil, errNoReader
	}
	if err != nil {
		return nil, fmt.Errorf("runner: --fifo: %w", err)
	}
	// Non-blocking, so the netpoller waits while the pipe is full and
	// Close can interrupt a write nobody reads.
	return os.NewFile(uintptr(fd), path), nil
}
