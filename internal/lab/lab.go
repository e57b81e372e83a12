package lab

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// ErrUnknown is returned (inside an *UnknownError) for an experiment name
// that does not exist.
var ErrUnknown = errors.New("lab: unknown experiment")

// UnknownError reports an experiment name that does not exist, with the
// names that do.
type UnknownError struct {
	Name  string
	Known []string
}

// Error lists the known names so that the user can correct a typo.
func (e *UnknownError) Error() string {
	return fmt.Sprintf("lab: unknown experiment %q (known: %s)", e.Name, strings.Join(e.Known, ", "))
}

// Unwrap returns ErrUnknown.
func (e *UnknownError) Unwrap() error { return ErrUnknown }

// Experiments returns every experiment in the order crew lab runs them. The
// slice is new on each call; callers may reorder it.
func Experiments() []Experiment {
	return []Experiment{
		raceExperiment,
		lockExperiment,
		queueExperiment,
		shareExperiment,
		semaphoreExperiment,
		gilExperiment,
		cpuIOExperiment,
		ipcExperiment,
		spawnExperiment,
		crashExperiment,
		switchExperiment,
		joinExperiment,
		falseShareExperiment,
		memoryExperiment,
		serverExperiment,
	}
}

// Names returns the names of every experiment, in run order.
func Names() []string {
	var names []string
	for _, e := range Experiments() {
		names = append(names, e.Name)
	}
	return names
}

// Lookup returns the experiment called name, or an *UnknownError.
func Lookup(name string) (Experiment, error) {
	for _, e := range Experiments() {
		if e.Name == name {
			return e, nil
		}
	}
	return Experiment{}, &UnknownError{Name: name, Known: Names()}
}

// FindPython returns the path of a python3 interpreter on PATH, or "" when
// there is none.
func FindPython() string {
	p, err := exec.LookPath("python3")
	if err != nil {
		return ""
	}
	return p
}

// NewMachine describes this machine; python, when not empty, is asked for
// its version.
func NewMachine(ctx context.Context, python string) Machine {
	m := Machine{
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
	}
	if python != "" {
		out, err := exec.CommandContext(ctx, python, "--version").CombinedOutput()
		if err == nil {
			m.Python = strings.TrimSpace(string(out))
		}
	}
	return m
}

// Run runs the named experiments (all of them when names is empty) one
// after another and returns the report; a name given twice runs once. An
// unknown name, or a setting in cfg.Params that [CheckParams] refuses,
// fails before anything runs. When ctx is cancelled or an experiment fails, Run stops and
// returns the results gathered so far with the error; the experiments leave
// no goroutines or processes behind.
func Run(ctx context.Context, cfg Config, names ...string) (*Report, error) {
	exps, err := selectExperiments(names)
	if err != nil {
		return nil, err
	}
	if err := CheckParams(cfg.Params, names...); err != nil {
		return nil, err
	}
	rep := &Report{Machine: NewMachine(ctx, cfg.Python)}
	for i, e := range exps {
		if cfg.Step != nil {
			cfg.Step(e.Name, i, len(exps))
		}
		res, err := RunOne(ctx, e, cfg)
		if err != nil {
			return rep, err
		}
		rep.Experiments = append(rep.Experiments, res)
	}
	if cfg.Step != nil {
		cfg.Step("", len(exps), len(exps))
	}
	return rep, nil
}

// selectExperiments looks names up in order, each once; no names means
// every experiment.
func selectExperiments(names []string) ([]Experiment, error) {
	if len(names) == 0 {
		return Experiments(), nil
	}
	var exps []Experiment
	seen := map[string]bool{}
	for _, n := range names {
		e, err := Lookup(n)
		if err != nil {
			return nil, err
		}
		if !seen[n] {
			seen[n] = true
			exps = append(exps, e)
		}
	}
	return exps, nil
}

// RunOne runs a single experiment, fills in its name, claim and elapsed
// time, and writes a start and a finish line to cfg.Progress.
func RunOne(ctx context.Context, e Experiment, cfg Config) (*Result, error) {
	progress(cfg, "lab: %s: running", e.Name)
	start := time.Now()
	res, err := e.Run(ctx, cfg)
	if err != nil {
		progress(cfg, "lab: %s: failed: %v", e.Name, err)
		return nil, fmt.Errorf("lab: %s: %w", e.Name, err)
	}
	res.Name, res.Claim = e.Name, e.Claim
	res.Elapsed = time.Since(start)
	progress(cfg, "lab: %s: done in %.1fs", e.Name, res.Elapsed.Seconds())
	return res, nil
}

func progress(cfg Config, format string, args ...any) {
	if cfg.Progress == nil {
		return
	}
	fmt.Fprintf(cfg.Progress, format+"\n", args...)
}

// workers is the number of threads or processes parallel modes use.
func (c Config) workers() int {
	n := c.Workers
	if n <= 0 {
		n = runtime.NumCPU()
	}
	return max(n, 2)
}
