package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// Codec identifiers carried in call and reply frames.
const (
	CodecJSON   byte = 'j'
	CodecBinary byte = 'b'
)

// A Codec encodes a batch of values of one type. Payloads always hold a
// batch, even for a single call, so every worker has one code path.
type Codec[T any] struct {
	// ID is the identifier written into frames (CodecJSON or CodecBinary).
	ID byte
	// Append appends the encoding of xs to dst.
	Append func(dst []byte, xs []T) ([]byte, error)
	// Decode decodes src and appends the values to into, in place when
	// into has the capacity, so a caller can decode straight into the
	// slice that keeps the values. On error it returns into unchanged in
	// length, though its spare capacity may have been written.
	Decode func(src []byte, into []T) ([]T, error)
}

// JSON returns the codec that encodes a batch as a JSON array. It handles
// any type encoding/json does and is what polyglot workers speak.
func JSON[T any]() Codec[T] {
	return Codec[T]{
		ID: CodecJSON,
		Append: func(dst []byte, xs []T) ([]byte, error) {
			if xs == nil {
				xs = []T{}
			}
			b, err := json.Marshal(xs)
			if err != nil {
				return dst, fmt.Errorf("wire: %w", err)
			}
			return append(dst, b...), nil
		},
		Decode: func(src []byte, into []T) ([]T, error) {
			var xs []T
			if err := json.Unmarshal(src, &xs); err != nil {
				return into, fmt.Errorf("wire: %w", err)
			}
			return append(into, xs...), nil
		},
	}
}

// Binary returns a compact binary codec for T when T is a bool, an integer,
// a float, a string or a []byte (exactly, not a named type), and false
// otherwise. A batch is a uvarint count followed by the values: numbers as
// 8 little-endian bytes (float32 as 4), bools as one byte, strings and byte
// slices as a uvarint length and the bytes.
func Binary[T any]() (Codec[T], bool) {
	var c any
	switch any(*new(T)).(type) {
	case int:
		c = binaryCodec(appendInts[int], decodeInts[int])
	case int8:
		c = binaryCodec(appendInts[int8], decodeInts[int8])
	case int16:
		c = binaryCodec(appendInts[int16], decodeInts[int16])
	case int32:
		c = binaryCodec(appendInts[int32], decodeInts[int32])
	case int64:
		c = binaryCodec(appendInts[int64], decodeInts[int64])
	case uint:
		c = binaryCodec(appendInts[uint], decodeInts[uint])
	case uint8:
		c = binaryCodec(appendInts[uint8], decodeInts[uint8])
	case uint16:
		c = binaryCodec(appendInts[uint16], decodeInts[uint16])
	case uint32:
		c = binaryCodec(appendInts[uint32], decodeInts[uint32])
	case uint64:
		c = binaryCodec(appendInts[uint64], decodeInts[uint64])
	case uintptr:
		c = binaryCodec(appendInts[uintptr], decodeInts[uintptr])
	case float64:
		c = binaryCodec(appendFloats[float64], decodeFloats[float64])
	case float32:
		c = binaryCodec(appendFloats[float32], decodeFloats[float32])
	case bool:
		c = binaryCodec(appendBools, decodeBools)
	case string:
		c = binaryCodec(appendBytes[string], decodeBytes[string])
	case []byte:
		c = binaryCodec(appendBytes[[]byte], decodeBytes[[]byte])
	default:
		return Codec[T]{}, false
	}
	return c.(Codec[T]), true
}

// count reads the batch length and checks that at least n*min bytes follow,
// so a corrupt count cannot cause a large allocation.
func count(src []byte, min int) (int, []byte, error) {
	n, k := binary.Uvarint(src)
	if k <= 0 {
		return 0, nil, fmt.Errorf("%w: bad batch count", ErrCorrupt)
	}
	src = src[k:]
	if min > 0 && n > uint64(len(src)/min) {
		return 0, nil, fmt.Errorf("%w: batch of %d values in %d bytes", ErrCorrupt, n, len(src))
	}
	return int(n), src, nil
}

// fixed reads the count of a batch of size-byte values and checks that
// exactly that many follow.
func fixed(src []byte, size int) ([]byte, int, error) {
	n, src, err := count(src, size)
	if err != nil {
		return nil, 0, err
	}
	if len(src) != size*n {
		return nil, 0, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(src)-size*n)
	}
	return src, n, nil
}

// grow appends the batch count n to dst and then room for n values of size
// bytes each, returned as tail for the caller to fill: one growth per batch
// instead of one append per value.
func grow(dst []byte, n, size int) (out, tail []byte) {
	dst = binary.AppendUvarint(dst, uint64(n))
	start := len(dst)
	dst = slices.Grow(dst, n*size)[:start+n*size]
	return dst, dst[start:]
}

// extend lengthens into by n values, in place when its capacity allows, and
// returns the new tail for the caller to overwrite. Unlike append of a
// make, it neither allocates a temporary nor clears what is about to be
// written.
func extend[E any](into []E, n int) (out, tail []E) {
	start := len(into)
	into = slices.Grow(into, n)[:start+n]
	return into, into[start:]
}

type integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr
}

// littleEndian reports whether this machine stores numbers as the binary
// codec sends them, so that a batch of 8-byte integers or of floats can be
// copied to and from the wire as it lies in memory: one copy instead of a
// load and a store per value, a tenth of the time for 1000 ints. Tests
// clear it to check the portable loops against the same bytes.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// minCopy is the smallest batch copied as it lies: for a few values the
// call to memmove costs more than the loop.
const minCopy = 16

// asBytes returns the memory of xs as bytes.
func asBytes[E any](xs []E) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(xs))), int(unsafe.Sizeof(*new(E)))*len(xs))
}

// The binary codecs are top-level functions rather than closures: once a
// constructor holding closures is inlined into Binary, the compiler no
// longer inlines binary.LittleEndian's calls into them, and a call per
// value cost three times the loop itself.

func binaryCodec[E any](app func([]byte, []E) ([]byte, error), dec func([]byte, []E) ([]E, error)) Codec[E] {
	return Codec[E]{ID: CodecBinary, Append: app, Decode: dec}
}

func appendInts[E integer](dst []byte, xs []E) ([]byte, error) {
	dst, b := grow(dst, len(xs), 8)
	if littleEndian && unsafe.Sizeof(E(0)) == 8 && len(xs) >= minCopy {
		copy(b, asBytes(xs))
		return dst, nil
	}
	for i, x := range xs {
		binary.LittleEndian.PutUint64(b[8*i:8*i+8], uint64(x))
	}
	return dst, nil
}

func decodeInts[E integer](src []byte, into []E) ([]E, error) {
	src, n, err := fixed(src, 8)
	if err != nil {
		return into, err
	}
	into, out := extend(into, n)
	if littleEndian && unsafe.Sizeof(E(0)) == 8 && n >= minCopy {
		copy(asBytes(out), src)
		return into, nil
	}
	for i := range out {
		out[i] = E(binary.LittleEndian.Uint64(src[8*i : 8*i+8]))
	}
	return into, nil
}

// appendFloats and decodeFloats serve float32 and float64 alike: the two
// get instantiations of their own, in which the size is a constant.
func appendFloats[E float32 | float64](dst []byte, xs []E) ([]byte, error) {
	size := int(unsafe.Sizeof(E(0)))
	dst, b := grow(dst, len(xs), size)
	if littleEndian && len(xs) >= minCopy {
		copy(b, asBytes(xs))
		return dst, nil
	}
	for i, x := range xs {
		if size == 4 {
			binary.LittleEndian.PutUint32(b[4*i:4*i+4], math.Float32bits(float32(x)))
		} else {
			binary.LittleEndian.PutUint64(b[8*i:8*i+8], math.Float64bits(float64(x)))
		}
	}
	return dst, nil
}

func decodeFloats[E float32 | float64](src []byte, into []E) ([]E, error) {
	size := int(unsafe.Sizeof(E(0)))
	src, n, err := fixed(src, size)
	if err != nil {
		return into, err
	}
	into, out := extend(into, n)
	if littleEndian && n >= minCopy {
		copy(asBytes(out), src)
		return into, nil
	}
	for i := range out {
		if size == 4 {
			out[i] = E(math.Float32frombits(binary.LittleEndian.Uint32(src[4*i : 4*i+4])))
		} else {
			out[i] = E(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i : 8*i+8])))
		}
	}
	return into, nil
}

func appendBools(dst []byte, xs []bool) ([]byte, error) {
	dst, b := grow(dst, len(xs), 1)
	for i, x := range xs {
		b[i] = 0
		if x {
			b[i] = 1
		}
	}
	return dst, nil
}

func decodeBools(src []byte, into []bool) ([]bool, error) {
	src, n, err := fixed(src, 1)
	if err != nil {
		return into, err
	}
	for _, b := range src {
		if b > 1 {
			return into, fmt.Errorf("%w: bool byte %d", ErrCorrupt, b)
		}
	}
	into, out := extend(into, n)
	for i, b := range src {
		out[i] = b == 1
	}
	return into, nil
}

func appendBytes[E string | []byte](dst []byte, xs []E) ([]byte, error) {
	dst = binary.AppendUvarint(dst, uint64(len(xs)))
	for _, x := range xs {
		dst = binary.AppendUvarint(dst, uint64(len(x)))
		dst = append(dst, x...)
	}
	return dst, nil
}

func decodeBytes[E string | []byte](src []byte, into []E) ([]E, error) {
	n, src, err := count(src, 1)
	if err != nil {
		return into, err
	}
	// Decoded byte slices must not alias the frame, which readers reuse.
	_, isBytes := any(*new(E)).([]byte)
	start := len(into)
	for range n {
		l, k := binary.Uvarint(src)
		if k <= 0 || l > uint64(len(src)-k) {
			return into[:start], fmt.Errorf("%w: bad string length", ErrCorrupt)
		}
		s := src[k : k+int(l)]
		if isBytes {
			s = bytes.Clone(s)
		}
		into = append(into, E(s))
		src = src[k+int(l):]
	}
	if len(src) != 0 {
		return into[:start], fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(src))
	}
	return into, nil
}
