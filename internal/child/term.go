package child

import (
	"context"
	"syscall"
	"time"

	"crew/internal/backoff"
)

// A TermStep is one step of a termination sequence: send Signal to the
// process group, then give it up to Wait to go away before the next step.
type TermStep struct {
	Signal syscall.Signal
	Wait   time.Duration
}

// DefaultTermSeq returns GNU parallel's default --term-seq,
// TERM,200,TERM,100,TERM,50,KILL,25: three polite requests over 350 ms,
// then SIGKILL. Each call returns a new slice.
func DefaultTermSeq() []TermStep {
	return []TermStep{
		{syscall.SIGTERM, 200 * time.Millisecond},
		{syscall.SIGTERM, 100 * time.Millisecond},
		{syscall.SIGTERM, 50 * time.Millisecond},
		{syscall.SIGKILL, 25 * time.Millisecond},
	}
}

// terminate walks the termination sequence over the child's group until
// the group is empty, then kills whatever is left. It runs on a goroutine
// of its own, started when the context ends, while Wait reaps the child;
// Wait returns only after terminate does.
func (c *Child) terminate() {
	seq := c.seq
	if seq == nil {
		seq = DefaultTermSeq()
	}
	for _, step := range seq {
		if !c.send(step.Signal) {
			return
		}
		if c.waitGone(step.Wait) {
			return
		}
	}
	// Whatever survived the sequence is killed: the group must not
	// outlive a child that was stopped.
	c.send(syscall.SIGKILL)
}

// send signals the group as a step of the sequence and reports whether
// anyone was left to receive it.
func (c *Child) send(sig syscall.Signal) bool {
	if c.Signal(sig) != nil {
		return false
	}
	c.terminated.Store(true)
	return true
}

// waitGone waits up to d for the child's group to empty and reports
// whether it did. A group is empty once its last member has exited and the
// child, its leader, has been reaped; there is no event for that, so it is
// polled, first after a millisecond, at most every 20 ms (GNU parallel
// polls the same way).
func (c *Child) waitGone(d time.Duration) bool {
	deadline := time.Now().Add(d)
	b := backoff.Backoff{Min: time.Millisecond, Max: 20 * time.Millisecond}
	for {
		if c.Signal(0) != nil {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		if b.Peek() > left {
			time.Sleep(left)
			continue
		}
		_ = b.Sleep(context.Background())
	}
}
