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
// asks the worker to cancel the function's context. It costs one task
// allocation and a round trip through a pipe, a few microseconds.
func (f *Func[In, Out]) Call(ctx context.Context, p *Pool, in In) (Out, error) {
	var zero Out
	reply := make(chan *task, 1)
	t, err := f.newTask(p, []In{in}, reply, nil)
	if err != nil {
		return zero, err
	}
	if err := p.submit(ctx, t); err != nil {
		return zero, err
	}
	select {
	case <-reply:
	case <-ctx.Done():
		p.cancel(t, ctx.Err())
		return zero, ctx.Err()
	}
	outs, errs := f.result(t, 1, nil)
	t.release()
	if errs != nil && errs[0] != nil {
		return zero, errs[0]
	}
	return outs[0], nil
}

// Map runs f over ins in p's workers and returns the results in input
// order. On the first failed input it stops sending more, waits for those in
// flight and returns the results so far with an error naming the index;
// cancelling ctx returns ctx.Err() at once.
func (f *Func[In, Out]) Map(ctx context.Context, p *Pool, ins []In, opts ...MapOption) ([]Out, error) {
	outs := make([]Out, len(ins))
	var first error
	firstIdx := len(ins)
	stopped := false
	err := f.run(ctx, p, sliceBatches(ins, mapChunk(opts)), func(t *task) bool {
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

// A Result is one outcome of MapUnordered: the input's index in the
// sequence, and f's output or error.
type Result[Out any] struct {
	Index int
	Out   Out
	Err   error
}

// MapUnordered runs f over seq in p's workers and yields each result as it
// arrives, whatever its order. Per-input errors arrive as Results; a dead
// pool or a cancelled ctx ends the sequence with one Result whose Index is
// -1. Breaking out of the loop stops sending inputs and returns at once,
// without waiting for the batches in flight: their functions' contexts are
// cancelled in the workers, as for a Call whose ctx ends, and their results
// are dropped. Nothing of the caller's is touched after the loop ends, so
// there is nothing to wait for; a function that ignores its context keeps
// its worker busy until it returns, and Close waits for it.
func (f *Func[In, Out]) MapUnordered(ctx context.Context, p *Pool, seq iter.Seq[In], opts ...MapOption) iter.Seq[Result[Out]] {
	return func(yield func(Result[Out]) bool) {
		next, stop := iter.Pull(seq)
		defer stop()
		chunk := mapChunk(opts)
		batches := func(buf []In) []In {
			buf = buf[:0]
			for len(buf) < chunk {
				v, ok := next()
				if !ok {
					break
				}
				buf = append(buf, v)
			}
			return buf
		}
		stopped := false
		var outs []Out
		err := f.run(ctx, p, batches, func(t *task) bool {
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

func mapChunk(opts []MapOption) int {
	c := mapConfig{chunk: 1}
	for _, o := range opts {
		o(&c)
	}
	return c.chunk
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

// newTask encodes ins as a call frame, into buf's memory if it has any.
func (f *Func[In, Out]) newTask(p *Pool, ins []In, reply chan *task, buf []byte) (*task, error) {
	if p == nil {
		return nil, ErrClosed
	}
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
		return nil, err
	}
	buf, err = c.Append(buf, ins)
	if err != nil {
		return nil, fmt.Errorf("proc: %s: encode input: %w", f.name, err)
	}
	wire.FixLength(buf)
	return &task{id: id, msg: buf, n: len(ins), reply: reply}, nil
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
// batches outstanding and hands every finished task to done, which decodes
// it with result. It stops sending when *stopped is set, and returns early,
// cancelling what is in flight, when done returns false, ctx is done or p
// fails.
func (f *Func[In, Out]) run(ctx context.Context, p *Pool, next func([]In) []In,
	done func(t *task) bool, stopped *bool) error {
	if p == nil {
		return ErrClosed
	}
	limit := p.batchLimit()
	reply := make(chan *task, limit)
	inflight := make([]*task, 0, limit)
	abandon := func(err error) error {
		for _, t := range inflight {
			p.cancel(t, err)
		}
		return err
	}
	var (
		buf   []In
		idx   int
		eof   bool
		spare [][]byte // call frames of answered batches, for the next ones
	)
	for {
		for !eof && !*stopped && len(inflight) < limit {
			buf = next(buf)
			if len(buf) == 0 {
				eof = true
				break
			}
			var msg []byte
			if k := len(spare); k > 0 {
				msg, spare = spare[k-1], spare[:k-1]
			}
			t, err := f.newTask(p, buf, reply, msg)
			if err != nil {
				return abandon(err)
			}
			t.idx = idx
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
		ok := done(t)
		t.release()
		// A batch that was answered was sent whole, so no sender still
		// reads its call frame: a dead worker's sender lets go of the
		// frames it held before they are sent again (die takes wmu).
		if t.err == nil && cap(t.msg) <= maxReuse {
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
