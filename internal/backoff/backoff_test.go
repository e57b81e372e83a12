package backoff_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"crew/internal/backoff"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const ms = time.Millisecond

func TestNext(t *testing.T) {
	for _, c := range []struct {
		name string
		b    backoff.Backoff
		want []time.Duration
	}{
		{"doubles to the cap", backoff.Backoff{Min: 1 * ms, Max: 8 * ms}, []time.Duration{1 * ms, 2 * ms, 4 * ms, 8 * ms, 8 * ms}},
		{"cap not a power of two", backoff.Backoff{Min: 100 * ms, Max: 250 * ms}, []time.Duration{100 * ms, 200 * ms, 250 * ms, 250 * ms}},
		{"max below min means min", backoff.Backoff{Min: 5 * ms, Max: 1 * ms}, []time.Duration{5 * ms, 5 * ms, 5 * ms}},
		{"no max means min", backoff.Backoff{Min: 3 * ms}, []time.Duration{3 * ms, 3 * ms}},
		{"zero", backoff.Backoff{}, []time.Duration{0, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := c.b
			var got []time.Duration
			for range c.want {
				if p := b.Peek(); p != c.want[len(got)] {
					t.Errorf("Peek before call %d = %v, want %v", len(got)+1, p, c.want[len(got)])
				}
				got = append(got, b.Next())
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("Next gave %v, want %v", got, c.want)
			}
			b.Reset()
			if d := b.Next(); d != c.want[0] {
				t.Errorf("Next after Reset = %v, want %v", d, c.want[0])
			}
		})
	}
}

// TestJitter checks that jittered delays stay in [d/2, 3d/2) around the
// nominal delay and are not all the same.
func TestJitter(t *testing.T) {
	b := backoff.Backoff{Min: 1 * ms, Max: 1 * ms, Jitter: true}
	seen := map[time.Duration]bool{}
	for range 1000 {
		d := b.Next()
		if d < ms/2 || d >= 3*ms/2 {
			t.Fatalf("jittered delay %v outside [0.5ms, 1.5ms)", d)
		}
		seen[d] = true
	}
	if len(seen) < 100 {
		t.Errorf("1000 jittered delays took only %d values", len(seen))
	}
}

func TestSleep(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name     string
		ctx      context.Context
		min      time.Duration
		want     error
		atLeast  time.Duration
		lessThan time.Duration
	}{
		{"short, in nanosleep", context.Background(), 200 * time.Microsecond, nil, 200 * time.Microsecond, 50 * ms},
		{"long, on a timer", context.Background(), 20 * ms, nil, 20 * ms, time.Second},
		{"long, cancelled", canceled, time.Hour, context.Canceled, 0, time.Second},
		// A short sleep is not interrupted, but it does report the end.
		{"short, cancelled", canceled, 100 * time.Microsecond, context.Canceled, 100 * time.Microsecond, time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A sleep can only be too long on a machine busy elsewhere
			// (one took 58 ms at load 36), so the upper bound is given
			// three tries; the lower bound and the error count every time.
			var took []time.Duration
			for range 3 {
				b := backoff.Backoff{Min: c.min}
				start := time.Now()
				err := b.Sleep(c.ctx)
				d := time.Since(start)
				if !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
					t.Fatalf("Sleep = %v, want %v", err, c.want)
				}
				if d < c.atLeast {
					t.Fatalf("Sleep took %v, want at least %v", d, c.atLeast)
				}
				if took = append(took, d); d < c.lessThan {
					return
				}
			}
			t.Errorf("Sleep took %v, want under %v", took, c.lessThan)
		})
	}
}

// TestSleepNoticesCancel cancels a long sleep midway.
func TestSleepNoticesCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*ms, cancel)
	b := backoff.Backoff{Min: time.Hour}
	start := time.Now()
	if err := b.Sleep(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep = %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Sleep returned %v after the cancel", took)
	}
}
