package wire_test

import (
	"bytes"
	"encoding/gob"
	"testing"

	"crew/proc/internal/wire"
)

// benchCodec encodes and decodes one batch per iteration, as a call and its
// reply do.
func benchCodec[T any](b *testing.B, c wire.Codec[T], xs []T) {
	b.ReportAllocs()
	var buf []byte
	var out []T
	for b.Loop() {
		var err error
		buf, err = c.Append(buf[:0], xs)
		if err != nil {
			b.Fatal(err)
		}
		out, err = c.Decode(buf, out[:0])
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

// benchGob uses one long-lived encoder and decoder, gob's best case: type
// information travels once per stream.
func benchGob[T any](b *testing.B, xs []T) {
	b.ReportAllocs()
	var stream bytes.Buffer
	enc, dec := gob.NewEncoder(&stream), gob.NewDecoder(&stream)
	for b.Loop() {
		if err := enc.Encode(xs); err != nil {
			b.Fatal(err)
		}
		var out []T
		if err := dec.Decode(&out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCodec(b *testing.B) {
	ints := make([]int, 1000)
	for i := range ints {
		ints[i] = i * 7919
	}
	floats := make([]float64, 1000)
	for i := range floats {
		floats[i] = float64(i) / 7
	}
	bin := func() wire.Codec[int] { c, _ := wire.Binary[int](); return c }()
	sbin := func() wire.Codec[string] { c, _ := wire.Binary[string](); return c }()
	b.Run("int/json", func(b *testing.B) { benchCodec(b, wire.JSON[int](), ints[1:2]) })
	b.Run("int/gob", func(b *testing.B) { benchGob(b, ints[1:2]) })
	b.Run("int/binary", func(b *testing.B) { benchCodec(b, bin, ints[1:2]) })
	b.Run("string/json", func(b *testing.B) { benchCodec(b, wire.JSON[string](), []string{"hello, world"}) })
	b.Run("string/gob", func(b *testing.B) { benchGob(b, []string{"hello, world"}) })
	b.Run("string/binary", func(b *testing.B) { benchCodec(b, sbin, []string{"hello, world"}) })
	b.Run("1000ints/json", func(b *testing.B) { benchCodec(b, wire.JSON[int](), ints) })
	b.Run("1000ints/gob", func(b *testing.B) { benchGob(b, ints) })
	b.Run("1000ints/binary", func(b *testing.B) { benchCodec(b, bin, ints) })
	fbin, _ := wire.Binary[float64]()
	b.Run("1000floats/binary", func(b *testing.B) { benchCodec(b, fbin, floats) })
}
