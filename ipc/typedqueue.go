package ipc

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"reflect"
)

// A Codec turns values of type T into queue messages and back. Kind names
// the encoding and the type (for example "json:main.Point"); it is recorded
// in the queue when the queue is created, and opening the queue with a
// codec of another Kind fails with ErrMismatch, so processes cannot
// silently disagree on what the bytes mean. Encode appends v's encoding to
// dst. A Codec must be safe for concurrent use.
//
// Three codecs come with the package:
//
//   - BinaryCodec, for fixed-size values (numbers, arrays and structs of
//     them): encoding/binary, little-endian, exactly binary.Size(T) bytes.
//     The fastest, and readable from any language.
//   - JSONCodec: encoding/json, for any type json can marshal; readable
//     from any language.
//   - GobCodec: encoding/gob, for Go types json cannot carry (interfaces of
//     registered types, maps with struct keys). Each message is a
//     self-contained gob stream, type description included, so it costs
//     more than the others.
type Codec[T any] interface {
	Kind() string
	Encode(dst []byte, v T) ([]byte, error)
	Decode(data []byte) (T, error)
}

// goTypeName names T for a codec's Kind.
func goTypeName[T any]() string { return reflect.TypeFor[T]().String() }

// BinaryCodec returns the codec for fixed-size T; its Kind includes T's
// size. Opening a queue with it fails if T has no fixed size.
func BinaryCodec[T any]() Codec[T] { return binaryCodec[T]{} }

type binaryCodec[T any] struct{}

func (binaryCodec[T]) Kind() string {
	var v T
	return fmt.Sprintf("binary:%s:%d", goTypeName[T](), binary.Size(v))
}

func (binaryCodec[T]) valid() error {
	var v T
	if binary.Size(v) < 0 {
		return fmt.Errorf("ipc: binary codec: %s has no fixed size", goTypeName[T]())
	}
	return nil
}

func (binaryCodec[T]) Encode(dst []byte, v T) ([]byte, error) {
	return binary.Append(dst, binary.LittleEndian, v)
}

func (binaryCodec[T]) Decode(data []byte) (T, error) {
	var v T
	n, err := binary.Decode(data, binary.LittleEndian, &v)
	if err == nil && n != len(data) {
		err = fmt.Errorf("%d bytes for a %d-byte value", len(data), n)
	}
	return v, err
}

// JSONCodec returns the encoding/json codec for T.
func JSONCodec[T any]() Codec[T] { return jsonCodec[T]{} }

type jsonCodec[T any] struct{}

func (jsonCodec[T]) Kind() string { return "json:" + goTypeName[T]() }

func (jsonCodec[T]) Encode(dst []byte, v T) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(dst, b...), err
}

func (jsonCodec[T]) Decode(data []byte) (T, error) {
	var v T
	err := json.Unmarshal(data, &v)
	return v, err
}

// GobCodec returns the encoding/gob codec for T.
func GobCodec[T any]() Codec[T] { return gobCodec[T]{} }

type gobCodec[T any] struct{}

func (gobCodec[T]) Kind() string { return "gob:" + goTypeName[T]() }

func (gobCodec[T]) Encode(dst []byte, v T) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	err := gob.NewEncoder(buf).Encode(v)
	return buf.Bytes(), err
}

func (gobCodec[T]) Decode(data []byte) (T, error) {
	var v T
	err := gob.NewDecoder(bytes.NewReader(data)).Decode(&v)
	return v, err
}

// A TypedQueue is a Queue of T values, encoded with a Codec. It has the
// Queue's contract, blocking and crash behaviour; see Queue. Use
// OpenTypedQueue; the zero value is not usable, and a TypedQueue must not
// be copied. Its methods may be called from several goroutines. Each Put
// and Get costs one encoding or decoding on top of the Queue's work.
type TypedQueue[T any] struct {
	q     *Queue
	codec Codec[T]
}

// OpenTypedQueue opens or creates the queue called name, as OpenQueue does,
// for values encoded by codec. It fails with ErrMismatch when the queue
// exists with another capacity or codec Kind (a byte Queue included). The
// caller must Detach it.
func OpenTypedQueue[T any](name string, capacity int, codec Codec[T], opts ...Option) (*TypedQueue[T], error) {
	if codec == nil {
		return nil, fmt.Errorf("ipc: queue %q: nil codec", name)
	}
	if v, ok := codec.(interface{ valid() error }); ok {
		if err := v.valid(); err != nil {
			return nil, err
		}
	}
	q, err := openQueue(name, capacity, codec.Kind(), opts)
	if err != nil {
		return nil, err
	}
	return &TypedQueue[T]{q: q, codec: codec}, nil
}

// Queue returns the byte queue underneath, for Len, Cap, Remove and the
// like.
func (t *TypedQueue[T]) Queue() *Queue { return t.q }

func (t *TypedQueue[T]) encode(v T) ([]byte, error) {
	b, err := t.codec.Encode(nil, v)
	if err != nil {
		return nil, fmt.Errorf("ipc: queue %q: encode: %w", t.q.name, err)
	}
	return b, nil
}

// Put encodes v and appends it, as Queue.Put does.
func (t *TypedQueue[T]) Put(ctx context.Context, v T) error {
	b, err := t.encode(v)
	if err != nil {
		return err
	}
	return t.q.Put(ctx, b)
}

// TryPut encodes v and appends it if there is room now, as Queue.TryPut
// does.
func (t *TypedQueue[T]) TryPut(v T) error {
	b, err := t.encode(v)
	if err != nil {
		return err
	}
	return t.q.TryPut(b)
}

// Get removes the oldest value, as Queue.Get does, and decodes it. A
// message that does not decode is marked done at once (no TaskDone is
// due for it) and its error returned, wrapped.
func (t *TypedQueue[T]) Get(ctx context.Context) (T, error) {
	b, err := t.q.Get(ctx)
	return t.decode(b, err)
}

// TryGet removes the oldest value if there is one, as Queue.TryGet does,
// and decodes it.
func (t *TypedQueue[T]) TryGet() (T, error) {
	b, err := t.q.TryGet()
	return t.decode(b, err)
}

func (t *TypedQueue[T]) decode(b []byte, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := t.codec.Decode(b)
	if err != nil {
		t.q.TaskDone()
		return v, fmt.Errorf("ipc: queue %q: decode: %w", t.q.name, err)
	}
	return v, nil
}

// TaskDone marks one value this process got as finished; see Queue.TaskDone.
func (t *TypedQueue[T]) TaskDone() error { return t.q.TaskDone() }

// Join waits until every value put has been marked done; see Queue.Join.
func (t *TypedQueue[T]) Join(ctx context.Context) error { return t.q.Join(ctx) }

// Close stops the queue from accepting values; see Queue.Close.
func (t *TypedQueue[T]) Close() error { return t.q.Close() }

// Len returns the number of values in the queue.
func (t *TypedQueue[T]) Len() int { return t.q.Len() }

// Detach unmaps the queue from this process; see Queue.Detach.
func (t *TypedQueue[T]) Detach() error { return t.q.Detach() }
