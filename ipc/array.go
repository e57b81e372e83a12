package ipc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"unsafe"
)

var (
	// ErrNotArray reports a segment whose header is not an Array's: wrong
	// magic, an unknown version or element type code, or an element size
	// that does not match its type code.
	ErrNotArray = errors.New("ipc: segment holds no array")
	// ErrArrayType reports an Array opened with an element type other than
	// the one it was created with.
	ErrArrayType = errors.New("ipc: array element type mismatch")
	// ErrArrayTooSmall reports a segment too small for the header or for
	// the number of elements its header records.
	ErrArrayTooSmall = errors.New("ipc: segment too small for the array")
	// ErrIndex reports an Array index outside 0..Len()-1.
	ErrIndex = errors.New("ipc: array index out of range")
	// ErrNotAtomic reports an atomic operation on an element type that has
	// none: Add and CompareAndSwap need int32, int64, uint32 or uint64, and
	// Load and Store also take float32 and float64.
	ErrNotAtomic = errors.New("ipc: no such atomic operation for the element type")
)

// Number is the set of element types an Array holds: fixed-size numbers,
// each with a Python struct format character (see Array for the layout).
// int and uint are left out because their size depends on the platform.
type Number interface {
	int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64
}

// The header of an Array segment; see the Array doc for what a Python
// reader does with it.
const (
	arrayMagic      = "crewarr\x00"
	arrayVersion    = 1
	arrayHeaderSize = 64 // also where the elements start: aligned for any element and a cache line
)

// An Array is a fixed-length array of numbers of type T kept in a named
// shared-memory Segment, so that every process that opens the same name
// reads and writes the same elements: Python's multiprocessing.Array, or a
// numpy array over a multiprocessing.shared_memory block.
//
// Use CreateArray or OpenArray; the zero value is not usable. An Array must
// not be copied. Its methods may be called from any goroutine and process at
// once, except Close: call it once this process is done with the array. At, Set and Slice are plain memory accesses with no ordering: use
// them where one process writes before the others read (with a Mutex, or
// between the phases of a job). Load, Store, Add and CompareAndSwap are
// atomic, as sync/atomic's, across processes too; they cost a few
// nanoseconds uncontended, and Add on one element from several processes
// runs at the speed the CPUs pass that cache line between them. Every index
// is checked: one outside 0..Len()-1 returns an error matching ErrIndex.
// Using an Array after Close returns ErrClosed, except for a slice already
// taken from Slice, whose use after Close crashes the process.
//
// # Layout
//
// The segment is a file in /dev/shm (see WithDir) that starts with a 64-byte
// header, little-endian:
//
//	offset  size  field
//	0       8     magic "crewarr\x00"
//	8       4     version, 1
//	12      1     element type, a Python struct format character:
//	              b int8, B uint8, h int16, H uint16, i int32, I uint32,
//	              q int64, Q uint64, f float32, d float64
//	13      1     element size in bytes
//	14      2     zero
//	16      8     length, in elements
//	24      40    zero
//	64            the elements, in the machine's byte order (as memoryview
//	              and numpy read them), each aligned to its size
//
// The segment is at least 64 + length*size bytes; a longer one is accepted.
//
// # From Python
//
// On Linux the segment of an Array made with the default directory is the
// POSIX shared memory object of the same name, so Python opens it with
// multiprocessing.shared_memory.SharedMemory(name), by the name given to
// CreateArray (no leading slash, no /dev/shm):
//
//	import struct
//	from multiprocessing import resource_tracker, shared_memory
//
//	shm = shared_memory.SharedMemory("counts")
//	# Before Python 3.13, attaching registers the segment with the resource
//	# tracker, which removes it when this process exits; 3.13 has
//	# SharedMemory("counts", track=False) instead.
//	resource_tracker.unregister(shm._name, "shared_memory")
//	magic, version, code, size, n = struct.unpack_from("<8sIcB2xQ", shm.buf, 0)
//	assert magic == b"crewarr\0" and version == 1
//	a = shm.buf[64 : 64 + n * size].cast(code.decode())
//	a[0] = 42  # seen at once by At(0) in Go
//	# or, with numpy: numpy.ndarray(n, dtype=code.decode(), buffer=shm.buf, offset=64)
//	a.release()  # close refuses while a view is alive
//	shm.close()
//
// Python has no atomic read-modify-write on shared memory: "a[0] += 1"
// there is a load and a store, so an element that Go processes Add to
// concurrently must not be updated that way from Python: give each writer
// its own elements, or guard the element with a lock both sides take (an
// ipc.Mutex is flock(2) on the file Mutex.Path names, which Python takes
// with fcntl.flock).
//
// Python can create the array too: SharedMemory(name, create=True,
// size=64+n*size), then struct.pack_into("<8sIcB2xQ", shm.buf, 0,
// b"crewarr\0", 1, b"q", 8, n) before any Go process opens the name, which
// fails with ErrNotArray while the header is missing. With WithDir the
// segment is the file of that name in the given directory, which Python
// maps with mmap.mmap(os.open(path, os.O_RDWR), 0).
type Array[T Number] struct {
	seg  *Segment
	data []T
	code byte // the element type's format character
}

// CreateArray creates an array of n elements of type T, all zero, in a new
// segment of that name, and maps it. It fails with an error matching
// ErrExist when the name is taken. The caller must Close it, and Remove it
// when no process needs it any more. Options are those of CreateSegment.
func CreateArray[T Number](name string, n int, opts ...Option) (*Array[T], error) {
	code, size := elemType[T]()
	if n < 0 || n > (math.MaxInt-arrayHeaderSize)/size {
		return nil, fmt.Errorf("ipc: array %q: length %d is negative or too large", name, n)
	}
	seg, err := createSegment(name, arrayHeaderSize+n*size, opts, func(b []byte) {
		putArrayHeader(b, code, size, n)
	})
	if err != nil {
		return nil, err
	}
	return newArray[T](seg, code, n), nil
}

// OpenArray maps the existing array of that name, which must hold elements
// of type T. It fails with an error matching ErrNotExist when there is no
// such segment, ErrNotArray when the segment holds no array header,
// ErrArrayType when the array holds another element type, and
// ErrArrayTooSmall when the segment is shorter than its header says. The
// caller must Close it. Options are those of OpenSegment.
func OpenArray[T Number](name string, opts ...Option) (*Array[T], error) {
	seg, err := OpenSegment(name, opts...)
	if err != nil {
		return nil, err
	}
	code, _ := elemType[T]()
	h, err := decodeArrayHeader(seg.Bytes())
	if err == nil && h.code != code {
		err = fmt.Errorf("%w: it holds %s ('%c'), not %s ('%c')",
			ErrArrayType, typeName(h.code), h.code, typeName(code), code)
	}
	if err != nil {
		seg.Close()
		return nil, fmt.Errorf("ipc: array %q: %w", name, err)
	}
	return newArray[T](seg, code, h.n), nil
}

func newArray[T Number](seg *Segment, code byte, n int) *Array[T] {
	// data is never nil while the array is open: Close marks it so.
	a := &Array[T]{seg: seg, code: code, data: []T{}}
	if n > 0 {
		// mmap returns page-aligned memory and the header is 64 bytes, so
		// every element is aligned to its size, as sync/atomic requires.
		a.data = unsafe.Slice((*T)(unsafe.Pointer(&seg.Bytes()[arrayHeaderSize])), n)
	}
	return a
}

// arrayHeader is what the header of an array segment records.
type arrayHeader struct {
	code byte
	n    int
}

// elemSizes maps each element type code to its size in bytes.
var elemSizes = map[byte]int{'b': 1, 'B': 1, 'h': 2, 'H': 2, 'i': 4, 'I': 4, 'q': 8, 'Q': 8, 'f': 4, 'd': 8}

func putArrayHeader(b []byte, code byte, size, n int) {
	copy(b, arrayMagic)
	binary.LittleEndian.PutUint32(b[8:], arrayVersion)
	b[12] = code
	b[13] = byte(size)
	binary.LittleEndian.PutUint64(b[16:], uint64(n))
}

// decodeArrayHeader reads the header at the start of segment b and checks
// that b holds every element it records.
func decodeArrayHeader(b []byte) (arrayHeader, error) {
	if len(b) < arrayHeaderSize {
		return arrayHeader{}, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header",
			ErrArrayTooSmall, len(b), arrayHeaderSize)
	}
	if string(b[:8]) != arrayMagic {
		return arrayHeader{}, fmt.Errorf("%w: magic %q", ErrNotArray, b[:8])
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != arrayVersion {
		return arrayHeader{}, fmt.Errorf("%w: version %d, this package reads %d", ErrNotArray, v, arrayVersion)
	}
	code, size := b[12], int(b[13])
	want, ok := elemSizes[code]
	if !ok {
		return arrayHeader{}, fmt.Errorf("%w: unknown element type %q", ErrNotArray, code)
	}
	if size != want {
		return arrayHeader{}, fmt.Errorf("%w: element type '%c' with size %d, not %d", ErrNotArray, code, size, want)
	}
	n := binary.LittleEndian.Uint64(b[16:])
	if avail := uint64(len(b)-arrayHeaderSize) / uint64(size); n > avail {
		return arrayHeader{}, fmt.Errorf("%w: header says %d elements of %d bytes, the segment has room for %d",
			ErrArrayTooSmall, n, size, avail)
	}
	return arrayHeader{code: code, n: int(n)}, nil
}

// elemType returns T's format character and size.
func elemType[T Number]() (code byte, size int) {
	var zero T
	switch any(zero).(type) {
	case int8:
		code = 'b'
	case uint8:
		code = 'B'
	case int16:
		code = 'h'
	case uint16:
		code = 'H'
	case int32:
		code = 'i'
	case uint32:
		code = 'I'
	case int64:
		code = 'q'
	case uint64:
		code = 'Q'
	case float32:
		code = 'f'
	case float64:
		code = 'd'
	}
	return code, int(unsafe.Sizeof(zero))
}

// typeName is the Go name of the element type with code c.
func typeName(c byte) string {
	switch c {
	case 'b':
		return "int8"
	case 'B':
		return "uint8"
	case 'h':
		return "int16"
	case 'H':
		return "uint16"
	case 'i':
		return "int32"
	case 'I':
		return "uint32"
	case 'q':
		return "int64"
	case 'Q':
		return "uint64"
	case 'f':
		return "float32"
	case 'd':
		return "float64"
	}
	return "unknown"
}

// Name returns the array's name, the name of its segment.
func (a *Array[T]) Name() string { return a.seg.Name() }

// Len returns the number of elements.
func (a *Array[T]) Len() int { return len(a.data) }

// Slice returns the elements themselves: writes through it are seen by
// every process that maps the array, with the ordering of At and Set. It
// returns nil after Close, and a slice taken before Close must not be used
// after it.
func (a *Array[T]) Slice() []T { return a.data }

// indexError says why i is not an index of the array: it is closed (Close
// empties data), or i is out of range.
func (a *Array[T]) indexError(i int) error {
	if a.data == nil {
		return ErrClosed
	}
	return fmt.Errorf("%w: %d not in [0, %d) of array %q", ErrIndex, i, len(a.data), a.seg.Name())
}

func (a *Array[T]) notAtomic(op string) error {
	return fmt.Errorf("%w: %s on %s", ErrNotAtomic, op, typeName(a.code))
}

// At returns element i, read as plain memory.
func (a *Array[T]) At(i int) (T, error) {
	if uint(i) >= uint(len(a.data)) {
		return 0, a.indexError(i)
	}
	return a.data[i], nil
}

// Set stores v in element i as plain memory.
func (a *Array[T]) Set(i int, v T) error {
	if uint(i) >= uint(len(a.data)) {
		return a.indexError(i)
	}
	a.data[i] = v
	return nil
}

// The atomic operations check the index before the element type, so that
// the common call pays one comparison and one switch.

// Load atomically loads element i. The element type must be a 32- or
// 64-bit integer or float; others return ErrNotAtomic.
func (a *Array[T]) Load(i int) (T, error) {
	if uint(i) >= uint(len(a.data)) {
		return 0, a.indexError(i)
	}
	p := unsafe.Pointer(&a.data[i])
	switch a.code {
	case 'i':
		return T(atomic.LoadInt32((*int32)(p))), nil
	case 'I':
		return T(atomic.LoadUint32((*uint32)(p))), nil
	case 'q':
		return T(atomic.LoadInt64((*int64)(p))), nil
	case 'Q':
		return T(atomic.LoadUint64((*uint64)(p))), nil
	case 'f':
		return T(math.Float32frombits(atomic.LoadUint32((*uint32)(p)))), nil
	case 'd':
		return T(math.Float64frombits(atomic.LoadUint64((*uint64)(p)))), nil
	}
	return 0, a.notAtomic("Load")
}

// Store atomically stores v in element i. The element type must be a 32- or
// 64-bit integer or float; others return ErrNotAtomic.
func (a *Array[T]) Store(i int, v T) error {
	if uint(i) >= uint(len(a.data)) {
		return a.indexError(i)
	}
	p := unsafe.Pointer(&a.data[i])
	switch a.code {
	case 'i':
		atomic.StoreInt32((*int32)(p), int32(v))
	case 'I':
		atomic.StoreUint32((*uint32)(p), uint32(v))
	case 'q':
		atomic.StoreInt64((*int64)(p), int64(v))
	case 'Q':
		atomic.StoreUint64((*uint64)(p), uint64(v))
	case 'f':
		atomic.StoreUint32((*uint32)(p), math.Float32bits(float32(v)))
	case 'd':
		atomic.StoreUint64((*uint64)(p), math.Float64bits(float64(v)))
	default:
		return a.notAtomic("Store")
	}
	return nil
}

// Add atomically adds delta to element i and returns the new value; integers
// wrap around as in Go. The element type must be int32, int64, uint32 or
// uint64; others return ErrNotAtomic. To subtract from an unsigned element,
// add the two's complement, as with sync/atomic: Add(i, ^uint64(d-1)).
func (a *Array[T]) Add(i int, delta T) (T, error) {
	if uint(i) >= uint(len(a.data)) {
		return 0, a.indexError(i)
	}
	p := unsafe.Pointer(&a.data[i])
	switch a.code {
	case 'i':
		return T(atomic.AddInt32((*int32)(p), int32(delta))), nil
	case 'I':
		return T(atomic.AddUint32((*uint32)(p), uint32(delta))), nil
	case 'q':
		return T(atomic.AddInt64((*int64)(p), int64(delta))), nil
	case 'Q':
		return T(atomic.AddUint64((*uint64)(p), uint64(delta))), nil
	}
	return 0, a.notAtomic("Add")
}

// CompareAndSwap atomically stores new in element i if it holds old, and
// reports whether it did. The element type must be int32, int64, uint32 or
// uint64; others return ErrNotAtomic.
func (a *Array[T]) CompareAndSwap(i int, old, new T) (bool, error) {
	if uint(i) >= uint(len(a.data)) {
		return false, a.indexError(i)
	}
	p := unsafe.Pointer(&a.data[i])
	switch a.code {
	case 'i':
		return atomic.CompareAndSwapInt32((*int32)(p), int32(old), int32(new)), nil
	case 'I':
		return atomic.CompareAndSwapUint32((*uint32)(p), uint32(old), uint32(new)), nil
	case 'q':
		return atomic.CompareAndSwapInt64((*int64)(p), int64(old), int64(new)), nil
	case 'Q':
		return atomic.CompareAndSwapUint64((*uint64)(p), uint64(old), uint64(new)), nil
	}
	return false, a.notAtomic("CompareAndSwap")
}

// Close unmaps the array from this process; the array itself stays until
// removed. Closing twice returns ErrClosed.
func (a *Array[T]) Close() error {
	a.data = nil
	return a.seg.Close()
}

// Remove removes the array's name, as RemoveSegment does; this process's
// mapping stays usable until Close.
func (a *Array[T]) Remove() error { return a.seg.Remove() }
