package runner

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"crew/internal/child"
)

// OutputMode says how the output of concurrent jobs is put together.
type OutputMode int

const (
	// Group writes each job's output in one piece when the job ends, so
	// jobs never interleave (GNU parallel's default, --group).
	Group OutputMode = iota
	// LineBuffer writes whole lines as jobs produce them (--line-buffer).
	LineBuffer
	// Ungroup passes output straight through; lines of different jobs
	// may mix (--ungroup, -u).
	Ungroup
)

// Memory bounds of buffered output: past them, output spills to temporary
// files, so neither a chatty job nor a long -k backlog grows the heap
// without bound.
const (
	perBufferMem = 4 << 20
	totalBufMem  = 32 << 20
)

// spillBuffer holds a job's output: in memory while it is small and the
// run's budget allows, in an unlinked temporary file after that.
type spillBuffer struct {
	budget *atomic.Int64
	mem    []byte
	f      *os.File
	memfd  bool // f lives in memory
	err    error
}

// holdOnDisk moves output held in a memory file to a disk file once it is
// large, so a long -k backlog does not fill memory.
func (b *spillBuffer) holdOnDisk() {
	if !b.memfd || b.size() <= perBufferMem {
		return
	}
	f, err := child.TempFile()
	if err != nil {
		return // keep it in memory rather than lose it
	}
	if _, err := b.f.Seek(0, io.SeekStart); err == nil {
		if _, err = io.Copy(f, b.f); err == nil {
			b.f.Close()
			b.f, b.memfd = f, false
			return
		}
	}
	f.Close()
	_, _ = b.f.Seek(0, io.SeekEnd)
}

func (b *spillBuffer) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.f == nil {
		if len(b.mem)+len(p) <= perBufferMem && b.budget.Add(int64(len(p))) <= totalBufMem {
			b.mem = append(b.mem, p...)
			return len(p), nil
		}
		if len(b.mem)+len(p) <= perBufferMem {
			b.budget.Add(-int64(len(p)))
		}
		if err := b.spill(); err != nil {
			return 0, err
		}
	}
	n, err := b.f.Write(p)
	if err != nil {
		b.err = err
	}
	return n, err
}

// newFileBuffer returns a buffer backed by a file from the start, a memory
// file where the kernel has them (child.OutputFile): a local job writes
// straight into it, with no pipe and no copying goroutine, and a job that
// prints nothing costs two system calls. Output that must wait its turn
// under -k moves to disk (holdOnDisk).
func newFileBuffer(budget *atomic.Int64) *spillBuffer {
	b := &spillBuffer{budget: budget}
	f, inMemory, err := child.OutputFile()
	if err != nil {
		// Fall back to memory first; Write spills when it must.
		return b
	}
	b.f, b.memfd = f, inMemory
	return b
}

// writer is what a job writes into: the file itself when there is one,
// so that the executor can hand it to the child process directly.
func (b *spillBuffer) writer() io.Writer {
	if b.f != nil && b.err == nil {
		return b.f
	}
	return b
}

// size reports how many bytes the buffer holds; for a file the child
// wrote through a shared descriptor, that is the current offset.
func (b *spillBuffer) size() int64 {
	if b.f == nil {
		return int64(len(b.mem))
	}
	n, err := b.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return -1
	}
	return n
}

func (b *spillBuffer) spill() error {
	f, err := child.TempFile()
	if err != nil {
		b.err = err
		return err
	}
	b.f = f
	if _, err := f.Write(b.mem); err != nil {
		b.err = err
		return err
	}
	b.budget.Add(-int64(len(b.mem)))
	b.mem = nil
	return nil
}

// writeTo copies the buffered output to w, each line prefixed by tag.
func (b *spillBuffer) writeTo(w io.Writer, tag string) error {
	if b.f == nil {
		return writeTagged(w, b.mem, tag)
	}
	if b.size() == 0 {
		return nil
	}
	if _, err := b.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if tag == "" {
		_, err := io.Copy(w, b.f)
		return err
	}
	lw := &lineWriter{dst: w, tag: tag, mu: new(sync.Mutex)}
	if _, err := io.Copy(lw, b.f); err != nil {
		return err
	}
	return lw.flush()
}

// release frees the buffer's memory and file.
func (b *spillBuffer) release() {
	b.budget.Add(-int64(len(b.mem)))
	b.mem = nil
	if b.f != nil {
		b.f.Close()
		b.f = nil
	}
}

func writeTagged(w io.Writer, p []byte, tag string) error {
	if tag == "" || len(p) == 0 {
		_, err := w.Write(p)
		return err
	}
	var out bytes.Buffer
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		line := p
		if i >= 0 {
			line = p[:i+1]
		}
		out.WriteString(tag)
		out.Write(line)
		p = p[len(line):]
	}
	_, err := w.Write(out.Bytes())
	return err
}

// lineWriter writes whole lines to dst under mu, each prefixed by tag,
// and keeps a partial last line until it is completed or flushed. n
// counts the bytes written into it, for the joblog's Receive.
type lineWriter struct {
	dst     io.Writer
	tag     string
	mu      *sync.Mutex
	partial []byte
	n       int64
}

func (l *lineWriter) Write(p []byte) (int, error) {
	i := bytes.LastIndexByte(p, '\n')
	if i < 0 {
		l.partial = append(l.partial, p...)
		l.n += int64(len(p))
		return len(p), nil
	}
	var chunk []byte
	if len(l.partial) > 0 {
		chunk = append(l.partial, p[:i+1]...)
		l.partial = nil
	} else {
		chunk = p[:i+1]
	}
	l.mu.Lock()
	err := writeTagged(l.dst, chunk, l.tag)
	l.mu.Unlock()
	l.partial = append(l.partial, p[i+1:]...)
	if err != nil {
		return 0, err
	}
	l.n += int64(len(p))
	return len(p), nil
}

func (l *lineWriter) flush() error {
	if len(l.partial) == 0 {
		return nil
	}
	l.mu.Lock()
	err := writeTagged(l.dst, l.partial, l.tag)
	l.mu.Unlock()
	l.partial = nil
	return err
}

// emit writes one job's buffered output, or with --results and --files
// stores it; r.outMu is held.
func (r *run) emit(p *pending) {
	if r.res != nil {
		r.store(p)
		return
	}
	if err := p.out.writeTo(r.cfg.Stdout, p.tag); err != nil {
		r.firstErrLocked(err)
	}
	if err := p.err.writeTo(r.cfg.Stderr, p.tag); err != nil {
		r.firstErrLocked(err)
	}
	p.out.release()
	p.err.release()
}

func (r *run) firstErrLocked(err error) {
	r.setErr(fmt.Errorf("runner: writing output: %w", err))
}

// pending is a finished job's output waiting for its turn.
type pending struct {
	out, err *spillBuffer
	tag      string
	rec      *record // for --results; nil for a job the run stopped
}

// orderQueue writes output as jobs finish, or with keep in input order,
// holding back only the jobs that finished before an earlier one.
type orderQueue struct {
	keep bool
	next int64
	held map[int64]*pending // nil value: a job with no output to write
}

func (q *orderQueue) init(keep bool) {
	q.keep, q.next, q.held = keep, 1, map[int64]*pending{}
}

func (q *orderQueue) skip(seq int64, r *run) { q.done(seq, nil, r) }

func (q *orderQueue) done(seq int64, p *pending, r *run) {
	r.outMu.Lock()
	defer r.outMu.Unlock()
	if !q.keep {
		if p != nil {
			r.emit(p)
		}
		return
	}
	if p != nil && seq != q.next {
		p.out.holdOnDisk()
		p.err.holdOnDisk()
	}
	q.held[seq] = p
	for {
		h, ok := q.held[q.next]
		if !ok {
			return
		}
		delete(q.held, q.next)
		q.next++
		if h != nil {
			r.emit(h)
		}
	}
}

// bytes returns everything the buffer holds.
func (b *spillBuffer) bytes() ([]byte, error) {
	if b.f == nil {
		return b.mem, nil
	}
	var w bytes.Buffer
	err := b.writeTo(&w, "")
	return w.Bytes(), err
}
