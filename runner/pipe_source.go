package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// A pipeIn is what one job gets under --pipe: the header, then its block,
// either bytes in one of the run's buffers or a range of a file.
type pipeIn struct {
	header []byte
	data   []byte
	buf    *pipeBuf // holds data; released when the job is done with it
	file   *os.File // or the block is n bytes of file at off
	off, n int64
	live   *liveBlock // or it is read from standard input as it is written
}

func (in *pipeIn) size() int64 {
	if in.live != nil {
		return int64(len(in.header)) + in.live.n.Load()
	}
	if in.file != nil {
		return int64(len(in.header)) + in.n
	}
	return int64(len(in.header) + len(in.data))
}

// release gives the block's buffer back; it may be called more than once.
func (in *pipeIn) release() {
	if in.live != nil {
		in.live.release()
	}
	if b := in.buf; b != nil {
		in.buf, in.data = nil, nil
		b.release()
	}
}

// bytes returns the header and block as one slice, reading a file range
// into memory (for executors that take Job.Stdin).
func (in *pipeIn) bytes() ([]byte, error) {
	if in.file == nil && len(in.header) == 0 {
		return in.data, nil
	}
	b := make([]byte, in.size())
	n := copy(b, in.header)
	if in.file == nil {
		copy(b[n:], in.data)
		return b, nil
	}
	if _, err := in.file.ReadAt(b[n:], in.off); err != nil {
		return nil, fmt.Errorf("runner: --pipe: reading %s: %w", in.file.Name(), err)
	}
	return b, nil
}

// A pipeBuf is one of the buffers blocks are read into. Each block cut
// from it holds a reference, and so does the reader while it fills it;
// the last release gives it back to its pool.
type pipeBuf struct {
	data []byte
	refs atomic.Int32
	pool *bufPool
}

func (b *pipeBuf) release() {
	if b.refs.Add(-1) == 0 {
		b.pool.free <- b
	}
}

// bufPool holds at most max buffers, so that blocks read ahead of the
// jobs cannot fill memory: the reader waits for a buffer to come back.
type bufPool struct {
	free chan *pipeBuf
	mu   sync.Mutex
	made int
}

func newBufPool(max int) *bufPool { return &bufPool{free: make(chan *pipeBuf, max)} }

// get returns a buffer of at least size bytes, waiting for one to come
// back when all are in use.
func (p *bufPool) get(ctx context.Context, size int) (*pipeBuf, error) {
	var b *pipeBuf
	select {
	case b = <-p.free:
	default:
		p.mu.Lock()
		if p.made < cap(p.free) {
			p.made++
			b = &pipeBuf{pool: p}
		}
		p.mu.Unlock()
		if b == nil {
			select {
			case b = <-p.free:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	if cap(b.data) < size {
		b.data = nil // let the old one go before the new one is made
		b.data = make([]byte, size)
	}
	b.data = b.data[:cap(b.data)]
	b.refs.Store(1)
	return b, nil
}

// A blockSource hands out the blocks of a run in order.
type blockSource interface {
	// next returns the next block, or io.EOF after the last.
	next(ctx context.Context) (*pipeIn, error)
}

// streamCutter cuts a stream into blocks, round by round as GNU parallel
// does: read until the buffer holds a multiple of the block size, cut
// after the last split position (or every -N records), carry the rest
// over into the next round. A round that finds no split grows the block.
type streamCutter struct {
	r      io.Reader
	sp     *splitter
	block  int64
	pool   *bufPool
	header []byte
	warn   func(string)

	cur      *pipeBuf // the current round's buffer
	n        int      // bytes of cur in use
	from     int      // where the next block starts in cur
	cuts     []int    // the ends of the blocks not handed out yet
	carry    []byte   // data waiting for the next round (first: after the header)
	eof      bool
	finished bool
}

func (c *streamCutter) next(ctx context.Context) (*pipeIn, error) {
	for len(c.cuts) == 0 {
		if c.finished {
			return nil, io.EOF
		}
		if c.eof {
			// Whatever is left is the last block, whole.
			c.finished = true
			if c.cur != nil && c.n > c.from {
				in := &pipeIn{header: c.header, data: c.cur.data[c.from:c.n], buf: c.cur}
				c.cur = nil
				return in, nil
			}
			c.dropCur()
			return nil, io.EOF
		}
		if err := c.round(ctx); err != nil {
			return nil, err
		}
	}
	end := c.cuts[0]
	c.cuts = c.cuts[1:]
	in := &pipeIn{header: c.header, data: c.cur.data[c.from:end:end], buf: c.cur}
	c.cur.refs.Add(1)
	c.from = end
	return in, nil
}

func (c *streamCutter) dropCur() {
	if c.cur != nil {
		c.cur.release()
		c.cur = nil
	}
}

// round reads the next round's data and cuts it.
func (c *streamCutter) round(ctx context.Context) error {
	var left []byte
	if c.cur != nil {
		left = c.cur.data[c.from:c.n]
	} else {
		left = c.carry
	}
	need := len(left) + int(c.block-int64(len(left))%c.block)
	var nb *pipeBuf
	if c.cur != nil && c.cur.refs.Load() == 1 && cap(c.cur.data) >= need {
		// No block of this buffer is out: move the rest to its front.
		nb = c.cur
		copy(nb.data, left)
	} else {
		// Blocks of the old buffer are still out. Keep the rest aside
		// and let the old buffer go before taking a new one, which may
		// have to wait for it.
		c.carry = append(c.carry[:0], left...)
		c.dropCur()
		var err error
		if nb, err = c.pool.get(ctx, need); err != nil {
			return err
		}
		copy(nb.data, c.carry)
	}
	c.cur, c.from = nb, 0
	got, err := io.ReadFull(c.r, nb.data[len(left):need])
	c.n = len(left) + got
	switch err {
	case nil:
	case io.EOF, io.ErrUnexpectedEOF:
		c.eof = true
	default:
		return fmt.Errorf("runner: --pipe: reading standard input: %w", err)
	}
	c.cuts = c.sp.cut(nb.data[:c.n], c.eof)
	if len(c.cuts) == 0 && !c.eof && c.block < maxBlock {
		old := c.block
		c.block = growBlock(c.block)
		c.warn(fmt.Sprintf("warning: a record was longer than %d bytes; the block size is now %d", old, c.block))
	}
	return nil
}

// readHeader reads from r until the start of the data matches the header
// and returns the header and the data read after it.
func (s *pipeSpec) readHeader(r io.Reader) (header, rest []byte, err error) {
	if s.headerRe == nil {
		return nil, nil, nil
	}
	var buf []byte
	chunk := int(min(s.block, 1<<20))
	if chunk <= 0 {
		chunk = 1 << 16
	}
	for {
		n := len(buf)
		buf = append(buf, make([]byte, chunk)...)
		got, err := io.ReadFull(r, buf[n:])
		buf = buf[:n+got]
		eof := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !eof {
			return nil, nil, fmt.Errorf("runner: --pipe: reading the header: %w", err)
		}
		// Before the end of the input, a match that reaches the end of
		// what was read might grow with more data.
		if m := s.headerRe.FindIndex(buf); m != nil && (eof || m[1] < len(buf)) {
			return buf[:m[1]:m[1]], buf[m[1]:], nil
		}
		if eof {
			return nil, nil, headerError(s.header, len(buf))
		}
	}
}

// fileCutter cuts a regular file into the blocks a streamCutter would cut
// from its content, reading only around the block borders: the blocks
// themselves go from the file to the jobs without passing through crew.
// It serves the simple cases (see splitter.simple).
type fileCutter struct {
	f      *os.File
	size   int64
	pos    int64
	block  int64
	sp     *splitter
	header []byte
	warn   func(string)
	win    []byte
}

// fileWindow is how much of a file is read at a time to find a border.
const fileWindow = 64 << 10

func (c *fileCutter) next(context.Context) (*pipeIn, error) {
	for c.pos < c.size {
		if c.size-c.pos < c.block {
			in := &pipeIn{header: c.header, file: c.f, off: c.pos, n: c.size - c.pos}
			c.pos = c.size
			return in, nil
		}
		p, err := c.lastSplit(c.pos, c.pos+c.block)
		if err != nil {
			return nil, err
		}
		if p > c.pos {
			in := &pipeIn{header: c.header, file: c.f, off: c.pos, n: p - c.pos}
			c.pos = p
			return in, nil
		}
		if c.block >= maxBlock {
			p = c.pos + c.block
			in := &pipeIn{header: c.header, file: c.f, off: c.pos, n: p - c.pos}
			c.pos = p
			return in, nil
		}
		old := c.block
		c.block = growBlock(c.block)
		c.warn(fmt.Sprintf("warning: a record was longer than %d bytes; the block size is now %d", old, c.block))
	}
	return nil, io.EOF
}

// lastSplit returns the last split position in the file's bytes [lo, hi),
// or -1, reading windows backwards from hi.
func (c *fileCutter) lastSplit(lo, hi int64) (int64, error) {
	if len(c.sp.sep) == 0 {
		return hi, nil
	}
	if c.win == nil {
		c.win = make([]byte, fileWindow+len(c.sp.sep))
	}
	end := hi
	for end > lo {
		start := max(lo, end-fileWindow)
		w := c.win[:end-start]
		if _, err := c.f.ReadAt(w, start); err != nil {
			return -1, fmt.Errorf("runner: --pipe: reading %s: %w", c.f.Name(), err)
		}
		if p := c.sp.lastSplit(w); p > 0 && start+int64(p) > lo {
			return start + int64(p), nil
		}
		if start == lo {
			break
		}
		// The next window overlaps this one by a separator's length less
		// one, so a separator across the border is seen.
		end = start + int64(len(c.sp.sep)) - 1
	}
	return -1, nil
}

// partBorders finds --pipepart's block borders in f, as GNU parallel
// does: from skip (the header), each border is the first split position
// at or past the previous border plus the block size.
func partBorders(f *os.File, size, skip, block int64, sp *splitter) ([]int64, error) {
	pos := []int64{skip}
	win := make([]byte, 128<<10)
	for search := skip + block; search < size; {
		p, err := firstSplit(f, size, search, sp, win)
		if err != nil {
			return nil, err
		}
		if p < 0 {
			break
		}
		pos = append(pos, p)
		search = p + block
	}
	if pos[len(pos)-1] != size {
		pos = append(pos, size)
	}
	return pos, nil
}

// firstSplit returns the first split position whose separator starts at
// or after from, or -1.
func firstSplit(f *os.File, size, from int64, sp *splitter, win []byte) (int64, error) {
	if len(sp.sep) == 0 && sp.re == nil {
		return from, nil
	}
	var buf []byte // under --regexp, everything read so far
	for at := from; at < size; {
		n, err := f.ReadAt(win, at)
		if err != nil && err != io.EOF {
			return -1, fmt.Errorf("runner: --pipepart: reading %s: %w", f.Name(), err)
		}
		if n == 0 {
			break
		}
		if sp.re == nil {
			if i := bytes.Index(win[:n], sp.sep); i >= 0 {
				return at + int64(i+len(sp.end)), nil
			}
			// The next window overlaps this one by a separator's length
			// less one, so a separator across the border is seen.
			if at+int64(n) >= size {
				break
			}
			at += int64(max(n-len(sp.sep)+1, 1))
			continue
		}
		buf = append(buf, win[:n]...)
		at += int64(n)
		if m := sp.re.FindSubmatchIndex(buf); m != nil {
			return from + int64(m[2]), nil
		}
	}
	return -1, nil
}

// partSource hands out precomputed ranges of a file.
type partSource struct {
	f      *os.File
	pos    []int64
	i      int
	header []byte
}

func (s *partSource) next(context.Context) (*pipeIn, error) {
	if s.i+1 >= len(s.pos) {
		return nil, io.EOF
	}
	s.i++
	return &pipeIn{header: s.header, file: s.f, off: s.pos[s.i-1], n: s.pos[s.i] - s.pos[s.i-1]}, nil
}
