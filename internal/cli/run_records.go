package cli

import (
	"errors"
	"strings"

	"github.com/spf13/pflag"

	"crew/runner"
)

// recordFlags are crew run's flags about what a run leaves behind: the
// joblog's append form, rerunning what it records as failed, the output
// files (--files) and the report page (--report). --joblog, --results
// and the progress flags themselves are defined with the other flags.
type recordFlags struct {
	// retryFailed reruns the failed jobs of the joblog.
	retryFailed bool
	// files writes each job's output to a file and prints its name.
	files bool
	// report is the path of the HTML page describing the run.
	report string
	// joblogAppend is --joblog +FILE.
	joblogAppend bool
	// bar is --bar, which draws a bar in the line-based progress too.
	bar bool
}

func (fl *recordFlags) define(f *pflag.FlagSet) {
	f.BoolVar(&fl.retryFailed, "retry-failed", false,
		"rerun the jobs the --joblog records as failed, with the command lines it records (the command and inputs given are ignored)")
	f.BoolVar(&fl.files, "files", false,
		"save each job's standard output in a file and print the file's name instead of the output (in $TMPDIR, or where --results says)")
	f.StringVar(&fl.report, "report", "",
		"write an HTML page (one file, viewable offline) with a timeline of the jobs per slot (per worker with --server), their run times and the totals")
}

// parse checks the record flags against the others in o; o.joblog loses
// its leading + here.
func (fl *recordFlags) parse(o *runOptions) error {
	if rest, ok := strings.CutPrefix(o.joblog, "+"); ok {
		if rest == "" {
			return errors.New("--joblog +FILE needs a file name after the +")
		}
		o.joblog, fl.joblogAppend = rest, true
	}
	if fl.retryFailed && o.joblog == "" {
		return errors.New("--retry-failed needs --joblog: it reruns the failed jobs the joblog records")
	}
	return nil
}

// apply sets the record fields of cfg.
func (fl *recordFlags) apply(cfg *runner.Config) {
	cfg.JobLogAppend = fl.joblogAppend
	cfg.RetryFailed = fl.retryFailed
	cfg.Files = fl.files
}
