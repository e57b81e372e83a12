package cli

// A run with --server lives in the broker (cluster.NewRun): its spec
// there is what crew attach needs to replay it exactly as the submitter
// ran it, whatever machine attaches and whenever, within the broker's
// retention: crew run's flags and arguments as given, and the content of
// every input read from a file or standard input. Attach feeds them
// through crew run's own flag parsing and the runner again, against the
// run's results instead of new jobs, so -k, --tag, --tagstring, the
// joblog and the exit status come out as the attached run's did.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"crew/cluster"
	"crew/runner"
)

// maxKeptInput bounds the input a run keeps in the broker for attaching;
// a run whose files and standard input hold more runs all the same, but
// cannot be attached to (or survive its submitter) and shows no total.
const maxKeptInput = 64 << 20

// runSpec is a run's spec as kept in the broker.
type runSpec struct {
	// Flags are crew run's flags as given, but for --server and --detach.
	Flags []specFlag `json:"flags"`
	// Args are its arguments: the command and the input groups.
	Args []string `json:"args"`
	// Inputs hold, for each of the runner's inputs in order, the content
	// read from its file or standard input; nil for ::: values.
	Inputs [][]byte `json:"inputs"`
}

// specFlag is one flag as given: a repeated flag has several values.
type specFlag struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// notKept are the flags a spec leaves out: where the run lives, and
// whether its submitter stays.
var notKept = map[string]bool{"server": true, "detach": true}

// givenFlags lists the flags set on f, as runSpec keeps them.
func givenFlags(f *pflag.FlagSet) []specFlag {
	var out []specFlag
	f.Visit(func(fl *pflag.Flag) {
		if notKept[fl.Name] {
			return
		}
		vals := []string{fl.Value.String()}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			vals = sv.GetSlice()
		}
		out = append(out, specFlag{Name: fl.Name, Values: vals})
	})
	return out
}

// argv is the spec as crew run's arguments.
func (s *runSpec) argv() []string {
	var args []string
	for _, f := range s.Flags {
		for _, v := range f.Values {
			args = append(args, "--"+f.Name+"="+v)
		}
	}
	return append(append(args, "--"), s.Args...)
}

// keepInputs reads every input that comes from a reader into memory, up to
// maxKeptInput in all, and returns the inputs reading from there, with
// what was read. When the input is larger, kept is nil and the inputs
// read what was read, then the rest as it comes.
func keepInputs(ins []runner.Input) (out []runner.Input, kept [][]byte, err error) {
	out = make([]runner.Input, len(ins))
	kept = make([][]byte, len(ins))
	left := int64(maxKeptInput)
	for i, in := range ins {
		out[i] = in
		if in.Reader == nil {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(in.Reader, left+1))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", in.Name, err)
		}
		if int64(len(b)) > left {
			out[i].Reader = io.MultiReader(bytes.NewReader(b), in.Reader)
			for j := i + 1; j < len(ins); j++ {
				out[j] = ins[j]
			}
			return out, nil, nil
		}
		left -= int64(len(b))
		kept[i] = b
		out[i].Reader = bytes.NewReader(b)
	}
	return out, kept, nil
}

// keptInputs returns the runner's inputs of a replayed run: the values
// of ::: groups as parsed, the kept content for the others; files are not
// opened again (they may be gone, or on another machine).
func keptInputs(opts *runOptions, s *runSpec) ([]runner.Input, error) {
	ins := []runner.Input{{Name: "stdin"}}
	if len(opts.inputs) > 0 {
		ins = make([]runner.Input, len(opts.inputs))
		for i, in := range opts.inputs {
			ins[i] = runner.Input{Values: in.values, Name: in.file, Linked: in.linked}
			if in.file == "-" {
				ins[i].Name = "stdin"
			}
		}
	}
	if len(ins) != len(s.Inputs) {
		return nil, fmt.Errorf("the run's spec keeps %d inputs for %d", len(s.Inputs), len(ins))
	}
	for i, b := range s.Inputs {
		if b != nil {
			ins[i].Values, ins[i].Reader = nil, bytes.NewReader(b)
		}
	}
	return ins, nil
}

// planJobs expands every job of cfg without running any, for the broker's
// plan of the run (crew status shows it): the runner itself expands
// them, so the plan holds what the run runs.
func planJobs(ctx context.Context, cfg runner.Config, ins []runner.Input) ([]cluster.PlannedJob, error) {
	var p planner
	cfg.Inputs = ins
	cfg.Executor = &p
	cfg.Jobs = 1
	// Ungrouped output into nothing: no buffer per job.
	cfg.Stdout, cfg.Stderr, cfg.Output, cfg.KeepOrder = io.Discard, io.Discard, runner.Ungroup, false
	cfg.Log = func(string) {}
	cfg.JobLog, cfg.Resume, cfg.ResumeFailed, cfg.Results = "", false, false, ""
	cfg.Halt, cfg.Retries, cfg.TimeoutPercent = runner.Halt{}, 1, 0
	cfg.Progress, cfg.Drain, cfg.DryRun = nil, nil, false
	if _, err := runner.Run(ctx, cfg); err != nil {
		return nil, err
	}
	if p.jobs == nil {
		p.jobs = []cluster.PlannedJob{}
	}
	return p.jobs, nil
}

// planner is the executor of planJobs: it records each job and runs none.
type planner struct{ jobs []cluster.PlannedJob }

func (p *planner) Exec(_ context.Context, job *runner.Job, _, _ io.Writer) runner.Result {
	p.jobs = append(p.jobs, cluster.PlannedJob{Seq: job.Seq, Input: strings.Join(job.Args, " "), Command: job.Command})
	return runner.Result{Seq: job.Seq}
}

// encodeSpec and decodeSpec are the spec's JSON.
func encodeSpec(s *runSpec) ([]byte, error) { return json.Marshal(s) }

func decodeSpec(b []byte) (*runSpec, error) {
	var s runSpec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("unreadable run spec: %w", err)
	}
	return &s, nil
}

// replayRun parses a spec back into crew run's options, through crew
// run's own flags, as if the submitter's command line were given again.
func replayRun(ctx context.Context, s Streams, spec *runSpec) (*runOptions, error) {
	var got *runOptions
	cmd := newRunCmd(s, func(_ context.Context, o *runOptions) error {
		got = o
		return nil
	})
	cmd.SetArgs(spec.argv())
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.ExecuteContext(ctx); err != nil {
		return nil, fmt.Errorf("the run's spec no longer parses: %w", err)
	}
	if got == nil {
		return nil, errors.New("the run's spec no longer parses")
	}
	return got, nil
}
