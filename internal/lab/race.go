package lab

import (
	"context"
	"fmt"
)

var raceParams = []Param{{"goroutines", ParamInt}, {"n", ParamInt}, {"trials", ParamInt}, {"pyn", ParamInt}}

var raceExperiment = Experiment{
	Name:   "race",
	Claim:  "Many threads incrementing a shared counter without a lock lose updates (50 threads x 200,000 increments rarely reach 10,000,000).",
	Run:    runRace,
	Params: raceParams,
}

// raceFigures are what the race verdict is computed from.
type raceFigures struct {
	Expected int64
	// Lost holds Go's lost updates per trial.
	Lost []int64
	// PyPlain and PyCall are Python's lost updates for the plain g += 1 loop
	// and for the loop with a call inside the read-modify-write; -1 when
	// Python did not run.
	PyPlain, PyCall int64
}

func runRace(ctx context.Context, cfg Config) (*Result, error) {
	p := newParams("race", raceParams, cfg)
	goroutines := p.Int("goroutines", 50, 50)
	n := p.Int("n", 200_000, 200_000)
	trials := p.Int("trials", 5, 10)
	pyN := p.Int("pyn", 50_000, 200_000)
	if p.err != nil {
		return nil, p.err
	}
	res := &Result{
		Columns: []string{"mode", "trial", "threads", "increments", "expected", "actual", "lost", "lost_pct"},
		Params:  p.used,
	}
	if raceDetector {
		res.Verdict = "not run: this is a race-detector build (-race), which would stop at the first racy increment; build crew without -race to see lost updates"
		res.Notes = []string{"the racy loop is compiled only into builds without -race"}
		return res, nil
	}
	fig := raceFigures{Expected: int64(goroutines) * int64(n), PyPlain: -1, PyCall: -1}
	for trial := 1; trial <= trials; trial++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		got := racyCount(goroutines, n)
		lost := fig.Expected - got
		fig.Lost = append(fig.Lost, lost)
		res.Rows = append(res.Rows, raceRow("go x++", trial, goroutines, n, got))
	}
	if cfg.Python != "" {
		var out struct {
			Plain, Call []int64
		}
		if err := runPython(ctx, cfg, "race", &out, fmt.Sprint(goroutines), fmt.Sprint(pyN), "2"); err != nil {
			return nil, err
		}
		exp := int64(goroutines) * int64(pyN)
		fig.PyPlain, fig.PyCall = 0, 0
		for i, got := range out.Plain {
			res.Rows = append(res.Rows, raceRow("python g += 1", i+1, goroutines, pyN, got))
			fig.PyPlain += exp - got
		}
		for i, got := range out.Call {
			res.Rows = append(res.Rows, raceRow("python g = inc(g)", i+1, goroutines, pyN, got))
			fig.PyCall += exp - got
		}
	}
	res.Holds, res.Verdict = raceVerdict(fig)
	res.Inconclusive = raceInconclusive(fig)
	res.Notes = append(res.Notes,
		"go x++ is a plain load, add and store on a shared int64 by goroutines running on every core")
	if cfg.Python != "" {
		res.Notes = append(res.Notes,
			"python g = inc(g) reads the global, calls a function (a point where CPython may switch threads), then stores")
	}
	res.Charts = []Chart{{Title: "lost updates per trial", Kind: "bar", X: "mode", Y: "lost", YLabel: "lost updates"}}
	return res, nil
}

func raceRow(mode string, trial, threads, n int, got int64) Row {
	exp := int64(threads) * int64(n)
	return Row{
		"mode": mode, "trial": trial, "threads": threads, "increments": n,
		"expected": exp, "actual": got, "lost": exp - got,
		"lost_pct": 100 * float64(exp-got) / float64(exp),
	}
}

// raceInconclusive reports trials that ran and lost nothing: the race is
// in the code whatever the figures say, so no loss does not refute the
// claim; it means the goroutines never overlapped on two CPUs (a machine
// busy with other work runs them one after another).
func raceInconclusive(f raceFigures) bool {
	if len(f.Lost) == 0 {
		return false
	}
	for _, l := range f.Lost {
		if l > 0 {
			return false
		}
	}
	return true
}

// raceVerdict holds when Go lost updates in at least one trial.
func raceVerdict(f raceFigures) (bool, string) {
	var total int64
	hit := 0
	for _, l := range f.Lost {
		total += l
		if l > 0 {
			hit++
		}
	}
	if len(f.Lost) == 0 {
		return false, "no trials ran"
	}
	mean := float64(total) / float64(len(f.Lost))
	holds := hit > 0
	var v string
	if holds {
		v = fmt.Sprintf("Go's unsynchronised x++ lost updates in %d of %d trials, %.0f on average (%.1f%% of %d)",
			hit, len(f.Lost), mean, 100*mean/float64(f.Expected), f.Expected)
	} else {
		v = fmt.Sprintf("Go's unsynchronised x++ lost no updates in %d trials; the race is still there (go run -race reports it) but the goroutines never ran at the same moment on two CPUs (a busy machine?)", len(f.Lost))
	}
	if f.PyPlain >= 0 {
		if f.PyPlain == 0 {
			v += "; Python's plain g += 1 lost none, because CPython 3.10+ switches threads only at calls and backward jumps, never inside that statement"
		} else {
			v += fmt.Sprintf("; Python's plain g += 1 lost %d (an interpreter that switches inside the statement)", f.PyPlain)
		}
		if f.PyCall > 0 {
			v += fmt.Sprintf(", while a call inside the read-modify-write lost %d again", f.PyCall)
		} else {
			v += ", and even a call inside the read-modify-write lost none in this run"
		}
	}
	return holds, v
}
