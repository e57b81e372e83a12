package lab_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"crew/internal/lab"
)

func TestCeilingJudgement(t *testing.T) {
	for _, c := range []struct {
		name                  string
		ceiling, x            float64
		conclusive            bool
		parallel, serial      bool
		of                    string
		parallelMin, serialMx float64
	}{
		{"two cores, parallel", 1.9, 1.8, true, true, false, "1.80x of a 1.90x ceiling (95%)", 1.615, 1.2},
		{"two cores, serial", 1.9, 0.97, true, false, true, "0.97x of a 1.90x ceiling (51%)", 1.615, 1.2},
		{"two cores, in between", 1.9, 1.4, true, false, false, "1.40x of a 1.90x ceiling (74%)", 1.615, 1.2},
		{"slow cpu, parallel", 1.28, 1.25, true, true, false, "1.25x of a 1.28x ceiling (98%)", 1.088, 1.044},
		{"slow cpu, serial", 1.28, 1.0, true, false, true, "1.00x of a 1.28x ceiling (78%)", 1.088, 1.044},
		{"slow cpu, in between", 1.28, 1.06, true, false, false, "1.06x of a 1.28x ceiling (83%)", 1.088, 1.044},
		{"at the minimum", 1.2, 1.2, true, true, false, "1.20x of a 1.20x ceiling (100%)", 1.02, 1.01},
		// Below MinCeiling nothing is judged either way.
		{"too low", 1.1, 1.1, false, false, false, "1.10x of a 1.10x ceiling (100%)", 0.935, 0.9675},
		{"too low, serial figure", 1.1, 0.5, false, false, false, "0.50x of a 1.10x ceiling (45%)", 0.935, 0.9675},
	} {
		t.Run(c.name, func(t *testing.T) {
			ceil := lab.Ceiling{Threads: 2, One: c.ceiling, Many: 1, Speedup: c.ceiling, Samples: 3}
			if got := ceil.Conclusive(); got != c.conclusive {
				t.Errorf("Conclusive = %v, want %v", got, c.conclusive)
			}
			if got := ceil.Parallel(c.x); got != c.parallel {
				t.Errorf("Parallel(%v) = %v, want %v", c.x, got, c.parallel)
			}
			if got := ceil.Serial(c.x); got != c.serial {
				t.Errorf("Serial(%v) = %v, want %v", c.x, got, c.serial)
			}
			if got := ceil.Of(c.x); got != c.of {
				t.Errorf("Of(%v) = %q, want %q", c.x, got, c.of)
			}
			if got := ceil.ParallelMin(); math.Abs(got-c.parallelMin) > 1e-9 {
				t.Errorf("ParallelMin = %v, want %v", got, c.parallelMin)
			}
			if got := ceil.SerialMax(); math.Abs(got-c.serialMx) > 1e-9 {
				t.Errorf("SerialMax = %v, want %v", got, c.serialMx)
			}
			if ceil.SerialMax() >= ceil.ParallelMin() && c.conclusive {
				t.Errorf("thresholds overlap: serial <= %.3f, parallel >= %.3f", ceil.SerialMax(), ceil.ParallelMin())
			}
		})
	}
	var zero lab.Ceiling
	for x, want := range map[float64]string{1.199: "only 1.199x (under 1.20x)", 1.1: "only 1.10x (under 1.20x)"} {
		if got := (lab.Ceiling{Threads: 2, One: x, Many: 1, Speedup: x, Samples: 3}).TooLow(); !strings.Contains(got, want) {
			t.Errorf("TooLow of %v = %q, want %q in it", x, got, want)
		}
	}
	c := lab.Ceiling{Threads: 2, One: 1.9, Many: 1, Speedup: 1.9, Samples: 1}
	if got := c.Midpoint(); math.Abs(got-1.45) > 1e-9 {
		t.Errorf("Midpoint of a 1.9x ceiling = %v, want 1.45", got)
	}
	for x, want := range map[float64]bool{1.9: false, 2.2: false, 2.3: true, 4: true} {
		if got := c.Beyond(x); got != want {
			t.Errorf("Beyond(%v) of a 1.9x ceiling = %v, want %v", x, got, want)
		}
	}
	if zero.Conclusive() || zero.Share(1) != 0 || zero.Parallel(2) || zero.Serial(1) || zero.Beyond(5) {
		t.Errorf("the zero Ceiling judges: %+v", zero)
	}
}

func TestCeilingMeter(t *testing.T) {
	c, err := lab.MeasureCeiling(context.Background(), 2, 5*time.Millisecond, 3)
	if err != nil {
		t.Fatal(err)
	}
	if c.Threads != 2 || c.Samples != 3 || c.One <= 0 || c.Many <= 0 || math.Abs(c.Speedup-c.One/c.Many) > 1e-9 {
		t.Fatalf("ceiling %+v", c)
	}
	// A loop split over two threads cannot take more than twice as long as
	// on one unless something else ran; a generous bound keeps this
	// check of the arithmetic from failing on a busy machine.
	if c.Speedup < 0.05 || c.Speedup > 5 {
		t.Errorf("speed-up %.2f on 2 threads is outside any plausible range", c.Speedup)
	}
	t.Log(c.Describe())

	m := lab.NewCeilingMeter(0, 0) // clamped to 1 thread and 1 ms
	if got := m.Ceiling(); got.Samples != 0 || got.Conclusive() || got.Threads != 1 {
		t.Errorf("before any sample: %+v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.Sample(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Sample on a cancelled context: %v", err)
	}
	if got := m.Ceiling(); got.Samples != 0 {
		t.Errorf("a cancelled sample counted: %+v", got)
	}
	if err := m.Sample(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := m.Ceiling(); got.Samples != 1 || got.Threads != 1 {
		t.Errorf("after one sample: %+v", got)
	}
}

// ExampleCeiling judges a recorded speed-up against a recorded ceiling:
// on a machine whose two CPUs together reach only 1.28x, 2 processes at
// 1.25x ran in parallel.
func ExampleCeiling() {
	c := lab.Ceiling{Threads: 2, One: 0.290, Many: 0.2266, Speedup: 1.28, Samples: 3}
	fmt.Println("processes:", c.Of(1.25), c.Parallel(1.25))
	fmt.Println("GIL:", c.Of(0.63), c.Serial(0.63))
	fmt.Println(c.Thresholds())
	// Output:
	// processes: 1.25x of a 1.28x ceiling (98%) true
	// GIL: 0.63x of a 1.28x ceiling (49%) true
	// parallel >= 85% of the ceiling (1.09x), serial <= 82% (1.04x)
}

// ExampleCeilingMeter interleaves ceiling samples with an experiment's
// rounds.
func ExampleCeilingMeter() {
	ctx := context.Background()
	m := lab.NewCeilingMeter(2, 2*time.Millisecond)
	for range 3 {
		if err := m.Sample(ctx); err != nil {
			fmt.Println(err)
			return
		}
		// ... one round of the experiment's modes ...
	}
	c := m.Ceiling()
	fmt.Println(c.Threads, c.Samples)
	// Output: 2 3
}
