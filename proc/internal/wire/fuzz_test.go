package wire_test

import (
	"bufio"
	"bytes"
	"testing"

	"crew/proc/internal/wire"
)

// FuzzDecode feeds arbitrary bytes to the frame reader, the message parser
// and the binary codecs: they may reject input but must not panic, hang or
// allocate past the frame limit.
func FuzzDecode(f *testing.F) {
	for _, m := range []wire.Message{
		{Kind: wire.KindHello},
		{Kind: wire.KindCall, ID: 1, Codec: wire.CodecBinary, Name: "add1", Payload: []byte{1, 2, 0, 0, 0, 0, 0, 0, 0}},
		{Kind: wire.KindReply, ID: 1, Codec: wire.CodecJSON, Err: []byte(`[{"i":-1,"msg":"m"}]`), Payload: []byte("[1]")},
		{Kind: wire.KindCancel, ID: 3},
	} {
		b, _ := wire.AppendFrame(nil, &m)
		f.Add(b)
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	const limit = 1 << 16
	ints, _ := wire.Binary[int]()
	strs, _ := wire.Binary[string]()
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for {
			body, err := wire.ReadFrame(r, limit, nil)
			if err != nil {
				break
			}
			if len(body) > limit {
				t.Fatalf("frame of %d bytes past limit", len(body))
			}
			m, err := wire.Parse(body)
			if err != nil {
				continue
			}
			again, err := wire.AppendFrame(nil, &m)
			if err != nil {
				t.Fatal(err)
			}
			m2, err := wire.Parse(again[4:])
			if err != nil || m2.ID != m.ID || m2.Kind != m.Kind || !bytes.Equal(m2.Payload, m.Payload) {
				t.Fatalf("re-encoded %+v parses as %+v, %v", m, m2, err)
			}
			ints.Decode(m.Payload, nil)
			strs.Decode(m.Payload, nil)
		}
	})
}
