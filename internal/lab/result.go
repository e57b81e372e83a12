package lab

import (
	"context"
	"io"
	"time"
)

// An Experiment reproduces one claim of the study notes on this machine.
type Experiment struct {
	// Name is the short name used on the command line (crew lab NAME).
	Name string
	// Claim is the study notes' claim, in one sentence.
	Claim string
	// Run performs the experiment and returns its figures and verdict.
	Run func(ctx context.Context, cfg Config) (*Result, error)
	// Params declares every parameter Run reads from Config.Params, so
	// that settings can be checked before anything runs ([CheckParams]).
	Params []Param
}

// Config holds the sizes and settings an experiment runs with. The zero
// value runs quick sizes with as many workers as the machine has CPUs.
type Config struct {
	// Full selects the notes' own sizes instead of quick ones.
	Full bool
	// Workers is the number of threads or processes for parallel modes;
	// 0 means runtime.NumCPU(), and at least 2.
	Workers int
	// Python is the path of a python3 interpreter; when set, experiments
	// that have a Python twin run it too and add its rows.
	Python string
	// Progress receives one-line progress messages; nil discards them.
	Progress io.Writer
	// Step, when set, is called by [Run] before each experiment starts
	// with its name, its index in the run (from 0) and the number of
	// experiments, and once after the last with index == total and an
	// empty name; crew lab draws its progress bar from it. It is called
	// from the goroutine that called Run.
	Step func(name string, index, total int)
	// Params overrides experiment-specific sizes by name (e.g. "n=1000000").
	Params map[string]string
}

// A Result is what one experiment measured and what it concluded.
type Result struct {
	Name  string `json:"name"`
	Claim string `json:"claim"`
	// Holds reports whether the figures reproduce the claim under the
	// conditions the notes describe; it is computed from the figures.
	Holds bool `json:"holds"`
	// Verdict says, in a sentence or two, what was seen and why.
	Verdict string `json:"verdict"`
	// Inconclusive reports that this machine or configuration cannot show
	// the claim either way (one CPU for a parallel speed-up, say): Holds
	// is then false because the claim was not reproduced, not because it
	// was refuted, and Verdict says what was missing.
	Inconclusive bool `json:"inconclusive,omitempty"`
	// Ceiling is what this machine's CPUs did in parallel during the
	// experiment, for those whose verdict judges a speed-up against it;
	// nil for the others. Its row is also in Rows.
	Ceiling *Ceiling `json:"ceiling,omitempty"`
	// Columns lists the row keys in display order.
	Columns []string `json:"columns"`
	Rows    []Row    `json:"rows"`
	// Notes are extra lines printed under the table (workload, caveats).
	Notes []string `json:"notes,omitempty"`
	// Params are the sizes the experiment ran with.
	Params map[string]any `json:"params,omitempty"`
	// Charts describe how report draws the rows.
	Charts []Chart `json:"charts,omitempty"`
	// Timelines record which worker ran what, when, per mode.
	Timelines []Timeline `json:"timelines,omitempty"`
	// Elapsed is the experiment's own wall time.
	Elapsed time.Duration `json:"elapsed_ns"`
}

// A Row is one line of figures, keyed by column name. Values are strings,
// integers, floats or booleans.
type Row map[string]any

// A Chart tells report how to plot a result's rows.
type Chart struct {
	Title string `json:"title"`
	// Kind is "bar" (one bar per row, labelled by X) or "line" (one line per
	// distinct Series value, X and Y numeric).
	Kind   string `json:"kind"`
	X      string `json:"x"`
	Y      string `json:"y"`
	Series string `json:"series,omitempty"`
	YLabel string `json:"ylabel,omitempty"`
	XLabel string `json:"xlabel,omitempty"`
	LogX   bool   `json:"logx,omitempty"`
	LogY   bool   `json:"logy,omitempty"`
}

// A Timeline shows, for one mode of an experiment, which worker ran which
// slice of work and when.
type Timeline struct {
	Mode  string `json:"mode"`
	Spans []Span `json:"spans"`
}

// A Span is one slice of work on one worker, in seconds since the mode began.
type Span struct {
	Worker int     `json:"worker"`
	Start  float64 `json:"start"`
	End    float64 `json:"end"`
}

// Machine describes where the experiments ran.
type Machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	Arch       string `json:"arch"`
	Python     string `json:"python,omitempty"`
}

// A Report is a whole lab run: the machine and every experiment's result.
type Report struct {
	Machine     Machine   `json:"machine"`
	Experiments []*Result `json:"experiments"`
}
