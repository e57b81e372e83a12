package lab_test

import (
	"testing"

	"crew/internal/lab"
)

// fsFig builds falseshare figures for 2 threads from ns per add (one
// thread, padded, one cache line, shared atomic) and how many of 5 rounds
// had every thread running at once, per mode in the same order.
func fsFig(ns [4]float64, together [4]int) lab.FSFigures {
	f := lab.FSFigures{Threads: 2, Rounds: 5, NS: map[string]float64{}, Together: map[string]int{},
		Ceiling: lab.Ceiling{Threads: 2, One: 0.048, Many: 0.025, Speedup: 1.92, Samples: 5}}
	for i, m := range []string{lab.FSOne, lab.FSPadded, lab.FSPacked, lab.FSAtomic} {
		if together[i] > 0 {
			f.NS[m] = ns[i]
		}
		f.Together[m] = together[i]
	}
	return f
}

// The figures are from runs of crew lab falseshare on the 2-core VM.
func TestFalseShareVerdict(t *testing.T) {
	all := [4]int{5, 4, 5, 4}
	cases := []struct {
		name                string
		fig                 lab.FSFigures
		holds, inconclusive bool
		text                string
	}{
		{"recorded quiet", fsFig([4]float64{0.278, 0.273, 0.834, 7.658}, all), true, false, "3.1x as long with the counters on one cache line and 28.1x"},
		{"recorded quiet, ceiling", fsFig([4]float64{0.278, 0.273, 0.834, 7.658}, all), true, false, "padded counters reached 2.04x of a 1.92x ceiling (106%)"},
		{"recorded busy", fsFig([4]float64{0.281, 0.498, 0.772, 6.045}, all), true, false, "1.6x as long"},
		{"shared cache", fsFig([4]float64{0.28, 0.30, 0.33, 6.0}, all), false, false, "one cache line 1.10x"},
		{"atomic cheap", fsFig([4]float64{0.28, 0.30, 1.2, 0.35}, all), false, false, "one shared atomic 1.17x"},
		{"low ceiling decides nothing", func() lab.FSFigures {
			f := fsFig([4]float64{0.508, 0.298, 1.238, 5.949}, all)
			f.Ceiling = lab.Ceiling{Threads: 2, One: 0.048, Many: 0.047, Speedup: 1.01, Samples: 5}
			return f
		}(), true, false, "4.2x as long"},
		{"never together", fsFig([4]float64{0.28, 0.30, 1.2, 6}, [4]int{5, 3, 0, 4}), false, true, "in none of 5 rounds did the threads of own counters, one cache line all run at once"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			holds, inc, v := lab.FalseShareVerdict(c.fig)
			checkJudged(t, judged{c.name, c.holds, c.inconclusive, c.text}, holds, inc, v)
		})
	}
}
