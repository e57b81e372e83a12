package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"crew/internal/backoff"
)

// ErrFifoUnopened is reported (wrapped) by Run when a job ended without
// opening the named pipe --fifo gave it: its block was not passed on.
var ErrFifoUnopened = errors.New("runner: a job never opened its --fifo")

// pipeFeed turns a Pipe's blocks into jobs for the run's main loop: next
// returns the arguments of the next job (none, or the --cat/--fifo file),
// take the block that goes with them.
type pipeFeed struct {
	spec  *pipeSpec
	src   blockSource
	jobs  int
	local bool // the executor takes Job.StdinFile
	pump  bool // blocks may be spliced from a pipe as jobs run (pumpSource)
	quit  <-chan struct{}
	ctx   context.Context
	warn  func(string)

	dir     string // temporary directory of --cat files and --fifos
	seq     int64
	pending *pipeIn
	path    string

	// --round-robin: the long-running jobs' streams, dealt to in turn.
	streams []*rrStream
	dealt   int

	closers []func()
}

// pipeJob is a job's input under --pipe, as the main loop hands it to a
// slot.
type pipeJob struct {
	in     *pipeIn
	path   string    // --cat/--fifo file, or ""
	stream *rrStream // --round-robin
	bytes  int64     // the size of the block with its header
}

// openPipe prepares the blocks of the run's Pipe.
func (r *run) openPipe(ctx context.Context, quit <-chan struct{}) (*pipeFeed, error) {
	s := r.pipe
	p := &pipeFeed{spec: s, jobs: r.cfg.Jobs, local: takesStdinFile(r.exec), quit: quit, ctx: ctx, warn: func(l string) { r.warnf("%s", l) }}
	p.pump = p.local && r.cfg.Retries <= 1 && !s.Cat && !s.Fifo && !s.RoundRobin && s.rrs == nil && os.Getenv("CREW_PIPE_NOPUMP") == ""
	if (s.Cat || s.Fifo) && !p.local {
		return nil, badValue(ErrBadPipe, "--cat and --fifo need jobs on this machine")
	}
	if s.RoundRobin && s.Part == "" && !p.local {
		return nil, badValue(ErrBadPipe, "--round-robin needs jobs on this machine")
	}
	if s.Cat || s.Fifo {
		dir, err := os.MkdirTemp("", "crew-pipe-")
		if err != nil {
			return nil, fmt.Errorf("runner: --pipe: %w", err)
		}
		p.dir = dir
		p.closers = append(p.closers, func() { os.RemoveAll(dir) })
	}
	var err error
	switch {
	case s.Part != "":
		err = p.openPart(s)
	default:
		err = p.openInput(s)
	}
	if err != nil {
		p.close()
		return nil, err
	}
	if s.rrs != nil {
		p.src = &rrsSource{src: p.src, rrs: s.rrs}
	}
	return p, nil
}

// takesStdinFile reports whether e hands Job.StdinFile to its processes.
func takesStdinFile(e Executor) bool {
	switch e.(type) {
	case Local, *Local:
		return true
	}
	return false
}

func (p *pipeFeed) openPart(s *pipeSpec) error {
	f, err := os.Open(s.Part)
	if err == nil {
		var st os.FileInfo
		if st, err = f.Stat(); err == nil && !st.Mode().IsRegular() {
			err = errors.New("not a regular file (--pipepart reads parts of a file at their offsets)")
		}
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		return usageErr("--pipepart "+s.Part, err)
	}
	p.closers = append(p.closers, func() { f.Close() })
	st, _ := f.Stat()
	size := st.Size()
	header, _, err := s.readHeader(io.NewSectionReader(f, 0, size))
	if err != nil {
		return err
	}
	block := s.block
	if s.perSlot > 0 {
		block = 1 + size/int64(p.jobs)/s.perSlot
	}
	pos, err := partBorders(f, size, int64(len(header)), block, s.sp)
	if err != nil {
		return err
	}
	p.src = &partSource{f: f, pos: pos, header: header}
	return nil
}

func (p *pipeFeed) openInput(s *pipeSpec) error {
	if f, ok := s.Input.(*os.File); ok && s.sp.simple() {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			if at, err := f.Seek(0, io.SeekCurrent); err == nil {
				return p.openFile(s, f, at, st.Size())
			}
		}
	}
	header, rest, err := s.readHeader(s.Input)
	if err != nil {
		return err
	}
	if f, ok := s.Input.(*os.File); ok {
		// A bigger pipe from whatever writes standard input: fewer,
		// larger reads, and fewer wake-ups on both sides.
		setPipeSize(f, s.block)
	}
	if f, ok := s.Input.(*os.File); ok && p.pump && s.block >= 4*pumpTail && s.sp.simple() && isPipe(f) {
		p.src = newPumpSource(f, s.sp, s.block, header, rest, p.jobs, p.quit)
		return nil
	}
	p.src = &streamCutter{r: s.Input, sp: s.sp, block: s.block, pool: newBufPool(max(p.jobs, 1)), header: header, carry: rest, warn: p.warn}
	return nil
}

// openFile serves standard input that is a regular file, at offset at:
// blocks are ranges of it, and it is left at its end as if read.
func (p *pipeFeed) openFile(s *pipeSpec, f *os.File, at, size int64) error {
	header, _, err := s.readHeader(io.NewSectionReader(f, at, max(size-at, 0)))
	if err != nil {
		return err
	}
	p.src = &fileCutter{f: f, size: size, pos: at + int64(len(header)), block: s.block, sp: s.sp, header: header, warn: p.warn}
	p.closers = append(p.closers, func() { f.Seek(size, io.SeekStart) })
	return nil
}

func (p *pipeFeed) close() {
	// The jobs are over by now; a stream whose job never started has
	// nobody reading it, so its pipe is closed under its writer.
	for _, s := range p.streams {
		s.end()
		s.jobDone()
		s.wait()
	}
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	if p.pending != nil {
		p.pending.release()
	}
}

// next reads the next block and returns the arguments of its job.
func (p *pipeFeed) next() ([]string, error) {
	for {
		in, err := p.src.next(p.ctx)
		if err == io.EOF {
			for _, s := range p.streams {
				s.end()
			}
		}
		if err != nil {
			return nil, err
		}
		if p.spec.RoundRobin && p.spec.Part == "" && len(p.streams) == p.jobs {
			// Every slot has its job: deal the block to the next in turn.
			s := p.streams[p.dealt%len(p.streams)]
			p.dealt++
			s.send(in, p.quit)
			continue
		}
		p.seq++
		p.pending, p.path = in, ""
		switch {
		case p.spec.RoundRobin && p.spec.Part == "":
			s := newRRStream(len(p.streams) + 1)
			p.streams = append(p.streams, s)
			p.dealt++
			s.send(in, p.quit)
			p.pending = nil
			p.path = ""
			return nil, nil
		case p.spec.Cat || p.spec.Fifo:
			p.path = filepath.Join(p.dir, strconv.FormatInt(p.seq, 10))
			return []string{p.path}, nil
		}
		return nil, nil
	}
}

// take returns the job input that goes with the arguments next returned.
func (p *pipeFeed) take() *pipeJob {
	j := &pipeJob{in: p.pending, path: p.path}
	if j.in != nil {
		j.bytes = j.in.size()
	}
	if p.spec.RoundRobin && p.spec.Part == "" {
		j.stream = p.streams[len(p.streams)-1]
	}
	p.pending = nil
	return j
}

// attach gives job its input for one attempt; stop, called once the
// attempt is over, reports a --fifo the job never opened.
func (r *run) attach(job *Job, pj *pipeJob, attempt int) (stop func() error, err error) {
	nothing := func() error { return nil }
	in := pj.in
	keep := r.cfg.Retries > 1
	switch {
	case pj.stream != nil:
		if attempt > 1 {
			return nothing, nil // the stream was the first attempt's
		}
		job.StdinFile = pj.stream.r
		return func() error { pj.stream.jobDone(); return nil }, nil
	case r.pipe.Cat:
		if attempt == 1 {
			if err := writeCatFile(pj.path, in); err != nil {
				return nil, err
			}
			in.release()
		}
		return nothing, nil
	case r.pipe.Fifo:
		if attempt == 1 {
			if err := mkfifo(pj.path); err != nil {
				return nil, fmt.Errorf("runner: --fifo: %w", err)
			}
		}
		done := make(chan struct{})
		werr := make(chan error, 1)
		var mu sync.Mutex
		var opened *os.File
		go func() {
			werr <- fifoWrite(pj.path, in, keep, done, func(f *os.File) { mu.Lock(); opened = f; mu.Unlock() })
		}()
		return func() error {
			close(done)
			mu.Lock()
			if opened != nil {
				opened.Close() // a job gone without reading it all
			}
			mu.Unlock()
			err := <-werr
			if errors.Is(err, ErrFifoUnopened) {
				return fmt.Errorf("%w: job %d ended without opening %s; its block of %d bytes was not passed on", ErrFifoUnopened, job.Seq, pj.path, in.size())
			}
			return nil
		}, nil
	case !takesStdinFile(r.exec):
		b, err := in.bytes()
		if err != nil {
			return nil, err
		}
		job.Stdin = b
		return nothing, nil
	}
	if in.live != nil {
		return pumpInto(job, in)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("runner: --pipe: %w", err)
	}
	setPipeSize(pw, in.size())
	job.StdinFile = pr
	done := make(chan struct{})
	go func() {
		defer close(done)
		writeIn(pw, in, keep)
		pw.Close()
	}()
	return func() error {
		pr.Close()
		pw.Close() // the job is gone: stop writing what nobody reads
		<-done
		return nil
	}, nil
}

// slot is the job slot the job wants: a --round-robin job the number of
// its stream, so the slots are 1..-j whatever order the jobs start in.
func (pj *pipeJob) slot() int {
	if pj == nil || pj.stream == nil {
		return 0
	}
	return pj.stream.n
}

// size is the number of bytes the job is given, for the joblog's Send.
func (pj *pipeJob) size() int64 {
	if pj.in != nil && pj.in.live != nil {
		return pj.in.size()
	}
	return pj.bytes
}

// pumpInto gives job a blocking pipe that a goroutine pumps the live
// block into (see liveBlock.pump). Once the job is over the pipe has no
// reader left, so the pump ends with EPIPE if it had not ended; the write
// end is only closed by the pump itself, which may be in a system call
// on it.
func pumpInto(job *Job, in *pipeIn) (func() error, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("runner: --pipe: %w", err)
	}
	pr := os.NewFile(uintptr(fds[0]), "|0")
	unix.FcntlInt(uintptr(fds[1]), unix.F_SETPIPE_SZ, maxPipeSize)
	job.StdinFile = pr
	done := make(chan struct{})
	go func() {
		defer close(done)
		in.live.pump(fds[1])
		unix.Close(fds[1])
		in.release()
	}()
	return func() error {
		pr.Close()
		<-done
		return nil
	}, nil
}

// finish is called once a job is over for good, or will never start.
func (pj *pipeJob) finish() {
	if pj == nil {
		return
	}
	if pj.in != nil {
		pj.in.release()
	}
	if pj.path != "" {
		os.Remove(pj.path)
	}
}

// writeIn writes a job's header and block to w and returns the first
// error; a job that stops reading early (head -1) is not an error. Unless
// keep, the block's buffer is released as soon as it is in the pipe.
func writeIn(w *os.File, in *pipeIn, keep bool) error {
	_, err := w.Write(in.header)
	if err == nil {
		if in.file != nil {
			err = spliceRange(w, in.file, in.off, in.n)
		} else {
			_, err = w.Write(in.data)
		}
	}
	if !keep {
		in.release()
	}
	return err
}

func writeCatFile(path string, in *pipeIn) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("runner: --cat: %w", err)
	}
	_, err = f.Write(in.header)
	if err == nil {
		if in.file != nil {
			err = copyRange(f, in.file, in.off, in.n)
		} else {
			_, err = f.Write(in.data)
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("runner: --cat: %w", err)
	}
	return nil
}

// fifoWrite waits for a reader to open the named pipe at path, then
// writes the block into it. It gives up with ErrFifoUnopened once done is
// closed (the job ended) with no reader having come.
func fifoWrite(path string, in *pipeIn, keep bool, done <-chan struct{}, opened func(*os.File)) error {
	b := backoff.Backoff{Min: 500 * time.Microsecond, Max: 20 * time.Millisecond}
	for {
		f, err := openFifoWriter(path)
		if err == nil {
			opened(f)
			defer f.Close()
			return writeIn(f, in, keep)
		}
		if !errors.Is(err, errNoReader) {
			return err
		}
		select {
		case <-done:
			return ErrFifoUnopened
		case <-time.After(b.Next()):
		}
	}
}

// rrStream is the standard input of one --round-robin job: a pipe and the
// goroutine writing the blocks dealt to it, in turn with the other jobs.
type rrStream struct {
	n        int // its job's number and slot
	r, w     *os.File
	blocks   chan *pipeIn
	done     chan struct{} // the writer is gone
	endOnce  sync.Once
	deadOnce sync.Once
}

func newRRStream(n int) *rrStream {
	pr, pw, err := os.Pipe()
	s := &rrStream{n: n, r: pr, w: pw, blocks: make(chan *pipeIn), done: make(chan struct{})}
	if err != nil {
		// No pipe: the job gets no input, and its blocks are dropped.
		close(s.done)
		s.r, s.w = nil, nil
		return s
	}
	setPipeSize(pw, 1<<20)
	go func() {
		defer close(s.done)
		var failed bool
		for in := range s.blocks {
			if !failed && writeIn(pw, in, false) != nil {
				failed = true // the job is gone: drop what is dealt to it
			}
			in.release()
		}
		pw.Close()
	}()
	return s
}

// send deals a block to the stream's job.
func (s *rrStream) send(in *pipeIn, quit <-chan struct{}) {
	select {
	case <-s.done:
		in.release()
		return
	default:
	}
	select {
	case s.blocks <- in:
	case <-s.done:
		in.release()
	case <-quit:
		in.release()
	}
}

// end says no more blocks come: the job sees the end of its input.
func (s *rrStream) end() {
	s.endOnce.Do(func() {
		if s.w != nil {
			close(s.blocks)
		}
	})
}

func (s *rrStream) wait() { <-s.done }

// jobDone is called when the stream's job is over: what it did not read
// is dropped.
func (s *rrStream) jobDone() {
	s.deadOnce.Do(func() {
		if s.r != nil {
			s.r.Close()
			s.w.Close()
		}
	})
}
