package lab_test

import (
	"strings"
	"testing"

	"crew/lab"
)

// verdictCase is one set of recorded figures and the outcome they must give.
type verdictCase struct {
	name  string
	holds bool
	// want is a fragment the verdict must contain.
	want string
	run  func() (bool, string)
}

func checkVerdicts(t *testing.T, cases []verdictCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			holds, v := c.run()
			if holds != c.holds {
				t.Errorf("holds = %v, want %v (verdict %q)", holds, c.holds, v)
			}
			if !strings.Contains(v, c.want) {
				t.Errorf("verdict %q does not contain %q", v, c.want)
			}
		})
	}
}

func TestRaceVerdict(t *testing.T) {
	checkVerdicts(t, []verdictCase{
		{"lost", true, "lost updates in 2 of 3 trials", func() (bool, string) {
			return lab.RaceVerdict(lab.RaceFigures{Expected: 10_000_000, Lost: []int64{5_000_000, 0, 4_000_000}, PyPlain: -1, PyCall: -1})
		}},
		{"none lost", false, "lost no updates in 2 trials", func() (bool, string) {
			return lab.RaceVerdict(lab.RaceFigures{Expected: 10_000_000, Lost: []int64{0, 0}, PyPlain: -1, PyCall: -1})
		}},
		{"python", true, "plain g += 1 lost none", func() (bool, string) {
			return lab.RaceVerdict(lab.RaceFigures{Expected: 100, Lost: []int64{3}, PyPlain: 0, PyCall: 12})
		}},
		{"python call", true, "lost 12 again", func() (bool, string) {
			return lab.RaceVerdict(lab.RaceFigures{Expected: 100, Lost: []int64{3}, PyPlain: 0, PyCall: 12})
		}},
		{"no trials", false, "no trials", func() (bool, string) {
			return lab.RaceVerdict(lab.RaceFigures{Expected: 100, PyPlain: -1, PyCall: -1})
		}},
	})
}

func TestLockVerdict(t *testing.T) {
	kinds := []string{"mutex", "atomic"}
	checkVerdicts(t, []verdictCase{
		{"exact", true, "all 2 kinds reached exactly 100", func() (bool, string) {
			return lab.LockVerdict(lab.LockFigures{Kinds: kinds, Expected: 100, Actual: []int64{100, 100}, NsPerInc: []float64{20, 5}})
		}},
		{"one wrong", false, "mutex (99 of 100)", func() (bool, string) {
			return lab.LockVerdict(lab.LockFigures{Kinds: kinds, Expected: 100, Actual: []int64{99, 100}, NsPerInc: []float64{20, 5}})
		}},
	})
}
