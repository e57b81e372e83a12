package lab_test

import (
	"math"
	"testing"

	"crew/internal/lab"
)

// switchFig builds switch figures from one-CPU round trips (coroutine,
// goroutine, thread, process, in ns) and the paired process/thread ratios.
func switchFig(co, gr, th, pr float64, paired ...float64) lab.SwitchFigures {
	var f lab.SwitchFigures
	for mode, ns := range map[string]float64{lab.SwitchCoroutine: co, lab.SwitchGoroutine: gr, lab.SwitchThread: th, lab.SwitchProcess: pr} {
		f.SetSwitch(lab.SwitchOneCPU, mode, ns, 1.2)
		f.SetSwitch(lab.SwitchTwoCPUs, mode, ns*3, 1.3)
	}
	f.Paired = paired
	return f
}

// repeat returns n copies of v followed by rest.
func repeat(v float64, n int, rest ...float64) []float64 {
	var s []float64
	for range n {
		s = append(s, v)
	}
	return append(s, rest...)
}

// The figures are from runs of crew lab switch on the 2-core VM: one CPU,
// 72 ns coroutines, 298 ns goroutines, 5.6 µs threads, 6.1 µs processes.
func TestSwitchVerdict(t *testing.T) {
	type want struct{ holds, inconclusive bool }
	cases := []struct {
		name string
		fig  lab.SwitchFigures
		want
		text string
	}{
		{"recorded, 14 of 15", switchFig(72, 298, 5661, 6113, repeat(1.08, 14, 0.97)...), want{true, false}, "more in 14 of 15 paired"},
		{"recorded, 12 of 15", switchFig(62, 272, 5600, 6136, repeat(1.1, 12, 0.9, 0.95, 0.99)...), want{true, false}, "1.10x threads"},
		{"only 4 of 5", switchFig(67, 296, 5647, 6101, 1.2, 1.1, 1.05, 1.3, 0.9), want{false, true}, "more in just 4 of 5"},
		{"split pairs", switchFig(67, 296, 5647, 5600, repeat(1.02, 8, repeat(0.98, 7)...)...), want{false, true}, "inconclusive between processes and threads"},
		{"processes cheaper", switchFig(67, 296, 6100, 5600, repeat(0.92, 13, 1.01, 1.02)...), want{false, false}, "processes cost less than threads (0.92x"},
		{"kernel switch cheap", switchFig(72, 1500, 5661, 6113, repeat(1.08, 15)...), want{false, false}, "only 3.8x a user-space one"},
		{"mode missing", switchFig(72, 298, 0, 6113, repeat(1.08, 15)...), want{false, true}, "not every mode ran"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			holds, inc, v := lab.SwitchVerdict(c.fig)
			checkJudged(t, judged{c.name, c.holds, c.inconclusive, c.text}, holds, inc, v)
		})
	}
}

func TestSignTest(t *testing.T) {
	for _, c := range []struct {
		k, n int
		p    float64
	}{{5, 5, 1.0 / 32}, {0, 5, 1}, {4, 5, 6.0 / 32}, {12, 15, 576.0 / 32768}, {1, 1, 0.5}} {
		if got := lab.SignTest(c.k, c.n); math.Abs(got-c.p) > 1e-12 {
			t.Errorf("SignTest(%d, %d) = %v, want %v", c.k, c.n, got, c.p)
		}
	}
}
