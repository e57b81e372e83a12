package proc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"crew/proc/internal/wire"
)

// Environment variables that tell a re-executed program it is a worker.
const (
	envWorker = "CREW_PROC_WORKER"
	envInit   = "CREW_PROC_INIT"
)

const (
	stateOpen = iota
	stateClosing
	stateClosed
)

// A Pool is a set of worker processes that run registered functions. Create
// one with New; its zero value is not usable and it must not be copied.
// All methods are safe for concurrent use.
//
// A pool costs one process per worker plus two goroutines each, and one
// locked OS thread per CPU (at most one per worker) that starts them:
// children get a parent-death signal tied to the thread that forked them
// (go.dev/issue/27505), so those threads live as long as the pool. Start-up
// is bound by the children's own: fork, exec, the Go runtime's start and the
// program's package initialization, about a millisecond of CPU each for a
// small program. New starts workers on every spawner thread at once, so
// those starts overlap on a multi-core machine.
type Pool struct {
	cfg    config
	native bool // workers are this program: binary codec allowed
	argv   []string
	// initFrame is the initializer's call, sent to every worker first.
	initFrame []byte
	queue     chan *task
	nextID    atomic.Uint64

	subMu   sync.RWMutex // orders submissions against closing
	state   int
	pending sync.WaitGroup // submitted tasks not yet finished

	done     chan struct{} // closed when the pool stops: senders quit
	stopOnce sync.Once

	mu       sync.Mutex
	stopping bool
	live     map[*worker]struct{}
	failures []int // consecutive start failures per slot
	lost     int   // slots given up on
	broken   error

	wg      sync.WaitGroup // worker goroutines
	spawnc  chan spawnReq
	spawnWG sync.WaitGroup

	outMu sync.Mutex // serializes lines on cfg.stderr

	stopCtx      func() bool
	shutdownOnce sync.Once
	closeErr     error
}

// A task is one call frame on its way to a worker and back. A map's tasks
// come back on reply; a Future's task has fut set instead and no reply.
type task struct {
	id       uint64
	msg      []byte
	n, idx   int
	timeout  time.Duration // its limit in the worker, 0 for none
	reply    chan *task
	fut      *call
	finished atomic.Bool
	canceled atomic.Bool
	// written is set once a sender has written msg out. Its reply cannot
	// come before, but the race detector does not see through the pipe:
	// whoever reuses msg loads it first.
	written atomic.Bool
	w       atomic.Pointer[worker]
	rep     wire.Message
	frame   *frame // rep's memory, the reader's buffer
	err     error
}

// A frame is a buffer a reply is read into. Whoever decodes the reply hands
// it back (task.release), so that a stream of batches reuses a few buffers
// rather than allocating and clearing one per reply.
type frame struct{ b []byte }

var frames = sync.Pool{New: func() any { return new(frame) }}

// maxReuse is the largest buffer kept for reuse: one far above a batch's
// usual size is left to the collector.
const maxReuse = 1 << 20

// release hands t's reply buffer back once its results are decoded, which
// copies them out of it.
func (t *task) release() {
	if t.frame != nil && cap(t.frame.b) <= maxReuse {
		frames.Put(t.frame)
	}
	t.frame = nil
	t.rep = wire.Message{}
}

// New starts a pool of worker processes and returns once every worker has
// answered its first hello (or its initializer failed, which is an error).
// Unless WithCommand is given, workers re-execute this program, which must call
// Main first thing. Cancelling ctx terminates the pool as Terminate does.
func New(ctx context.Context, opts ...Option) (*Pool, error) {
	cfg := config{workers: runtime.NumCPU(), prefetch: 2, stderr: os.Stderr}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	p := &Pool{
		cfg:      cfg,
		native:   cfg.command == nil,
		argv:     cfg.command,
		done:     make(chan struct{}),
		live:     map[*worker]struct{}{},
		failures: make([]int, cfg.workers),
		spawnc:   make(chan spawnReq),
	}
	p.queue = make(chan *task, p.batchLimit())
	if cfg.init != "" {
		var err error
		p.initFrame, err = wire.AppendFrame(nil, &wire.Message{Kind: wire.KindCall, Codec: wire.CodecJSON, Name: cfg.init, Payload: cfg.initArg})
		if err != nil {
			return nil, fmt.Errorf("proc: initializer: %w", err)
		}
	}
	if !p.native && cfg.init != "" {
		return nil, errors.New("proc: an initializer runs in Go workers only, not with WithCommand")
	}
	if p.native {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("proc: find own executable: %w", err)
		}
		p.argv = []string{exe}
	} else if _, err := exec.LookPath(p.argv[0]); err != nil {
		return nil, fmt.Errorf("proc: %w", err)
	}
	k := spawners(cfg.workers)
	first := make(chan spawnResult, cfg.workers)
	for i := range k {
		var slots []int
		for slot := i; slot < cfg.workers; slot += k {
			slots = append(slots, slot)
		}
		p.spawnWG.Add(1)
		go p.spawner(slots, first)
	}
	// Collect every start before giving up, so that no spawner is left
	// starting a worker that shutdown would miss.
	ws := make([]*worker, 0, cfg.workers)
	var err error
	for range cfg.workers {
		r := <-first
		if r.err != nil {
			err = cmp.Or(err, r.err)
			continue
		}
		ws = append(ws, r.w)
	}
	for _, w := range ws {
		if err != nil {
			break
		}
		select {
		case <-w.ready:
		case <-w.exited:
			err = w.crash
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		p.shutdown(true)
		return nil, fmt.Errorf("proc: start workers: %w", err)
	}
	p.stopCtx = context.AfterFunc(ctx, func() { p.Terminate() })
	return p, nil
}

// batchLimit bounds the batches one Map keeps in flight, and the queue.
func (p *Pool) batchLimit() int {
	return max(4, 2*p.cfg.workers*(p.cfg.prefetch+1))
}

// PIDs returns the process ids of the pool's current workers, sorted.
func (p *Pool) PIDs() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	pids := make([]int, 0, len(p.live))
	for w := range p.live {
		pids = append(pids, w.pid)
	}
	slices.Sort(pids)
	return pids
}

// Close stops accepting calls, waits for every submitted task to finish,
// lets the workers exit and waits for them: afterwards no child process of
// the pool remains. It returns the error that broke the pool, if one did.
// Calling Close or Terminate again waits for the first and returns nil.
func (p *Pool) Close() error {
	p.subMu.Lock()
	if p.state == stateOpen {
		p.state = stateClosing
	}
	p.subMu.Unlock()
	p.pending.Wait()
	return p.shutdown(false)
}

// Terminate kills every worker's process group now; tasks still queued or
// running return ErrClosed. It waits for the workers to be reaped, so no
// child process of the pool remains when it returns.
func (p *Pool) Terminate() error {
	return p.shutdown(true)
}

func (p *Pool) shutdown(kill bool) error {
	first := false
	p.shutdownOnce.Do(func() {
		first = true
		p.subMu.Lock()
		p.state = stateClosed
		p.subMu.Unlock()
		p.stopOnce.Do(func() { close(p.done) })
		p.mu.Lock()
		p.stopping = true
		ws := make([]*worker, 0, len(p.live))
		for w := range p.live {
			ws = append(ws, w)
		}
		p.mu.Unlock()
		for _, w := range ws {
			if kill {
				w.kill()
			} else {
				w.closeInput()
			}
		}
		p.drain()
		p.wg.Wait()
		close(p.spawnc)
		p.spawnWG.Wait()
		if p.stopCtx != nil {
			p.stopCtx()
		}
		p.mu.Lock()
		p.closeErr = p.broken
		p.mu.Unlock()
	})
	if !first {
		return nil
	}
	return p.closeErr
}

// drain fails queued tasks until every submitted task has finished.
func (p *Pool) drain() {
	all := make(chan struct{})
	go func() {
		p.pending.Wait()
		close(all)
	}()
	for {
		select {
		case t := <-p.queue:
			p.finish(t, p.failErr())
		case <-all:
			return
		}
	}
}

func (p *Pool) failErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broken != nil {
		return p.broken
	}
	return ErrClosed
}

// submit queues t, blocking while the queue is full. An ended ctx is
// refused first: select would otherwise pick the queue or ctx at random.
func (p *Pool) submit(ctx context.Context, t *task) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.subMu.RLock()
	if p.state != stateOpen {
		p.subMu.RUnlock()
		return p.failErr()
	}
	p.pending.Add(1)
	p.subMu.RUnlock()
	select {
	case p.queue <- t:
		return nil
	case <-p.done:
		err := p.failErr()
		p.finish(t, err)
		return err
	case <-ctx.Done():
		p.finish(t, ctx.Err())
		return ctx.Err()
	}
}

// finish hands t back to its caller with err, once.
func (p *Pool) finish(t *task, err error) bool {
	return p.complete(t, err, wire.Message{}, nil)
}

// complete hands t back to its caller with its reply or error, unless it
// was handed back already (a cancelled call whose reply came anyway), and
// reports whether it did. The fields are written only by the one that wins.
func (p *Pool) complete(t *task, err error, rep wire.Message, fr *frame) bool {
	if !t.finished.CompareAndSwap(false, true) {
		return false
	}
	t.err, t.rep, t.frame = err, rep, fr
	if t.fut != nil {
		t.fut.fire()
	} else {
		t.reply <- t
	}
	p.pending.Done()
	return true
}

// cancel ends t with err now, unless it has finished, and stops its call:
// a call not yet sent to a worker never is; one its worker is running is
// killed with its worker if the pool kills on cancel; otherwise the worker
// is asked to cancel the function's context, or to skip the call if it has
// not reached it. It reports whether t was still unfinished.
func (p *Pool) cancel(t *task, err error) bool {
	// Stored before w is loaded, as push stores w before it loads
	// canceled: either the sender sees the cancel and drops the task, or
	// we see the worker it went to.
	t.canceled.Store(true)
	if !p.finish(t, err) {
		return false
	}
	w := t.w.Load()
	if w == nil {
		return true
	}
	if p.cfg.killCancel && w.killFor(t, err) {
		return true
	}
	w.sendCancel(t.id)
	return true
}

// requeue sends tasks that a dead worker held but never started to others.
func (p *Pool) requeue(ts []*task) {
	if len(ts) == 0 {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for _, t := range ts {
			t.w.Store(nil)
			select {
			case p.queue <- t:
			case <-p.done:
				p.finish(t, p.failErr())
			}
		}
	}()
}

// replace starts a new worker in slot unless the pool is stopping; a slot
// that keeps failing to start is given up, and a pool with no slot left is
// broken: its queued and future tasks fail with the last start error.
func (p *Pool) replace(slot int, startFailed bool, cause error) {
	p.mu.Lock()
	if startFailed {
		p.failures[slot]++
	} else {
		p.failures[slot] = 0
	}
	give := p.failures[slot] >= 3
	stopping := p.stopping
	p.mu.Unlock()
	if stopping {
		return
	}
	if !give {
		_, err := p.spawn(slot)
		if err == nil {
			return
		}
		cause = err
	}
	p.mu.Lock()
	p.lost++
	dead := p.lost >= p.cfg.workers
	if dead && p.broken == nil {
		p.broken = fmt.Errorf("proc: no worker can start: %w", cause)
	}
	p.mu.Unlock()
	if dead {
		p.subMu.Lock()
		p.state = stateClosed
		p.subMu.Unlock()
		p.stopOnce.Do(func() { close(p.done) })
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.drain()
		}()
	}
}

var errProtocol = errors.New("proc: protocol error")
