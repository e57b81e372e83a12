package proc

import (
	"errors"
	"fmt"
	"io"
	"time"

	"crew/proc/internal/wire"
)

// An Option configures a Pool in New.
type Option func(*config) error

type config struct {
	workers     int
	maxTasks    int
	init        string
	initArg     []byte // the initializer's argument, a JSON array of one
	timeout     time.Duration
	memLimit    int64
	stderr      io.Writer
	command     []string
	prefetch    int
	startupWait time.Duration
	killCancel  bool
}

// WithWorkers sets the number of worker processes; the default is the number
// of CPUs (runtime.NumCPU).
func WithWorkers(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return errors.New("proc: WithWorkers must be at least 1")
		}
		c.workers = n
		return nil
	}
}

// WithMaxTasksPerWorker retires a worker after it has run n tasks (a chunk of a
// Map counts as one task) and starts a fresh one, as Python's
// maxtasksperchild does. Zero, the default, keeps workers for the pool's life.
func WithMaxTasksPerWorker(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return errors.New("proc: WithMaxTasksPerWorker must not be negative")
		}
		c.maxTasks = n
		return nil
	}
}

// WithInitializer names a registered function that every worker calls once,
// with the zero value of its input, before serving tasks. If it fails or
// panics, the worker exits and New (or the replacement) reports the error.
// Workers started with WithCommand run no initializer: New refuses both.
func WithInitializer(name string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("proc: WithInitializer needs a function name")
		}
		c.init, c.initArg = name, []byte("[null]")
		return nil
	}
}

// WithInitializerArg makes f every worker's initializer, as WithInitializer
// does, and passes it arg: Python's Pool(initializer=f, initargs=(arg,)).
// The argument is encoded once, as JSON, and each worker (a replacement
// too) reads it from its call pipe before it says hello, so it may be
// large. f must be registered in this program.
func WithInitializerArg[In, Out any](f *Func[In, Out], arg In) Option {
	return func(c *config) error {
		if f == nil {
			return errors.New("proc: WithInitializerArg needs a function")
		}
		b, err := wire.JSON[In]().Append(nil, []In{arg})
		if err != nil {
			return fmt.Errorf("proc: %s: encode initializer argument: %w", f.name, err)
		}
		c.init, c.initArg = f.name, b
		return nil
	}
}

// WithKillOnCancel makes a cancelled call stop at once even if its function
// ignores its context: the worker running it is killed (its whole process
// group) and replaced, so the pool stays at strength, and the calls queued
// behind it on that worker go to another one. It applies to every way a
// call is cancelled: Future.Cancel, the context of Submit, Call or a map
// ending, and breaking out of MapUnordered or Stream. A cancelled call that
// has not started yet is dropped without a kill.
//
// Without it, cancelling sends the worker a cancel request that cancels
// the function's context, and the function returns when it notices; one
// that ignores its context keeps its worker busy until it returns.
// Killing costs a worker start (about a millisecond of CPU) per cancel.
func WithKillOnCancel() Option {
	return func(c *config) error {
		c.killCancel = true
		return nil
	}
}

// WithTimeout bounds each task's run time in the worker, counted from the
// moment the worker starts it. A task past it returns ErrTimeout and its
// worker's process group is killed and replaced. A task that answers at its
// deadline, as the kill is on its way, keeps its result; the task its
// worker had just started in the meantime is then run again, from the
// start, on another worker. Zero means no limit.
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return errors.New("proc: WithTimeout must not be negative")
		}
		c.timeout = d
		return nil
	}
}

// WithMemoryLimit caps each worker's data segment (RLIMIT_DATA: heap and other
// private writable memory) at bytes. A Go worker that needs more dies with
// "fatal error: out of memory", alone, like any other crash. Zero means no
// limit.
func WithMemoryLimit(bytes int64) Option {
	return func(c *config) error {
		if bytes < 0 {
			return errors.New("proc: WithMemoryLimit must not be negative")
		}
		c.memLimit = bytes
		return nil
	}
}

// WithStderr sets where the workers' standard output and error go, each line
// prefixed with "[worker N] ". The default is os.Stderr.
func WithStderr(w io.Writer) Option {
	return func(c *config) error {
		if w == nil {
			w = io.Discard
		}
		c.stderr = w
		return nil
	}
}

// WithCommand makes the pool run name with args as its workers instead of
// re-executing the current program. The program must speak the wire
// protocol described in the package documentation; the pool then encodes
// all payloads as JSON.
func WithCommand(name string, args ...string) Option {
	return func(c *config) error {
		if name == "" {
			return errors.New("proc: WithCommand needs a program name")
		}
		c.command = append([]string{name}, args...)
		return nil
	}
}

// WithPrefetch sets how many tasks each worker may hold queued behind the one it
// runs (default 2). Prefetching hides the round trip between parent and
// worker; 0 sends a task only when the previous one has returned. Tasks
// queued on a worker that crashes are sent to another worker.
func WithPrefetch(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return errors.New("proc: WithPrefetch must not be negative")
		}
		c.prefetch = n
		return nil
	}
}

// A CallOption tunes one call: Call, Submit, Map, MapUnordered or Stream.
type CallOption func(*callConfig)

type callConfig struct {
	chunk    int
	timeout  time.Duration
	timed    bool // timeout overrides the pool's
	progress func(done, total int)
	err      error
}

// WithChunk sends inputs to workers in batches of n, so that tiny tasks do not
// pay a round trip each. A crash fails the whole batch it was in. The
// default is 1; Call and Submit send one input whatever it is.
func WithChunk(n int) CallOption {
	return func(c *callConfig) {
		if n > 0 {
			c.chunk = n
		}
	}
}

// WithCallTimeout bounds this call's run time in its worker in place of the
// pool's WithTimeout, with the same effect when it passes: ErrTimeout, and
// the worker killed and replaced. For a map it bounds each batch. Zero runs
// the call with no limit even if the pool has one; a negative value is an
// error.
func WithCallTimeout(d time.Duration) CallOption {
	return func(c *callConfig) {
		if d < 0 {
			c.err = errors.New("proc: WithCallTimeout must not be negative")
			return
		}
		c.timeout, c.timed = d, true
	}
}

// WithProgress has a map call fn after each batch of results arrives, with
// the number of inputs finished so far (failed ones included) and the total:
// len(ins) for Map, -1 for MapUnordered and Stream, whose sequence's length
// is unknown. fn runs on the goroutine that called Map (or ranges over the
// sequence), never concurrently with itself, before that batch's results are
// yielded; it should be quick, as it holds the map up. It is what a progress
// bar is fed from. Call and Submit ignore it.
func WithProgress(fn func(done, total int)) CallOption {
	return func(c *callConfig) { c.progress = fn }
}

func callOptions(opts []CallOption) callConfig {
	c := callConfig{chunk: 1}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// timeoutFor is the time limit of a call made with c on p.
func (c *callConfig) timeoutFor(p *Pool) time.Duration {
	if c.timed {
		return c.timeout
	}
	return p.cfg.timeout
}
