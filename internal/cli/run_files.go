package cli

// crew run's flags for routing jobs by worker tags, retrying with
// back-off, and carrying files to where jobs run (issue #14 §1-2):
// --require, --retry-delay, --transfer, --transferfile, --return,
// --cleanup, --basefile, --workdir and --trc.

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"crew/cluster"
	"crew/runner"
)

// filesFlags holds these flags as given; parseFiles completes
// filesOptions from them.
type filesFlags struct {
	transfer bool
	trc      []string
	require  []string
}

// filesOptions is what these flags ask of the run.
type filesOptions struct {
	retryDelay    time.Duration
	transferFiles []string
	returnFiles   []string
	baseFiles     []string
	cleanup       bool
	workDir       string
	// require are the tags a worker needs to run this run's jobs,
	// canonical (sorted, without repeats); nil for any worker.
	require []string
}

func (fl *filesFlags) define(f *pflag.FlagSet, o *filesOptions) {
	durationVarP(f, &o.retryDelay, "retry-delay", "", 0,
		"with --retries, wait this long before a failed job's second try, twice as long before each later one (with jitter, at most 5m)")
	f.BoolVar(&fl.transfer, "transfer", false, "with --server: send each job's input file ({}) to its worker (--transferfile {})")
	f.StringArrayVar(&o.transferFiles, "transferfile", nil,
		"with --server: send this file (a template, e.g. {}) to the worker before the job; in dir/./file only file is relative to the worker's work dir")
	f.StringArrayVar(&o.returnFiles, "return", nil,
		"with --server: bring this file (a template, e.g. {.}.out) back from the worker after the job, to the same path here")
	f.BoolVar(&o.cleanup, "cleanup", false, "with --server: remove the transferred and returned files on the worker after the job")
	f.StringArrayVar(&o.baseFiles, "basefile", nil, "with --server: send this file to every worker once, before its first job")
	f.StringVar(&o.workDir, "workdir", "",
		"run the jobs in this directory (a template; on workers relative to the worker's own; ... for a fresh one per job)")
	f.StringArrayVar(&fl.trc, "trc", nil, "--transfer --return FILE --cleanup in one")
}

// parse checks the flags and completes o; server says whether the jobs
// run on workers, which --require needs.
func (fl *filesFlags) parse(o *filesOptions, server bool) error {
	if o.retryDelay < 0 {
		return fmt.Errorf("--retry-delay must not be negative, got %v", o.retryDelay)
	}
	if fl.transfer || len(fl.trc) > 0 {
		o.transferFiles = append([]string{"{}"}, o.transferFiles...)
	}
	if len(fl.trc) > 0 {
		o.returnFiles = append(o.returnFiles, fl.trc...)
		o.cleanup = true
	}
	for _, n := range o.transferFiles {
		if n == "" {
			return fmt.Errorf("--transferfile wants a file name, not an empty one")
		}
	}
	for _, n := range o.returnFiles {
		if n == "" {
			return fmt.Errorf("--return wants a file name, not an empty one")
		}
	}
	for _, n := range o.baseFiles {
		if n == "" {
			return fmt.Errorf("--basefile wants a file name, not an empty one")
		}
	}
	if fl.require != nil {
		tags, err := cluster.ParseTags(fl.require)
		if err != nil {
			return fmt.Errorf("--require: %w", err)
		}
		if !server {
			return fmt.Errorf("--require needs --server: only crew workers have tags")
		}
		o.require = tags
	}
	return nil
}

// apply puts the options into the runner's Config.
func (o *filesOptions) apply(c *runner.Config) {
	c.RetryDelay = o.retryDelay
	c.TransferFiles = o.transferFiles
	c.ReturnFiles = o.returnFiles
	c.BaseFiles = o.baseFiles
	c.Cleanup = o.cleanup
	c.WorkDir = o.workDir
}
