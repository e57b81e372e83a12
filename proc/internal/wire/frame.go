// Package wire is the framing and encoding that crew's process pool (package
// proc) speaks over pipes between a parent and its workers.
//
// A frame is a 4-byte big-endian length N followed by N bytes of body. The
// body starts with a kind byte and an 8-byte big-endian message id; what
// follows depends on the kind:
//
//	'H' hello   worker → parent: nothing; the worker is ready.
//	'C' call    parent → worker: codec byte, name length byte, name, payload.
//	'X' cancel  parent → worker: nothing; cancel call id (may be ignored).
//	'R' reply   worker → parent: codec byte, 4-byte error length E, E bytes
//	            of JSON errors, payload.
//
// Readers enforce a maximum frame size, so a corrupt or hostile length is an
// error, never an unbounded allocation.
package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Message kinds.
const (
	KindHello  byte = 'H'
	KindCall   byte = 'C'
	KindCancel byte = 'X'
	KindReply  byte = 'R'
)

// DefaultMaxFrame is the largest frame body a Reader accepts unless told
// otherwise: big enough for any sensible batch, small enough that a garbage
// length cannot exhaust memory.
const DefaultMaxFrame = 64 << 20

// headerLen is the length prefix plus kind and id.
const headerLen = 4 + 1 + 8

var (
	// ErrFrameTooLarge is returned for a frame whose length exceeds the
	// reader's maximum.
	ErrFrameTooLarge = errors.New("wire: frame too large")
	// ErrCorrupt is returned for a frame whose body does not parse.
	ErrCorrupt = errors.New("wire: corrupt frame")
)

// A Message is one decoded frame body. Its byte slices alias the frame they
// were parsed from.
type Message struct {
	Kind  byte
	ID    uint64
	Codec byte   // call and reply: how Payload is encoded
	Name  string // call: the registered function's name
	Err   []byte // reply: JSON array of errors, empty when none
	// Payload holds the encoded arguments (call) or results (reply).
	Payload []byte
}

// AppendFrame appends m, framed, to dst and returns the extended slice.
// It returns an error only for a name longer than 255 bytes.
func AppendFrame(dst []byte, m *Message) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, m.Kind)
	dst = binary.BigEndian.AppendUint64(dst, m.ID)
	switch m.Kind {
	case KindCall:
		if len(m.Name) > 255 {
			return dst[:start], fmt.Errorf("wire: function name %q longer than 255 bytes", m.Name)
		}
		dst = append(dst, m.Codec, byte(len(m.Name)))
		dst = append(dst, m.Name...)
		dst = append(dst, m.Payload...)
	case KindReply:
		dst = append(dst, m.Codec)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(m.Err)))
		dst = append(dst, m.Err...)
		dst = append(dst, m.Payload...)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst, nil
}

// ReadFrame reads one frame from r and returns its body, reusing buf when it
// is large enough. It returns io.EOF only at a frame boundary; a frame cut
// short is io.ErrUnexpectedEOF, and a length above max is ErrFrameTooLarge.
// Memory is allocated only as the body actually arrives, so a lying length
// costs at most what the peer really sent.
func ReadFrame(r *bufio.Reader, max int, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n > max {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, max)
	}
	if n < headerLen-4 {
		return nil, fmt.Errorf("%w: body of %d bytes", ErrCorrupt, n)
	}
	if cap(buf) >= n {
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, eofIsUnexpected(err)
		}
		return buf, nil
	}
	// Grow in steps so that the allocation tracks bytes received.
	buf = buf[:0]
	for len(buf) < n {
		step := min(n-len(buf), 1<<20)
		buf = append(buf, make([]byte, step)...)
		if _, err := io.ReadFull(r, buf[len(buf)-step:]); err != nil {
			return nil, eofIsUnexpected(err)
		}
	}
	return buf, nil
}

func eofIsUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Parse decodes a frame body as returned by ReadFrame.
func Parse(body []byte) (Message, error) {
	var m Message
	if len(body) < 9 {
		return m, fmt.Errorf("%w: body of %d bytes", ErrCorrupt, len(body))
	}
	m.Kind = body[0]
	m.ID = binary.BigEndian.Uint64(body[1:9])
	rest := body[9:]
	switch m.Kind {
	case KindHello, KindCancel:
	case KindCall:
		if len(rest) < 2 || len(rest)-2 < int(rest[1]) {
			return m, fmt.Errorf("%w: short call", ErrCorrupt)
		}
		m.Codec = rest[0]
		n := int(rest[1])
		m.Name = string(rest[2 : 2+n])
		m.Payload = rest[2+n:]
	case KindReply:
		if len(rest) < 5 {
			return m, fmt.Errorf("%w: short reply", ErrCorrupt)
		}
		m.Codec = rest[0]
		n := binary.BigEndian.Uint32(rest[1:5])
		if uint64(n) > uint64(len(rest)-5) {
			return m, fmt.Errorf("%w: error length %d past end", ErrCorrupt, n)
		}
		m.Err = rest[5 : 5+n]
		m.Payload = rest[5+n:]
	default:
		return m, fmt.Errorf("%w: unknown kind %q", ErrCorrupt, m.Kind)
	}
	return m, nil
}

// FixLength rewrites the length prefix of the frame at the start of frame,
// for callers that append a payload after AppendFrame.
func FixLength(frame []byte) {
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
}
