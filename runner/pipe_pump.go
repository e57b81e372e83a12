package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// pumpSource feeds blocks of standard input that is a pipe to local jobs
// without copying most of their bytes: a job's writer splices the block
// from standard input straight into the job's pipe (splice(2) moves the
// pages), and reads only the block's last pumpTail bytes into memory, to
// find where the last record of the block ends. The next block starts
// there, with what was read past it.
//
// A job slower than the data would hold everything up while its block is
// spliced into it, so a writer whose job's pipe stays full for slowJob
// reads the rest of its block into memory instead, and the next block
// starts at once. At most jobs blocks are in memory at a time.
//
// It serves the simple cases (splitter.simple) with blocks of at least
// 4 x pumpTail. Its blocks end at the last record border of the block's
// last pumpTail bytes, which is where GNU parallel ends them unless a
// record is longer than that; then the block grows to the next border.
type pumpSource struct {
	in     *os.File
	fd     int
	sp     *splitter
	block  int64
	header []byte
	quit   <-chan struct{}

	// Owned by the block being read, then by next.
	carry []byte
	eof   bool
	err   error

	prev *liveBlock
	bufs chan []byte // free tail buffers
	made int
}

// pumpTail is how much of each block's end is read into memory.
const pumpTail = 256 << 10

// slowJob is how long a job's full pipe may keep its writer waiting
// before the writer stops splicing into it. It is well above a busy
// machine's scheduling delay, so a job that keeps up is not mistaken for
// a slow one; a slow one costs that much once per block.
const slowJob = 20 * time.Millisecond

// A liveBlock is a block read from standard input while it is written.
type liveBlock struct {
	src   *pumpSource
	carry []byte
	buf   []byte
	n     atomic.Int64 // bytes of the block once read
	done  chan struct{}
	once  sync.Once
}

func (lb *liveBlock) finishRead() { lb.once.Do(func() { close(lb.done) }) }

func newPumpSource(in *os.File, sp *splitter, block int64, header, rest []byte, jobs int, quit <-chan struct{}) *pumpSource {
	return &pumpSource{in: in, fd: int(in.Fd()), sp: sp, block: block, header: header, quit: quit,
		carry: rest, bufs: make(chan []byte, max(jobs, 1))}
}

func (s *pumpSource) next(ctx context.Context) (*pipeIn, error) {
	if s.prev != nil {
		select {
		case <-s.prev.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.quit:
			return nil, io.EOF
		}
		s.prev = nil
	}
	if s.err != nil {
		return nil, s.err
	}
	if len(s.carry) == 0 && !s.eof && !s.more() {
		s.eof = true
	}
	if s.eof && len(s.carry) == 0 {
		return nil, io.EOF
	}
	var buf []byte
	select {
	case buf = <-s.bufs:
	default:
		if s.made < cap(s.bufs) {
			s.made++
			buf = make([]byte, 0, pumpTail)
		} else {
			select {
			case buf = <-s.bufs:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	lb := &liveBlock{src: s, carry: s.carry, buf: buf[:0], done: make(chan struct{})}
	s.carry = nil
	s.prev = lb
	return &pipeIn{header: s.header, live: lb}, nil
}

// more waits until standard input has data or is at its end.
func (s *pumpSource) more() bool {
	for {
		if n, err := unix.IoctlGetInt(s.fd, unix.TIOCINQ); err == nil && n > 0 {
			return true
		}
		fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil && err != unix.EINTR {
			return true // let the read report it
		}
		if n, err := unix.IoctlGetInt(s.fd, unix.TIOCINQ); err == nil && n > 0 {
			return true
		}
		if fds[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0 {
			return false
		}
	}
}

// release gives the block's buffer back.
func (lb *liveBlock) release() {
	lb.finishRead()
	if lb.buf != nil {
		lb.src.bufs <- lb.buf[:0]
		lb.buf = nil
	}
}

// pump writes the header and the block into the pipe wfd, a blocking
// one, reading the block from standard input as it goes. It returns the
// first write error; the block is read to its end all the same, so the
// next block starts where it should.
//
// The writes are plain blocking system calls on this goroutine's thread,
// which the job's reads wake directly: through the netpoller each full
// pipe would cost a hand-off between threads, which on a busy 2-core
// machine cost more than the copying saved.
func (lb *liveBlock) pump(wfd int) error {
	s := lb.src
	defer lb.finishRead()
	var werr error
	write := func(b []byte) {
		for werr == nil && len(b) > 0 {
			n, err := unix.Write(wfd, b)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				werr = err
				return
			}
			b = b[n:]
		}
	}
	write(s.header)
	write(lb.carry)
	have := int64(len(lb.carry))
	want := s.block - have%s.block // to the end of this round's window
	direct := want - min(want, pumpTail)
	spliced := int64(0)
splice:
	for spliced < direct && werr == nil && !s.eof {
		n, err := unix.Splice(s.fd, nil, wfd, nil, int(direct-spliced), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
		switch {
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			if avail, _ := unix.IoctlGetInt(s.fd, unix.TIOCINQ); avail == 0 {
				if !s.more() {
					s.eof = true
				}
				continue
			}
			// The job's pipe is full: wait for the job, but not for long.
			fds := []unix.PollFd{{Fd: int32(wfd), Events: unix.POLLOUT}}
			k, err := unix.Poll(fds, int(slowJob/time.Millisecond))
			if err == nil && k == 0 {
				break splice // a slow job: read the rest into memory
			}
		case err != nil:
			werr = err // the job is gone; the read below reports stdin's errors
		case n == 0:
			s.eof = true
		default:
			spliced += n
		}
	}
	// The rest of the window, in memory.
	rest := want - spliced
	if s.eof {
		rest = 0
	}
	buf := lb.buf
	for {
		if rest > 0 {
			n0 := len(buf)
			// Grown, not appended to: the buffer is reused, and clearing
			// what is about to be read over costs as much as reading.
			buf = slices.Grow(buf, int(rest))[:n0+int(rest)]
			got, err := io.ReadFull(s.in, buf[n0:])
			buf = buf[:n0+got]
			switch err {
			case nil:
			case io.EOF, io.ErrUnexpectedEOF:
				s.eof = true
			default:
				s.err = fmt.Errorf("runner: --pipe: reading standard input: %w", err)
				s.eof = true
			}
		}
		if s.eof {
			break
		}
		if p := s.sp.lastSplit(buf); p > 0 {
			s.carry = append([]byte(nil), buf[p:]...)
			buf = buf[:p]
			break
		}
		// No border in memory: GNU parallel would have cut in what is
		// already gone, so the block grows to the next border instead.
		rest = pumpTail
	}
	lb.buf = buf
	lb.n.Store(have + spliced + int64(len(buf)))
	lb.finishRead()
	write(buf)
	return werr
}

// isPipe reports whether f is a pipe (or FIFO), whose data can be spliced.
func isPipe(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeNamedPipe != 0
}
