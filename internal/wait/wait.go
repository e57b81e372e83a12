// Package wait lets a test wait for a condition that another goroutine or
// process makes true, with a deadline that turns a hang into a failure.
//
//	wait.For(t, "the worker to start", func() bool { return len(p.PIDs()) == 2 })
//
// The deadline asserts nothing about speed: it is generous, so that a slow
// or loaded machine still passes, and exists only so that a condition that
// never holds fails the test, naming what it waited for, instead of
// hanging until go test's own timeout kills the whole binary.
package wait

import (
	"testing"
	"time"

	"crew/internal/backoff"
)

// Timeout is how long For waits before failing the test.
const Timeout = 20 * time.Second

// Polling starts at minPoll, so a condition that holds almost at once
// costs little latency, and backs off to maxPoll, so that an expensive
// condition (one that scans /proc, say) does not eat a CPU while it waits.
const (
	minPoll = time.Millisecond
	maxPoll = 20 * time.Millisecond
)

// For calls cond until it returns true and fails the test with t.Fatalf,
// naming what ("timed out after 20s waiting for what"), if it has not
// after Timeout. It must be called from the test's goroutine, as Fatalf
// must.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	Within(t, Timeout, what, cond)
}

// Within is For with a deadline d of the caller's choosing.
func Within(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Until(d, cond) {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// Until calls cond until it returns true or d has passed, and reports
// whether it returned true. It is for a caller that has more to say on a
// timeout than For's message (a helper process's output, say), or for
// whom a timeout is not a failure.
func Until(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	poll := backoff.Backoff{Min: minPoll, Max: maxPoll}
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(poll.Next())
	}
	return true
}
