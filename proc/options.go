package proc

import (
	"errors"
	"io"
	"time"
)

// An Option configures a Pool in New.
type Option func(*config) error

type config struct {
	workers     int
	maxTasks    int
	init        string
	timeout     time.Duration
	memLimit    int64
	stderr      io.Writer
	command     []string
	prefetch    int
	startupWait time.Duration
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
func WithInitializer(name string) Option {
	return func(c *config) error {
		c.init = name
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

// A MapOption tunes one Map or MapUnordered call.
type MapOption func(*mapConfig)

type mapConfig struct {
	chunk int
}

// WithChunk sends inputs to workers in batches of n, so that tiny tasks do not
// pay a round trip each. A crash fails the whole batch it was in. The
// default is 1.
func WithChunk(n int) MapOption {
	return func(c *mapConfig) {
		if n > 0 {
			c.chunk = n
		}
	}
}
