package child

import (
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// outputName names output files in /proc/PID/fd listings.
const outputName = "crew-out"

// OutputFile returns an unnamed file for a child's output, to be set as
// its Cmd.Stdout or Cmd.Stderr: the child writes into it directly, as GNU
// parallel's jobs write into its temporary files, with no pipe, no copying
// goroutine, and no wait on a background process that inherited it. The
// file lives in memory (memfd_create(2)) where the kernel allows, because
// creating a file on ext4 costs about half a millisecond of system time,
// more than a job like `true` itself; elsewhere it is an unlinked
// temporary file on disk (TempFile). inMemory says which. The caller reads
// the output back (ReadOutput) and closes the file.
//
// A child shares the file's offset with the caller, so after the child has
// exited the offset is the size of what it wrote. Use a fresh file for each
// child: a background process it left may still write into its file.
func OutputFile() (f *os.File, inMemory bool, err error) {
	fd, err := unix.MemfdCreate(outputName, unix.MFD_CLOEXEC)
	if err == nil {
		return os.NewFile(uintptr(fd), outputName), true, nil
	}
	f, err = TempFile()
	return f, false, err
}

// TempFile opens an unnamed temporary file on disk: O_TMPFILE where the
// file system has it, otherwise a named file unlinked at once, so nothing
// is left behind even on a crash.
func TempFile() (*os.File, error) {
	dir := os.TempDir()
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), filepath.Join(dir, outputName)), nil
	}
	f, err := os.CreateTemp(dir, outputName+"-*")
	if err != nil {
		return nil, err
	}
	_ = os.Remove(f.Name())
	return f, nil
}

// ReadOutput returns what a child wrote into f, an OutputFile it had as
// stdout or stderr, and closes f. It reads up to the file's offset, which
// the child moved as it wrote; nil when the child wrote nothing.
func ReadOutput(f *os.File) ([]byte, error) {
	defer f.Close()
	n, err := f.Seek(0, io.SeekCurrent)
	if err != nil || n == 0 {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil {
		return nil, err
	}
	return b, nil
}
