package ipc

import (
	"errors"
	"fmt"
	"time"
)

// An Option changes where a lock or segment lives or how a lock waits.
// Options are checked when applied; a bad one makes the constructor fail.
type Option func(*options) error

type options struct {
	dir        string // "" means the default for the kind of object
	minBackoff time.Duration
	maxBackoff time.Duration
}

const (
	defaultMinBackoff = 50 * time.Microsecond
	defaultMaxBackoff = 10 * time.Millisecond
)

// WithDir places lock files (for Mutex and Semaphore) or segment files (for
// Segment) in directory path instead of the default. Every process that
// shares a lock or segment must use the same directory. A missing lock
// directory is created with permissions 0700.
func WithDir(path string) Option {
	return func(o *options) error {
		if path == "" {
			return errors.New("ipc: empty directory")
		}
		o.dir = path
		return nil
	}
}

// WithBackoff sets how often a waiting Lock retries: first after min, then
// doubling up to max. A smaller max hands a released lock over sooner at
// the cost of more wake-ups while waiting.
func WithBackoff(min, max time.Duration) Option {
	return func(o *options) error {
		if min <= 0 || max < min {
			return fmt.Errorf("ipc: bad backoff %v..%v", min, max)
		}
		o.minBackoff, o.maxBackoff = min, max
		return nil
	}
}

func applyOptions(opts []Option) (options, error) {
	o := options{minBackoff: defaultMinBackoff, maxBackoff: defaultMaxBackoff}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}
