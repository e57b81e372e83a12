package ipc_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"crew/ipc"
)

// roundTrip creates an array of vals' type in dir, writes vals through one
// mapping and reads them through a second one, as another process would.
func roundTrip[T ipc.Number](t *testing.T, vals ...T) {
	t.Helper()
	dir := t.TempDir()
	a, err := ipc.CreateArray[T]("a", len(vals), ipc.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Name() != "a" || a.Len() != len(vals) || len(a.Slice()) != len(vals) {
		t.Fatalf("Name, Len, len(Slice) = %q, %d, %d", a.Name(), a.Len(), len(a.Slice()))
	}
	for i, v := range vals {
		if got, err := a.At(i); got != 0 || err != nil {
			t.Fatalf("new array At(%d) = %v, %v; want 0", i, got, err)
		}
		if err := a.Set(i, v); err != nil {
			t.Fatal(err)
		}
	}
	b, err := ipc.OpenArray[T]("a", ipc.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Len() != len(vals) {
		t.Fatalf("opened Len = %d, want %d", b.Len(), len(vals))
	}
	for i, v := range vals {
		if got, err := b.At(i); got != v || err != nil {
			t.Errorf("other mapping At(%d) = %v, %v; want %v", i, got, err, v)
		}
	}
	// The slice is the shared memory, both ways.
	if len(vals) > 0 {
		b.Slice()[len(vals)-1] = vals[0]
		if got, _ := a.At(len(vals) - 1); got != vals[0] {
			t.Errorf("write through Slice not seen: At = %v, want %v", got, vals[0])
		}
	}
}

func TestArrayRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"int8", func(t *testing.T) { roundTrip[int8](t, 1, -128, 127) }},
		{"uint8", func(t *testing.T) { roundTrip[uint8](t, 1, 255, 7) }},
		{"int16", func(t *testing.T) { roundTrip[int16](t, -1, math.MinInt16, math.MaxInt16) }},
		{"uint16", func(t *testing.T) { roundTrip[uint16](t, 1, math.MaxUint16) }},
		{"int32", func(t *testing.T) { roundTrip[int32](t, -5, math.MinInt32, math.MaxInt32, 0, 9) }},
		{"uint32", func(t *testing.T) { roundTrip[uint32](t, 5, math.MaxUint32) }},
		{"int64", func(t *testing.T) { roundTrip[int64](t, -5, math.MinInt64, math.MaxInt64) }},
		{"uint64", func(t *testing.T) { roundTrip[uint64](t, 5, math.MaxUint64) }},
		{"float32", func(t *testing.T) { roundTrip[float32](t, 1.5, -0.25, math.MaxFloat32) }},
		{"float64", func(t *testing.T) { roundTrip[float64](t, 1.5, -0.25, math.SmallestNonzeroFloat64) }},
		{"empty", func(t *testing.T) { roundTrip[int64](t) }},
		{"large", func(t *testing.T) { roundTrip(t, make([]uint16, 100_000)...) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

// atomics runs every atomic operation on element 1 of a 3-element array and
// checks its neighbours are untouched.
func atomics[T ipc.Number](t *testing.T, arith bool) {
	t.Helper()
	a, err := ipc.CreateArray[T]("a", 3, ipc.WithDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Store(1, 40); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Load(1); got != 40 || err != nil {
		t.Fatalf("Load after Store(40) = %v, %v", got, err)
	}
	if got, _ := a.At(1); got != 40 {
		t.Fatalf("At after Store(40) = %v", got)
	}
	if !arith {
		if _, err := a.Add(1, 1); !errors.Is(err, ipc.ErrNotAtomic) {
			t.Errorf("Add = %v, want ErrNotAtomic", err)
		}
		if _, err := a.CompareAndSwap(1, 40, 1); !errors.Is(err, ipc.ErrNotAtomic) {
			t.Errorf("CompareAndSwap = %v, want ErrNotAtomic", err)
		}
		return
	}
	if got, err := a.Add(1, 2); got != 42 || err != nil {
		t.Fatalf("Add(2) = %v, %v; want 42", got, err)
	}
	if ok, err := a.CompareAndSwap(1, 41, 7); ok || err != nil {
		t.Fatalf("CompareAndSwap(41, 7) on 42 = %v, %v; want false", ok, err)
	}
	if ok, err := a.CompareAndSwap(1, 42, 7); !ok || err != nil {
		t.Fatalf("CompareAndSwap(42, 7) on 42 = %v, %v; want true", ok, err)
	}
	if got, _ := a.Load(1); got != 7 {
		t.Fatalf("Load after swap = %v, want 7", got)
	}
	for _, i := range []int{0, 2} {
		if got, _ := a.Load(i); got != 0 {
			t.Errorf("neighbour %d = %v, want 0", i, got)
		}
	}
}

func TestArrayAtomics(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"int32", func(t *testing.T) { atomics[int32](t, true) }},
		{"uint32", func(t *testing.T) { atomics[uint32](t, true) }},
		{"int64", func(t *testing.T) { atomics[int64](t, true) }},
		{"uint64", func(t *testing.T) { atomics[uint64](t, true) }},
		{"float32", func(t *testing.T) { atomics[float32](t, false) }},
		{"float64", func(t *testing.T) { atomics[float64](t, false) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

func TestArrayAtomicsNegativeAndWrap(t *testing.T) {
	a, err := ipc.CreateArray[uint32]("u", 1, ipc.WithDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got, _ := a.Add(0, ^uint32(0)); got != math.MaxUint32 {
		t.Errorf("0 + ^0 = %d, want MaxUint32", got)
	}
	if got, _ := a.Add(0, 1); got != 0 {
		t.Errorf("MaxUint32 + 1 = %d, want 0", got)
	}
	b, err := ipc.CreateArray[int64]("s", 1, ipc.WithDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, _ := b.Add(0, -3); got != -3 {
		t.Errorf("0 + -3 = %d", got)
	}
}

// Element types of 8 and 16 bits have no atomics in sync/atomic.
func TestArraySmallTypesNotAtomic(t *testing.T) {
	a, err := ipc.CreateArray[int16]("a", 2, ipc.WithDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ops := map[string]error{}
	_, ops["Load"] = a.Load(0)
	ops["Store"] = a.Store(0, 1)
	_, ops["Add"] = a.Add(0, 1)
	_, ops["CompareAndSwap"] = a.CompareAndSwap(0, 0, 1)
	for op, err := range ops {
		if !errors.Is(err, ipc.ErrNotAtomic) {
			t.Errorf("%s on int16 = %v, want ErrNotAtomic", op, err)
		}
	}
}

// Every access with a bad index fails with ErrIndex and changes nothing.
func TestArrayIndexOutOfRange(t *testing.T) {
	a, err := ipc.CreateArray[int64]("a", 4, ipc.WithDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ops := []struct {
		name string
		do   func(i int) error
	}{
		{"At", func(i int) error { _, err := a.At(i); return err }},
		{"Set", func(i int) error { return a.Set(i, 9) }},
		{"Load", func(i int) error { _, err := a.Load(i); return err }},
		{"Store", func(i int) error { return a.Store(i, 9) }},
		{"Add", func(i int) error { _, err := a.Add(i, 9); return err }},
		{"CompareAndSwap", func(i int) error { _, err := a.CompareAndSwap(i, 0, 9); return err }},
	}
	for _, op := range ops {
		for _, i := range []int{-1, 4, 5, math.MaxInt, math.MinInt} {
			if err := op.do(i); !errors.Is(err, ipc.ErrIndex) {
				t.Errorf("%s(%d) = %v, want ErrIndex", op.name, i, err)
			}
		}
		if err := op.do(3); err != nil {
			t.Errorf("%s(3) = %v", op.name, err)
		}
	}
	// Only the in-range calls on element 3 wrote.
	for i, v := range a.Slice()[:3] {
		if v != 0 {
			t.Errorf("element %d = %d after refused accesses", i, v)
		}
	}
}

func TestArrayBadOpen(t *testing.T) {
	dir := t.TempDir()
	a, err := ipc.CreateArray[int32]("i32", 10, ipc.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	raw, err := ipc.CreateSegment("raw", 4096, ipc.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// A header that promises more elements than the segment holds.
	short := header('q', 8, 100)
	if err := os.WriteFile(filepath.Join(dir, "short"), append(short, make([]byte, 99*8)...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tiny"), []byte("crewarr\x00"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		open func() error
		want error
	}{
		{"other type", func() error { _, err := ipc.OpenArray[float32]("i32", ipc.WithDir(dir)); return err }, ipc.ErrArrayType},
		{"same size other sign", func() error { _, err := ipc.OpenArray[uint32]("i32", ipc.WithDir(dir)); return err }, ipc.ErrArrayType},
		{"plain segment", func() error { _, err := ipc.OpenArray[int32]("raw", ipc.WithDir(dir)); return err }, ipc.ErrNotArray},
		{"short segment", func() error { _, err := ipc.OpenArray[int64]("short", ipc.WithDir(dir)); return err }, ipc.ErrArrayTooSmall},
		{"shorter than header", func() error { _, err := ipc.OpenArray[int64]("tiny", ipc.WithDir(dir)); return err }, ipc.ErrArrayTooSmall},
		{"missing", func() error { _, err := ipc.OpenArray[int32]("none", ipc.WithDir(dir)); return err }, ipc.ErrNotExist},
		{"bad name", func() error { _, err := ipc.OpenArray[int32]("a/b", ipc.WithDir(dir)); return err }, ipc.ErrBadName},
		{"create taken", func() error { _, err := ipc.CreateArray[int32]("i32", 10, ipc.WithDir(dir)); return err }, ipc.ErrExist},
		{"create bad name", func() error { _, err := ipc.CreateArray[int32]("..", 1, ipc.WithDir(dir)); return err }, ipc.ErrBadName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.open()
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			t.Log(err)
		})
	}
	for _, n := range []int{-1, math.MaxInt, math.MaxInt / 8} {
		if _, err := ipc.CreateArray[int64]("big", n, ipc.WithDir(dir)); err == nil {
			t.Errorf("CreateArray(%d) succeeded", n)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "big")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused CreateArray left a segment: %v", err)
	}
}

func TestArrayClosed(t *testing.T) {
	a, err := ipc.CreateArray[int64]("a", 2, ipc.WithDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); !errors.Is(err, ipc.ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	if a.Slice() != nil {
		t.Error("Slice after Close is not nil")
	}
	if _, err := a.At(0); !errors.Is(err, ipc.ErrClosed) {
		t.Errorf("At after Close = %v", err)
	}
	if _, err := a.Add(0, 1); !errors.Is(err, ipc.ErrClosed) {
		t.Errorf("Add after Close = %v", err)
	}
	if err := a.Remove(); err != nil {
		t.Errorf("Remove after Close = %v", err)
	}
}

// header builds an array header as the Array doc describes it, field by
// field, independently of the package's encoder.
func header(code byte, size byte, n uint64) []byte {
	h := make([]byte, 64)
	copy(h, "crewarr\x00")
	binary.LittleEndian.PutUint32(h[8:], 1)
	h[12], h[13] = code, size
	binary.LittleEndian.PutUint64(h[16:], n)
	return h
}

// The layout is a contract with other languages: the bytes on disk must be
// the documented ones.
func TestArrayLayout(t *testing.T) {
	dir := t.TempDir()
	a, err := ipc.CreateArray[int32]("a", 3, ipc.WithDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.Set(0, 1)
	a.Set(2, -2)
	got, err := os.ReadFile(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	want := header('i', 4, 3)
	want = binary.NativeEndian.AppendUint32(want, 1)
	want = binary.NativeEndian.AppendUint32(want, 0)
	want = binary.NativeEndian.AppendUint32(want, uint32(0xfffffffe))
	if !bytes.Equal(got, want) {
		t.Fatalf("segment bytes\n got %x\nwant %x", got, want)
	}
}

// FuzzArrayHeader feeds arbitrary segment contents to OpenArray: it fails
// with one of the documented errors, or accepts a header that records its
// element type and a length the segment holds, and then every element can
// be read and written.
func FuzzArrayHeader(f *testing.F) {
	f.Add(header('q', 8, 2), 16)
	f.Add(header('q', 8, 3), 16)
	f.Add(header('b', 1, 5), 5)
	f.Add(header('q', 4, 0), 0)
	f.Add(header('x', 8, 0), 0)
	f.Add(header('q', 8, math.MaxUint64), 8)
	f.Add([]byte("crewarr\x00"), 0)
	f.Add([]byte{}, 0)
	f.Fuzz(func(t *testing.T, head []byte, extra int) {
		if extra < 0 || extra > 1<<16 {
			return
		}
		dir := t.TempDir()
		contents := append(bytes.Clone(head), make([]byte, extra)...)
		if len(contents) == 0 {
			return // CreateSegment never makes an empty segment; OpenSegment refuses it
		}
		if err := os.WriteFile(filepath.Join(dir, "a"), contents, 0o600); err != nil {
			t.Fatal(err)
		}
		checkFuzzedArray[int64](t, dir, contents, 'q', 8)
		checkFuzzedArray[uint8](t, dir, contents, 'B', 1)
	})
}

func checkFuzzedArray[T ipc.Number](t *testing.T, dir string, contents []byte, code byte, size int) {
	a, err := ipc.OpenArray[T]("a", ipc.WithDir(dir))
	if err != nil {
		for _, want := range []error{ipc.ErrNotArray, ipc.ErrArrayType, ipc.ErrArrayTooSmall} {
			if errors.Is(err, want) {
				return
			}
		}
		t.Fatalf("OpenArray = %v, want one of the array errors", err)
	}
	defer a.Close()
	n := binary.LittleEndian.Uint64(contents[16:])
	if string(contents[:8]) != "crewarr\x00" || binary.LittleEndian.Uint32(contents[8:]) != 1 ||
		contents[12] != code || int(contents[13]) != size || uint64(a.Len()) != n ||
		64+a.Len()*size > len(contents) {
		t.Fatalf("accepted header %x as %d elements of '%c'", contents[:64], a.Len(), code)
	}
	for i := range a.Len() {
		v, err := a.At(i)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Set(i, v+1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.At(a.Len()); !errors.Is(err, ipc.ErrIndex) {
		t.Fatalf("At(Len) = %v", err)
	}
}
