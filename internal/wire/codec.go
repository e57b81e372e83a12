package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
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
	// Decode decodes src and appends the values to into.
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
		c = intCodec[int]()
	case int8:
		c = intCodec[int8]()
	case int16:
		c = intCodec[int16]()
	case int32:
		c = intCodec[int32]()
	case int64:
		c = intCodec[int64]()
	case uint:
		c = intCodec[uint]()
	case uint8:
		c = intCodec[uint8]()
	case uint16:
		c = intCodec[uint16]()
	case uint32:
		c = intCodec[uint32]()
	case uint64:
		c = intCodec[uint64]()
	case uintptr:
		c = intCodec[uintptr]()
	case float64:
		c = floatCodec[float64](8)
	case float32:
		c = floatCodec[float32](4)
	case bool:
		c = boolCodec()
	case string:
		c = bytesCodec[string]()
	case []byte:
		c = bytesCodec[[]byte]()
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

type integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr
}

func intCodec[E integer]() Codec[E] {
	return Codec[E]{
		ID: CodecBinary,
		Append: func(dst []byte, xs []E) ([]byte, error) {
			dst = binary.AppendUvarint(dst, uint64(len(xs)))
			for _, x := range xs {
				dst = binary.LittleEndian.AppendUint64(dst, uint64(x))
			}
			return dst, nil
		},
		Decode: func(src []byte, into []E) ([]E, error) {
			n, src, err := count(src, 8)
			if err != nil {
				return into, err
			}
			if len(src) != 8*n {
				return into, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(src)-8*n)
			}
			into = append(into, make([]E, n)...)
			out := into[len(into)-n:]
			for i := range out {
				out[i] = E(binary.LittleEndian.Uint64(src[8*i:]))
			}
			return into, nil
		},
	}
}

func floatCodec[E float32 | float64](size int) Codec[E] {
	return Codec[E]{
		ID: CodecBinary,
		Append: func(dst []byte, xs []E) ([]byte, error) {
			dst = binary.AppendUvarint(dst, uint64(len(xs)))
			for _, x := range xs {
				if size == 4 {
					dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(float32(x)))
				} else {
					dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(float64(x)))
				}
			}
			return dst, nil
		},
		Decode: func(src []byte, into []E) ([]E, error) {
			n, src, err := count(src, size)
			if err != nil {
				return into, err
			}
			if len(src) != size*n {
				return into, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(src)-size*n)
			}
			for i := range n {
				if size == 4 {
					into = append(into, E(math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))))
				} else {
					into = append(into, E(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:]))))
				}
			}
			return into, nil
		},
	}
}

func boolCodec() Codec[bool] {
	return Codec[bool]{
		ID: CodecBinary,
		Append: func(dst []byte, xs []bool) ([]byte, error) {
			dst = binary.AppendUvarint(dst, uint64(len(xs)))
			for _, x := range xs {
				b := byte(0)
				if x {
					b = 1
				}
				dst = append(dst, b)
			}
			return dst, nil
		},
		Decode: func(src []byte, into []bool) ([]bool, error) {
			n, src, err := count(src, 1)
			if err != nil {
				return into, err
			}
			if len(src) != n {
				return into, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(src)-n)
			}
			for _, b := range src {
				if b > 1 {
					return into, fmt.Errorf("%w: bool byte %d", ErrCorrupt, b)
				}
				into = append(into, b == 1)
			}
			return into, nil
		},
	}
}

func bytesCodec[E string | []byte]() Codec[E] {
	// Decoded byte slices must not alias the frame, which readers reuse.
	_, isBytes := any(*new(E)).([]byte)
	return Codec[E]{
		ID: CodecBinary,
		Append: func(dst []byte, xs []E) ([]byte, error) {
			dst = binary.AppendUvarint(dst, uint64(len(xs)))
			for _, x := range xs {
				dst = binary.AppendUvarint(dst, uint64(len(x)))
				dst = append(dst, x...)
			}
			return dst, nil
		},
		Decode: func(src []byte, into []E) ([]E, error) {
			n, src, err := count(src, 1)
			if err != nil {
				return into, err
			}
			for range n {
				l, k := binary.Uvarint(src)
				if k <= 0 || l > uint64(len(src)-k) {
					return into, fmt.Errorf("%w: bad string length", ErrCorrupt)
				}
				s := src[k : k+int(l)]
				if isBytes {
					s = bytes.Clone(s)
				}
				into = append(into, E(s))
				src = src[k+int(l):]
			}
			if len(src) != 0 {
				return into, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(src))
			}
			return into, nil
		},
	}
}
