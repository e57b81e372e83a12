package cli

// crew run's flags for routing jobs by worker tags, retrying with
// back-off, and carrying files to where jobs run (issue #14 §1-2):
// --require, --retry-delay, --transfer, --transferfile, --return,
// --cleanup, --basefile, --workdir and --trc.

import (
	"fmt"
	"io"
	"slices"
	"strings"
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
	f.StringArrayVar(&fl.require, "require", nil,
		"run the jobs only on workers that have all these tags (crew worker --tag, or @tag/ in -S hosts), e.g. gpu,bigmem")
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
	// GNU parallel's short spellings.
	f.StringArrayVar(&o.transferFiles, "tf", nil, "same as --transferfile")
	f.StringArrayVar(&o.baseFiles, "bf", nil, "same as --basefile")
	f.StringVar(&o.workDir, "wd", "", "same as --workdir")
	for _, n := range []string{"tf", "bf", "wd"} {
		_ = f.MarkHidden(n)
	}
}

// parse checks the flags and completes o.
func (fl *filesFlags) parse(o *filesOptions) error {
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
			return &userError{msg: "--require: " + strings.TrimPrefix(err.Error(), "cluster: "), err: err}
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

// checkRequire refuses --require where no worker's tags decide where the
// jobs run: on this machine alone, and with --onall/--nonall, which run
// on every host; and with -S when no host has the tags.
func (o *runOptions) checkRequire() error {
	switch {
	case o.require == nil:
		return nil
	case o.ssh.nonall || o.ssh.onall:
		return &userError{msg: "--require cannot be used with --onall or --nonall: they run on every host"}
	case o.server == "" && !o.ssh.active():
		return &userError{msg: "--require needs --server or -S: only crew workers have tags"}
	case o.ssh.active():
		// The hosts are known: a run none of them can take is refused
		// at once rather than left waiting.
		for _, l := range o.ssh.logins {
			if !slices.ContainsFunc(o.require, func(t string) bool { return !slices.Contains(l.Tags, t) }) {
				return nil
			}
		}
		tags := strings.Join(o.require, ",")
		return &userError{msg: fmt.Sprintf("--require %s: no -S host has all these tags (give a host tags as @%s/host)", tags, strings.ReplaceAll(tags, ",", "+"))}
	}
	return nil
}

// route sets c to send the run's jobs only to workers with the tags
// --require names, and to say on errOut when no connected worker has
// them (the jobs then wait for one) and when one connects.
func (o *filesOptions) route(c *cluster.ExecutorConfig, errOut io.Writer) {
	if len(o.require) == 0 {
		return
	}
	tags := strings.Join(o.require, ",")
	c.Require = o.require
	c.OnServed = func(served bool) {
		if served {
			fmt.Fprintf(errOut, "crew: a worker with the tags %s connected; the jobs run\n", tags)
			return
		}
		fmt.Fprintf(errOut, "crew: no connected worker has the tags %s (--require); the jobs wait until one does: crew worker --tag %s\n", tags, tags)
	}
}
