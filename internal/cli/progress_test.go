package cli

import (
	"strings"
	"testing"
	"time"

	"crew/runner"
)

// TestLineProgress: without a known number of jobs, a line at most every
// lineEvery and one at the end; with one, a line per tenth reached.
func TestLineProgress(t *testing.T) {
	cases := []struct {
		name  string
		total int64
		gaps  []time.Duration // between job ends
		lines int
	}{
		{"unknown, quick jobs", -1, []time.Duration{time.Second, time.Second, time.Second}, 1},
		{"unknown, slow jobs", -1, []time.Duration{lineEvery, lineEvery, time.Second}, 3},
		{"known, 3 jobs", 3, []time.Duration{0, 0, 0}, 3},
		{"known, 100 jobs", 100, make([]time.Duration, 100), 10},
		{"known, slow tenth", 100, []time.Duration{lineEvery, time.Second}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			p := newLineProgress(&b, false, false)
			clock := time.Unix(1000, 0)
			p.now = func() time.Time { return clock }
			p.start, p.last = clock, clock
			if c.total >= 0 {
				p.Total(c.total)
			}
			for i, gap := range c.gaps {
				clock = clock.Add(gap)
				j := &runner.Job{Seq: int64(i + 1)}
				p.Started(j)
				p.Finished(j, runner.Result{})
			}
			p.finish()
			if n := strings.Count(b.String(), "\n"); n != c.lines {
				t.Errorf("%d lines, want %d:\n%s", n, c.lines, b.String())
			}
		})
	}
}
