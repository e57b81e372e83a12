package wire_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"crew/proc/internal/wire"
)

func TestFrameRoundTrip(t *testing.T) {
	msgs := []wire.Message{
		{Kind: wire.KindHello},
		{Kind: wire.KindCall, ID: 7, Codec: wire.CodecJSON, Name: "square", Payload: []byte("[1,2]")},
		{Kind: wire.KindCall, ID: 1 << 60, Codec: wire.CodecBinary, Name: strings.Repeat("n", 255)},
		{Kind: wire.KindCancel, ID: 9},
		{Kind: wire.KindReply, ID: 7, Codec: wire.CodecJSON, Err: []byte(`[{"i":0,"msg":"x"}]`), Payload: []byte("[null]")},
		{Kind: wire.KindReply, ID: 8, Codec: wire.CodecBinary, Payload: []byte{1, 2, 3}},
	}
	var stream []byte
	for i := range msgs {
		var err error
		if stream, err = wire.AppendFrame(stream, &msgs[i]); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(bytes.NewReader(stream))
	for _, want := range msgs {
		body, err := wire.ReadFrame(r, wire.DefaultMaxFrame, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wire.Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })); diff != "" {
			t.Errorf("(-want +got)\n%s", diff)
		}
	}
	if _, err := wire.ReadFrame(r, wire.DefaultMaxFrame, nil); err != io.EOF {
		t.Fatalf("after last frame: %v, want io.EOF", err)
	}
	if _, err := wire.AppendFrame(nil, &wire.Message{Kind: wire.KindCall, Name: strings.Repeat("n", 256)}); err == nil {
		t.Fatal("256-byte name accepted")
	}
}

func frame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func TestBadFrames(t *testing.T) {
	id := make([]byte, 8)
	tests := []struct {
		name  string
		input []byte
		want  error
	}{
		{"oversized", binary.BigEndian.AppendUint32(nil, 1<<31), wire.ErrFrameTooLarge},
		{"truncated body", append(binary.BigEndian.AppendUint32(nil, 100), 'H'), io.ErrUnexpectedEOF},
		{"truncated header", []byte{0, 0}, io.ErrUnexpectedEOF},
		{"tiny body", frame([]byte{'H'}), wire.ErrCorrupt},
		{"unknown kind", frame(append([]byte{'Q'}, id...)), wire.ErrCorrupt},
		{"call name past end", frame(append(append([]byte{'C'}, id...), 'j', 10, 'a')), wire.ErrCorrupt},
		{"reply error past end", frame(append(append([]byte{'R'}, id...), 'j', 0, 0, 0, 9)), wire.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bufio.NewReader(bytes.NewReader(tt.input))
			body, err := wire.ReadFrame(r, 1<<20, nil)
			if err == nil {
				_, err = wire.Parse(body)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func roundTrip[T any](t *testing.T, c wire.Codec[T], xs []T) {
	t.Helper()
	b, err := c.Append([]byte("prefix"), xs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Decode(b[len("prefix"):], nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(xs, got); diff != "" && len(xs) > 0 {
		t.Errorf("codec %c: (-want +got)\n%s", c.ID, diff)
	}
}

func binary_[T any](t *testing.T) wire.Codec[T] {
	t.Helper()
	c, ok := wire.Binary[T]()
	if !ok {
		t.Fatalf("no binary codec for %T", *new(T))
	}
	return c
}

func TestCodecs(t *testing.T) {
	type rec struct {
		A int
		B string
		C []float64
	}
	roundTrip(t, binary_[int](t), []int{0, -1, 1 << 62, -1 << 63})
	roundTrip(t, binary_[uint8](t), []uint8{0, 255})
	roundTrip(t, binary_[float64](t), []float64{0.5, -1e300})
	roundTrip(t, binary_[float32](t), []float32{0.25, 3})
	roundTrip(t, binary_[bool](t), []bool{true, false})
	roundTrip(t, binary_[string](t), []string{"", "héllo", strings.Repeat("x", 300)})
	roundTrip(t, binary_[[]byte](t), [][]byte{{}, {0, 1, 2}})
	roundTrip(t, binary_[int](t), []int{})
	roundTrip(t, wire.JSON[rec](), []rec{{1, "a", []float64{1.5}}, {}})
	roundTrip(t, wire.JSON[[]int](), [][]int{{1, 2}, nil})
	if _, ok := wire.Binary[rec](); ok {
		t.Error("binary codec offered for a struct")
	}
	type myInt int
	if _, ok := wire.Binary[myInt](); ok {
		t.Error("binary codec offered for a named type")
	}
}

func TestBinaryRejectsCorrupt(t *testing.T) {
	ints := binary_[int](t)
	strs := binary_[string](t)
	bools := binary_[bool](t)
	tests := []struct {
		name string
		dec  func([]byte) error
		in   []byte
	}{
		{"no count", func(b []byte) error { _, err := ints.Decode(b, nil); return err }, nil},
		{"huge count", func(b []byte) error { _, err := ints.Decode(b, nil); return err }, binary.AppendUvarint(nil, 1<<60)},
		{"short ints", func(b []byte) error { _, err := ints.Decode(b, nil); return err }, []byte{1, 0, 0}},
		{"string past end", func(b []byte) error { _, err := strs.Decode(b, nil); return err }, []byte{1, 50, 'a'}},
		{"string trailing", func(b []byte) error { _, err := strs.Decode(b, nil); return err }, []byte{1, 1, 'a', 'b'}},
		{"bool 2", func(b []byte) error { _, err := bools.Decode(b, nil); return err }, []byte{1, 2}},
	}
	for _, tt := range tests {
		if err := tt.dec(tt.in); !errors.Is(err, wire.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", tt.name, err)
		}
	}
}

// Decode appends in place when into has room, which is what lets proc
// decode a reply straight into a Map's results; on error it leaves into's
// length alone.
func TestDecodeInPlace(t *testing.T) {
	ints := binary_[int](t)
	enc, err := ints.Append(nil, []int{7, 8, 9})
	if err != nil {
		t.Fatal(err)
	}
	all := []int{1, 2, 0, 0, 0, 6}
	got, err := ints.Decode(enc, all[2:2:5])
	if err != nil {
		t.Fatal(err)
	}
	if &got[0] != &all[2] {
		t.Error("Decode reallocated a slice that had room")
	}
	if want := []int{1, 2, 7, 8, 9, 6}; !slices.Equal(all, want) {
		t.Errorf("decoded in place: %v, want %v", all, want)
	}
	// Too little room: the values go to a new array, the old one's
	// neighbours are left alone.
	got, err = ints.Decode(enc, all[0:1:2])
	if err != nil || !slices.Equal(got, []int{1, 7, 8, 9}) || all[1] != 2 {
		t.Errorf("decode past capacity: %v, %v; neighbour %d", got, err, all[1])
	}
	strs := binary_[string](t)
	bools := binary_[bool](t)
	// Each decodes a corrupt batch after one value already in into and
	// returns the length it got back.
	corrupt := []struct {
		name string
		dec  func() (int, error)
	}{
		{"ints", func() (int, error) { got, err := ints.Decode(enc[:len(enc)-1], []int{5}); return len(got), err }},
		{"strings", func() (int, error) {
			got, err := strs.Decode(append(binary.AppendUvarint(nil, 2), 1, 'a', 9), []string{"x"})
			return len(got), err
		}},
		{"bools", func() (int, error) { got, err := bools.Decode([]byte{2, 1, 7}, []bool{true}); return len(got), err }},
	}
	for _, tt := range corrupt {
		if n, err := tt.dec(); !errors.Is(err, wire.ErrCorrupt) || n != 1 {
			t.Errorf("%s: corrupt batch gave length %d, %v; want 1 and ErrCorrupt", tt.name, n, err)
		}
	}
}

// TestBinaryBytes pins the binary encoding, which polyglot workers read and
// write, byte for byte, on the fast path (memory copied as it lies, on a
// little-endian machine) and the portable one.
func TestBinaryBytes(t *testing.T) {
	for _, mode := range []string{"native", "portable"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "portable" {
				t.Cleanup(wire.Portable())
			}
			checkBytes(t, binary_[int](t), []int{1, -2}, "02"+"0100000000000000"+"feffffffffffffff")
			checkBytes(t, binary_[uint64](t), []uint64{1 << 63}, "01"+"0000000000000080")
			checkBytes(t, binary_[int32](t), []int32{-1}, "01"+"ffffffffffffffff")
			checkBytes(t, binary_[uint8](t), []uint8{200}, "01"+"c800000000000000")
			checkBytes(t, binary_[float64](t), []float64{1.5, -2}, "02"+"000000000000f83f"+"00000000000000c0")
			checkBytes(t, binary_[float32](t), []float32{1.5}, "01"+"0000c03f")
			checkBytes(t, binary_[bool](t), []bool{true, false}, "02"+"0100")
			checkBytes(t, binary_[string](t), []string{"hi", ""}, "02"+"026869"+"00")
			checkBytes(t, binary_[int](t), make([]int, 200), "c801"+strings.Repeat("00", 1600))
			// Batches long enough to be copied as they lie.
			ints, i64s, f64s, f32s := make([]int, 20), make([]int64, 20), make([]float64, 20), make([]float32, 20)
			var wantI, wantF64, wantF32 string
			for i := range ints {
				ints[i] = -i * 0x0102030405060
				i64s[i] = int64(ints[i])
				f64s[i] = float64(i) / -3
				f32s[i] = float32(i) / 3
				wantI += hex.EncodeToString(binary.LittleEndian.AppendUint64(nil, uint64(ints[i])))
				wantF64 += hex.EncodeToString(binary.LittleEndian.AppendUint64(nil, math.Float64bits(f64s[i])))
				wantF32 += hex.EncodeToString(binary.LittleEndian.AppendUint32(nil, math.Float32bits(f32s[i])))
			}
			checkBytes(t, binary_[int](t), ints, "14"+wantI)
			checkBytes(t, binary_[int64](t), i64s, "14"+wantI)
			checkBytes(t, binary_[float64](t), f64s, "14"+wantF64)
			checkBytes(t, binary_[float32](t), f32s, "14"+wantF32)
		})
	}
}

func checkBytes[T any](t *testing.T, c wire.Codec[T], xs []T, want string) {
	t.Helper()
	b, err := c.Append([]byte{0xaa}, xs)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b[1:]); got != want || b[0] != 0xaa {
		t.Errorf("%T: encoded %x, want aa%s", xs, b, want)
	}
	got, err := c.Decode(b[1:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(xs, got); diff != "" {
		t.Errorf("%T: (-want +got)\n%s", xs, diff)
	}
}
