package wait_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"crew/internal/wait"
)

// fakeTB records what a test would report. Fatalf ends the calling
// goroutine, as testing.T's does; the other methods of testing.TB are
// not used by package wait and would panic.
type fakeTB struct {
	testing.TB
	fatal string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with a fake TB on a goroutine of its own, since Fatalf ends
// that goroutine, and returns what the fake recorded.
func run(fn func(t testing.TB)) (fatal string, returned bool) {
	f := &fakeTB{}
	done := make(chan bool)
	go func() {
		ok := false
		defer func() { done <- ok }()
		fn(f)
		ok = true
	}()
	returned = <-done
	return f.fatal, returned
}

func TestWithinFailsOnTimeout(t *testing.T) {
	const d = 100 * time.Millisecond
	calls := 0
	start := time.Now()
	fatal, returned := run(func(tb testing.TB) {
		wait.Within(tb, d, "the impossible", func() bool { calls++; return false })
	})
	elapsed := time.Since(start)
	if returned {
		t.Fatal("Within returned although its condition never held")
	}
	if want := "timed out after 100ms waiting for the impossible"; fatal != want {
		t.Errorf("Fatalf(%q), want %q", fatal, want)
	}
	if elapsed < d {
		t.Errorf("failed after %v, before its deadline %v", elapsed, d)
	}
	// The back-off is capped, so the condition was polled a few times,
	// not once at the start and once at the deadline.
	if calls < 5 {
		t.Errorf("condition polled %d times in %v", calls, d)
	}
}

func TestForReturnsOnceConditionHolds(t *testing.T) {
	calls := 0
	fatal, returned := run(func(tb testing.TB) {
		wait.For(tb, "the third call", func() bool { calls++; return calls == 3 })
	})
	if !returned || fatal != "" {
		t.Fatalf("For failed (%q) on a condition that held", fatal)
	}
	if calls != 3 {
		t.Errorf("condition called %d times, want 3: For must stop once it holds", calls)
	}
}

func TestUntil(t *testing.T) {
	if wait.Until(50*time.Millisecond, func() bool { return false }) {
		t.Error("Until reported true for a condition that never held")
	}
	n := 0
	if !wait.Until(time.Minute, func() bool { n++; return n == 3 }) {
		t.Error("Until reported false for a condition that came to hold")
	}
	if n != 3 {
		t.Errorf("cond called %d times after it held on the 3rd call", n)
	}
}
