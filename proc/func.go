package proc

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"runtime/debug"
	"slices"
	"sync"

	"crew/proc/internal/wire"
)

// A Func is a function registered by name, callable in a Pool's workers.
// It is safe for concurrent use; its zero value is not usable.
type Func[In, Out any] struct {
	name  string
	fn    func(context.Context, In) (Out, error)
	inJ   wire.Codec[In]
	outJ  wire.Codec[Out]
	inB   wire.Codec[In]
	outB  wire.Codec[Out]
	inOK  bool
	outOK bool
	// scratch holds *batch values: a worker's decoded inputs and their
	// outputs, reused from one call frame to the next.
	scratch sync.Pool
}

type batch[In, Out any] struct {
	ins  []In
	outs []Out
}

// handler is what a worker looks up by name.
type handler interface {
	serve(ctx context.Context, codec byte, payload, dst []byte) ([]byte, byte, []taskErr)
}

var (
	regMu    sync.RWMutex
	registry = map[string]handler{}
)

// Register makes fn callable in workers under name and returns the handle
// that calls it. Call it at package level (var f = proc.Register(...)) so the
// parent and every worker, which run the same program, register the same
// names. Registering a name twice is a programmer error and panics at
// program start, as a duplicate flag does.
//
// In and Out travel between processes: bools, numbers, strings and []byte
// use a compact binary encoding, anything else (structs, slices, maps)
// encoding/json, so their exported fields are what arrives.
func Register[In, Out any](name string, fn func(context.Context, In) (Out, error)) *Func[In, Out] {
	if fn == nil {
		panic("proc: Register " + name + " with a nil function")
	}
	f := Declare[In, Out](name)
	f.fn = fn
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("proc: function " + name + " registered twice")
	}
	registry[name] = f
	return f
}

// Declare returns a handle for a function that workers provide but this
// program does not: the functions of a polyglot worker started with WithCommand.
func Declare[In, Out any](name string) *Func[In, Out] {
	f := &Func[In, Out]{name: name, inJ: wire.JSON[In](), outJ: wire.JSON[Out]()}
	f.inB, f.inOK = wire.Binary[In]()
	f.outB, f.outOK = wire.Binary[Out]()
	return f
}

// Name returns the name f was registered under.
func (f *Func[In, Out]) Name() string { return f.name }

// Call runs f(in) in one of p's workers and returns its result. It blocks
// until the result arrives, the worker dies (*CrashError), the task times
// out (ErrTimeout) or ctx is done; then it returns ctx.Err() at once and
// cancels the call as Future.Cancel does. It is Submit and Wait on the
// same path, minus Submit's watch on ctx (Call watches it while it waits),
// and costs a few allocations (the call, its channel, its frame) and a
// round trip through a pipe.
func (f *Func[In, Out]) Call(ctx context.Context, p *Pool, in In, opts ...CallOption) (Out, error) {
	var zero Out
	fu, err := f.submit(ctx, p, in, opts)
	if err != nil {
		return zero, err
	}
	select {
	case <-fu.c.done:
	case <-ctx.Done():
		p.cancel(&fu.c.t, ctx.Err())
		return zero, ctx.Err()
	}
	return fu.result()
}

// Map runs f over ins in p's workers and returns the results in input
// order. On the first failed input it stops sending more, waits for those in
// flight and returns the results so far with an error naming the index;
// cancelling ctx returns ctx.Err() at once.
func (f *Func[In, Out]) Map(ctx context.Context, p *Pool, ins []In, opts ...CallOption) ([]Out, error) {
	cfg := callOptions(opts)
	if cfg.err != nil {
		return nil, cfg.err
	}
	outs := make([]Out, len(ins))
	var first error
	firstIdx := len(ins)
	stopped := false
	err := f.run(ctx, p, &cfg, len(ins), sliceBatches(ins, cfg.chunk), nil, func(t *task) bool {
		// The reply is decoded straight into its place in outs; the
		// capacity is capped so that a worker sending too many results
		// cannot overwrite the next batch's.
		_, errs := f.result(t, t.n, outs[t.idx:t.idx:t.idx+t.n])
		for i, err := range errs {
			if err == nil {
				continue
			}
			var zero Out
			outs[t.idx+i] = zero
			if t.idx+i < firstIdx {
				firstIdx, first = t.idx+i, err
			}
			stopped = true // keep draining in-flight batches, send no more
		}
		return true
	}, &stopped)
	if err != nil {
		return outs, err
	}
	if first != nil {
		return outs, fmt.Errorf("proc: %s input %d: %w", f.name, firstIdx, first)
	}
	return outs, nil
}

// A Result is one outcome of MapUnordered or Stream: the input's index in
// the sequence, and f's output or error.
type Result[Out any] struct {
	Index int
	Out   Out
	Err   error
}

// MapUnordered runs f over seq in p's workers and yields each result as it
// arrives, whatever its order: Python's Pool.imap_unordered. Per-input
// errors arrive as Results; a dead pool or a cancelled ctx ends the
// sequence with one Result whose Index is -1. Breaking out of the loop
// stops sending inputs and returns at once, without waiting for the
// batches in flight: they are cancelled as Future.Cancel does, and their
// results dropped. Nothing of the caller's is touched after the loop ends,
// so there is nothing to wait for; a function that ignores its context
// keeps its worker busy until it returns (unless the pool kills on
// cancel), and Close waits for it.
func (f *Func[In, Out]) MapUnordered(ctx context.Context, p *Pool, seq iter.Seq[In], opts ...CallOption) iter.Seq[Result[Out]] {
	return func(yield func(Result[Out]) bool) {
		cfg := callOptions(opts)
		if cfg.err != nil {
			yield(Result[Out]{Index: -1, Err: cfg.err})
			return
		}
		next, stop := seqBatches(seq, cfg.chunk)
		defer stop()
		stopped := false
		var outs []Out
		err := f.run(ctx, p, &cfg, -1, next, nil, func(t *task) bool {
			var errs []error
			outs, errs = f.result(t, t.n, outs[:0])
			for i, out := range outs {
				r := Result[Out]{Index: t.idx + i, Out: out}
				if errs != nil {
					r.Err = errs[i]
				}
				if !yield(r) {
					stopped = true
					return false
				}
			}
			return true
		}, &stopped)
		if err != nil && !stopped {
			yield(Result[Out]{Index: -1, Err: err})
		}
	}
}

// Stream runs f over seq in p's workers and yields the results in input
// order, as they become available: Python's Pool.imap, lazy like
// MapUnordered and ordered like Map. It takes inputs from seq only as
// results are yielded: inputs taken and results not yet yielded are at
// most the pool's in-flight limit of batches (2 × workers × (prefetch+1),
// at least 4) of WithChunk inputs each, whatever the length of seq, so a
// sequence of millions of inputs runs in constant memory. A slow input
// holds back the results after it, and, once the limit is reached, the
// inputs after those.
//
// Errors, cancellation, a dead pool and breaking out of the loop behave as
// in MapUnordered: Index is the input's place in seq, and a Result with
// Index -1 ends the sequence when the pool or ctx does.
func (f *Func[In, Out]) Stream(ctx context.Context, p *Pool, seq iter.Seq[In], opts ...CallOption) iter.Seq[Result[Out]] {
	return func(yield func(Result[Out]) bool) {
		cfg := callOptions(opts)
		if cfg.err != nil {
			yield(Result[Out]{Index: -1, Err: cfg.err})
			return
		}
		if p == nil {
			yield(Result[Out]{Index: -1, Err: ErrClosed})
			return
		}
		pull, stop := seqBatches(seq, cfg.chunk)
		defer stop()
		// Finished batches wait in a ring, by batch number, until those
		// before them are yielded; a batch holds its ring slot from when it
		// is sent to when it is yielded, so sent-yielded never passes the
		// ring's size.
		type slot struct {
			outs []Out
			errs []error
			idx  int
			full bool
		}
		ring := make([]slot, p.batchLimit())
		sent, yielded := 0, 0
		next := func(buf []In) []In {
			b := pull(buf)
			if len(b) > 0 {
				sent++
			}
			return b
		}
		hold := func() bool { return sent-yielded >= len(ring) }
		stopped := false
		err := f.run(ctx, p, &cfg, -1, next, hold, func(t *task) bool {
			s := &ring[(t.idx/cfg.chunk)%len(ring)]
			s.outs, s.errs = f.result(t, t.n, s.outs[:0])
			s.idx, s.full = t.idx, true
			for {
				s := &ring[yielded%len(ring)]
				if !s.full {
					return true
				}
				for i, out := range s.outs {
					r := Result[Out]{Index: s.idx + i, Out: out}
					if s.errs != nil {
						r.Err = s.errs[i]
					}
					if !yield(r) {
						stopped = true
						return false
					}
				}
				s.full = false
				clear(s.outs) // drop references the results held
				yielded++
			}
		}, &stopped)
		if err != nil && !stopped {
			yield(Result[Out]{Index: -1, Err: err})
		}
	}
}

// sliceBatches returns a batch source that walks ins chunk by chunk.
func sliceBatches[In any](ins []In, chunk int) func([]In) []In {
	return func([]In) []In {
		n := min(chunk, len(ins))
		b := ins[:n:n]
		ins = ins[n:]
		return b
	}
}

// seqBatches returns a batch source that takes seq chunk by chunk, and the
// function that stops seq. It pulls whole chunks, one switch between
// goroutines per chunk rather than per input: a chunk is encoded before
// the next is asked for, so one buffer serves them all.
func seqBatches[In any](seq iter.Seq[In], chunk int) (next func([]In) []In, stop func()) {
	chunks := func(yield func([]In) bool) {
		var buf []In
		for v := range seq {
			buf = append(buf, v)
			if len(buf) == chunk {
				if !yield(buf) {
					return
				}
				buf = buf[:0]
			}
		}
		if len(buf) > 0 {
			yield(buf)
		}
	}
	pull, stop := iter.Pull(chunks)
	return func([]In) []In {
		b, _ := pull()
		return b
	}, stop
}

// fill encodes ins as t's call frame, into buf's memory if it has any.
func (f *Func[In, Out]) fill(t *task, p *Pool, ins []In, buf []byte) error {
	c := f.inJ
	if p.native && f.inOK {
		c = f.inB
	}
	id := p.nextID.Add(1)
	hdr := wire.Message{Kind: wire.KindCall, ID: id, Codec: c.ID, Name: f.name}
	if buf == nil {
		buf = make([]byte, 0, 64+8*len(ins))
	}
	buf, err := wire.AppendFrame(buf[:0], &hdr)
	if err != nil {
		return err
	}
	buf, err = c.Append(buf, ins)
	if err != nil {
		return fmt.Errorf("proc: %s: encode input: %w", f.name, err)
	}
	wire.FixLength(buf)
	t.id, t.msg, t.n = id, buf, len(ins)
	return nil
}

// result decodes the outputs of a finished task. errs is nil when every
// input succeeded; otherwise it has one entry per input.
func (f *Func[In, Out]) result(t *task, n int, into []Out) ([]Out, []error) {
	fail := func(err error) ([]Out, []error) {
		errs := make([]error, n)
		for i := range errs {
			errs[i] = err
		}
		return append(into, make([]Out, n)...), errs
	}
	if t.err != nil {
		return fail(t.err)
	}
	var errs []error
	if len(t.rep.Err) > 0 {
		var tes []taskErr
		if err := json.Unmarshal(t.rep.Err, &tes); err != nil {
			return fail(fmt.Errorf("proc: %s: bad error list from worker: %w", f.name, err))
		}
		errs = make([]error, n)
		for _, te := range tes {
			switch {
			case te.I < 0:
				return fail(te.err())
			case te.I < n:
				errs[te.I] = te.err()
			}
		}
	}
	c := f.outJ
	if t.rep.Codec == wire.CodecBinary && f.outOK {
		c = f.outB
	}
	start := len(into)
	outs, err := c.Decode(t.rep.Payload, into)
	if err == nil && len(outs)-start != n {
		err = fmt.Errorf("%d results for %d inputs", len(outs)-start, n)
	}
	if err != nil {
		return fail(fmt.Errorf("proc: %s: decode results: %w", f.name, err))
	}
	return outs, errs
}

// serve runs one call frame's batch in a worker.
func (f *Func[In, Out]) serve(ctx context.Context, codec byte, payload, dst []byte) ([]byte, byte, []taskErr) {
	inC, outC := f.inJ, f.outJ
	if codec == wire.CodecBinary {
		if !f.inOK {
			return dst, wire.CodecJSON, []taskErr{{I: -1, Msg: "binary input for " + f.name}}
		}
		inC = f.inB
		if f.outOK {
			outC = f.outB
		}
	}
	b, _ := f.scratch.Get().(*batch[In, Out])
	if b == nil {
		b = new(batch[In, Out])
	}
	defer f.scratch.Put(b)
	ins, err := inC.Decode(payload, b.ins[:0])
	if err != nil {
		return dst, outC.ID, []taskErr{{I: -1, Msg: "proc: " + f.name + ": decode input: " + err.Error()}}
	}
	b.ins = ins
	// callFrom writes every element, so reused outputs need no clearing.
	outs := slices.Grow(b.outs[:0], len(ins))[:len(ins)]
	b.outs = outs
	var errs []taskErr
	for i := 0; i < len(ins); {
		i = f.callFrom(ctx, ins, outs, i, &errs)
	}
	dst, err = outC.Append(dst, outs)
	if err != nil {
		return dst, outC.ID, []taskErr{{I: -1, Msg: "proc: " + f.name + ": encode results: " + err.Error()}}
	}
	return dst, outC.ID, errs
}

// callFrom calls f on ins[i:], writing outs and appending the inputs'
// errors to errs, and returns the index it stopped at: len(ins), or the
// index after an input whose call panicked. The panic fails that input
// alone; the caller resumes after it. One deferred recover per batch
// rather than per input keeps a trivial function's call cheap.
func (f *Func[In, Out]) callFrom(ctx context.Context, ins []In, outs []Out, i int, errs *[]taskErr) (next int) {
	defer func() {
		if r := recover(); r != nil {
			var zero Out
			outs[i] = zero
			*errs = append(*errs, taskErr{I: i, Msg: fmt.Sprint(r), Panic: true, Stack: string(debug.Stack())})
			next = i + 1
		}
	}()
	for ; i < len(ins); i++ {
		out, err := f.fn(ctx, ins[i])
		outs[i] = out
		if err != nil {
			*errs = append(*errs, taskErr{I: i, Msg: err.Error()})
		}
	}
	return i
}

// run drives a batch source through p: it keeps up to p's in-flight limit of
// batches outstanding, fewer while hold says so, and hands every finished
// task to done, which decodes it with result, after reporting progress
// (out of total inputs) if cfg asks for it. It stops sending when *stopped
// is set, and returns early, cancelling what is in flight, when done
// returns false, ctx is done or p fails. hold must not hold back a batch
// while none is in flight.
func (f *Func[In, Out]) run(ctx context.Context, p *Pool, cfg *callConfig, total int,
	next func([]In) []In, hold func() bool, done func(t *task) bool, stopped *bool) error {
	if p == nil {
		return ErrClosed
	}
	limit := p.batchLimit()
	timeout := cfg.timeoutFor(p)
	reply := make(chan *task, limit)
	inflight := make([]*task, 0, limit)
	abandon := func(err error) error {
		for _, t := range inflight {
			p.cancel(t, err)
		}
		return err
	}
	var (
		buf      []In
		idx      int
		eof      bool
		finished int
		spare    [][]byte // call frames of answered batches, for the next ones
	)
	for {
		for !eof && !*stopped && len(inflight) < limit && (hold == nil || !hold()) {
			buf = next(buf)
			if len(buf) == 0 {
				eof = true
				break
			}
			var msg []byte
			if k := len(spare); k > 0 {
				msg, spare = spare[k-1], spare[:k-1]
			}
			t := &task{reply: reply, idx: idx, timeout: timeout}
			if err := f.fill(t, p, buf, msg); err != nil {
				return abandon(err)
			}
			idx += len(buf)
			if err := p.submit(ctx, t); err != nil {
				return abandon(err)
			}
			inflight = append(inflight, t)
		}
		if len(inflight) == 0 {
			return nil
		}
		var t *task
		select {
		case t = <-reply:
		case <-ctx.Done():
			return abandon(ctx.Err())
		}
		for i, u := range inflight {
			if u == t {
				inflight[i] = inflight[len(inflight)-1]
				inflight = inflight[:len(inflight)-1]
				break
			}
		}
		if cfg.progress != nil {
			finished += t.n
			cfg.progress(finished, total)
		}
		ok := done(t)
		t.release()
		// A batch that was answered was sent whole, so no sender still
		// reads its call frame: a dead worker's sender lets go of the
		// frames it held before they are sent again (die takes wmu).
		if t.err == nil && t.written.Load() && cap(t.msg) <= maxReuse {
			spare = append(spare, t.msg)
		}
		t.msg = nil
		if !ok {
			*stopped = true
			abandon(context.Canceled)
			return nil
		}
	}
}
