package ipc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// defaultSegmentDir is where POSIX shared memory lives on Linux; shm_open
// (and so Python's shared_memory) creates its objects there.
const defaultSegmentDir = "/dev/shm"

// A Segment is a named region of shared memory: a file in /dev/shm mapped
// into this process with MAP_SHARED. Every process that maps the same name
// sees the same bytes, and a segment outlives every process that maps it
// until it is removed.
//
// Use CreateSegment or OpenSegment; the zero value is not usable. A Segment
// must not be copied. Bytes and Counter may be used from any goroutine; the
// memory itself has no locking, so concurrent writers need a Mutex or
// atomic counters. Reading or writing the memory after Close crashes the
// process (the mapping is gone), so Close only when every user is done.
// Mapping costs one mmap(2); after that, access is plain memory access.
type Segment struct {
	name string
	path string
	data []byte
}

// CreateSegment creates a segment of size bytes, all zero, and maps it. It
// fails with an error matching ErrExist when the name is taken. The caller
// must Close it, and Remove it when no process needs it any more.
//
// The only option that applies is WithDir, which replaces /dev/shm.
func CreateSegment(name string, size int, opts ...Option) (*Segment, error) {
	return createSegment(name, size, opts, nil)
}

// createSegment is CreateSegment with init, when not nil, run on the memory
// before the name appears: a type that keeps a header in the segment (Array)
// writes it there, so no OpenSegment can see the segment without it.
func createSegment(name string, size int, opts []Option, init func([]byte)) (*Segment, error) {
	path, err := segmentPath(name, opts)
	if err != nil {
		return nil, err
	}
	if size < 1 {
		return nil, fmt.Errorf("ipc: segment %q: size %d is not positive", name, size)
	}
	// Size a private file first and link it into place: OpenSegment can then
	// never see the segment at a size other than its final one, and link
	// fails if the name exists, which makes creation exclusive.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+name+".*")
	if err != nil {
		return nil, fmt.Errorf("ipc: segment %q: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := tmp.Truncate(int64(size)); err != nil {
		return nil, fmt.Errorf("ipc: segment %q: %w", name, err)
	}
	data, err := mapFile(tmp, size)
	if err != nil {
		return nil, fmt.Errorf("ipc: segment %q: %w", name, err)
	}
	if init != nil {
		init(data)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		_ = unix.Munmap(data)
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("ipc: segment %q: %w", name, ErrExist)
		}
		return nil, fmt.Errorf("ipc: segment %q: %w", name, err)
	}
	return &Segment{name: name, path: path, data: data}, nil
}

// OpenSegment maps an existing segment. It fails with an error matching
// ErrNotExist when there is none of that name. The caller must Close it.
//
// The only option that applies is WithDir, which replaces /dev/shm.
func OpenSegment(name string, opts ...Option) (*Segment, error) {
	path, err := segmentPath(name, opts)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("ipc: segment %q: %w", name, ErrNotExist)
		}
		return nil, fmt.Errorf("ipc: segment %q: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("ipc: segment %q: %w", name, err)
	}
	size := fi.Size()
	if size < 1 || size != int64(int(size)) {
		return nil, fmt.Errorf("ipc: segment %q: unusable size %d", name, size)
	}
	data, err := mapFile(f, int(size))
	if err != nil {
		return nil, fmt.Errorf("ipc: segment %q: %w", name, err)
	}
	return &Segment{name: name, path: path, data: data}, nil
}

// RemoveSegment removes the named segment. Processes that have it mapped
// keep their memory until they Close it; new OpenSegment calls fail. It
// returns an error matching ErrNotExist when there is no such segment.
func RemoveSegment(name string, opts ...Option) error {
	path, err := segmentPath(name, opts)
	if err != nil {
		return err
	}
	return removeSegment(name, path)
}

func removeSegment(name, path string) error {
	if err := os.Remove(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("ipc: segment %q: %w", name, ErrNotExist)
		}
		return fmt.Errorf("ipc: segment %q: %w", name, err)
	}
	return nil
}

func segmentPath(name string, opts []Option) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	o, err := applyOptions(opts)
	if err != nil {
		return "", err
	}
	dir := o.dir
	if dir == "" {
		dir = defaultSegmentDir
	}
	return filepath.Join(dir, name), nil
}

func mapFile(f *os.File, size int) ([]byte, error) {
	// The mapping keeps the file's memory alive after f is closed.
	data, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	return data, nil
}

// Name returns the segment's name.
func (s *Segment) Name() string { return s.name }

// Size returns the segment's length in bytes.
func (s *Segment) Size() int { return len(s.data) }

// Bytes returns the shared memory itself; writes to it are seen by every
// process that maps the segment. It returns nil after Close.
func (s *Segment) Bytes() []byte { return s.data }

// Counter returns the 64-bit atomic integer stored at byte offset in the
// segment, so processes can count together without a lock. The offset must
// be a multiple of 8 with offset+8 <= Size(); otherwise Counter returns an
// error. Counters are stored in the machine's byte order.
func (s *Segment) Counter(offset int) (*atomic.Int64, error) {
	if s.data == nil {
		return nil, ErrClosed
	}
	if offset < 0 || offset%8 != 0 || offset > len(s.data)-8 {
		return nil, fmt.Errorf("ipc: segment %q: counter offset %d is not a multiple of 8 within 0..%d",
			s.name, offset, len(s.data)-8)
	}
	// mmap returns page-aligned memory, so an 8-aligned offset gives the
	// 8-byte alignment 64-bit atomics need on every platform.
	return (*atomic.Int64)(unsafe.Pointer(&s.data[offset])), nil
}

// Close unmaps the segment from this process. The segment itself stays
// until removed. Closing twice returns ErrClosed.
func (s *Segment) Close() error {
	if s.data == nil {
		return ErrClosed
	}
	data := s.data
	s.data = nil
	if err := unix.Munmap(data); err != nil {
		return fmt.Errorf("ipc: segment %q: munmap: %w", s.name, err)
	}
	return nil
}

// Remove removes the segment's name, as RemoveSegment does; this process's
// mapping stays usable until Close.
func (s *Segment) Remove() error { return removeSegment(s.name, s.path) }
