package lab_test

import (
	"testing"
	"time"

	"crew/internal/lab"
)

// BenchmarkGILModes measures the gil experiment's workload per mode and
// reports each mode's speed-up over one thread measured in the same run
// (x_vs_1thread): Go threads should approach the core count, the emulated
// GIL stay near 1.
func BenchmarkGILModes(b *testing.B) {
	const n, rounds = 20_000_000, 4
	one := measure(func() { lab.SumThreads(n, 1, rounds, 0) })
	for _, m := range []struct {
		name     string
		workers  int
		interval time.Duration
	}{
		{"1thread", 1, 0},
		{"2threads", 2, 0},
		{"2threads+GIL", 2, 5 * time.Millisecond},
	} {
		b.Run(m.name, func(b *testing.B) {
			var d time.Duration
			for b.Loop() {
				d += measure(func() { lab.SumThreads(n, m.workers, rounds, m.interval) })
			}
			b.ReportMetric(float64(one)/(float64(d)/float64(b.N)), "x_vs_1thread")
		})
	}
}

func measure(f func()) time.Duration {
	t0 := time.Now()
	f()
	return time.Since(t0)
}
