package runner

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"crew/internal/backoff"
)

// Sentinels of the Config fields in this file, wrapped in a UsageError.
var (
	// ErrBadRetryDelay reports a negative Config.RetryDelay.
	ErrBadRetryDelay = errors.New("runner: bad retry delay")
	// ErrBadFileName reports an empty name among the files of a job.
	ErrBadFileName = errors.New("runner: bad file name")
)

// MaxRetryDelay caps the doubling of Config.RetryDelay: however many
// tries a job has left, it never waits longer than this (or than
// RetryDelay itself, when that is longer) between two of them.
const MaxRetryDelay = 5 * time.Minute

// UniqueWorkDir is the --workdir value "...": each job runs in a fresh
// directory of its own, which Cleanup removes after the job.
const UniqueWorkDir = "..."

// Files names what travels with a job, as GNU parallel's --transferfile,
// --return, --basefile, --cleanup and --workdir do with --sshlogin. Paths
// are as the user gave them, templates expanded: a relative path is
// relative to the job's working directory where it runs (and to crew's
// own on this machine), an absolute one stays where it is, and in a path
// holding "/./" the part after it is relative to the working directory
// there while the whole path (with "/./" read as "/") names the file
// here.
type Files struct {
	// Transfer are files sent to where the job runs before it starts.
	Transfer []string
	// Return are files brought back once the job has ended.
	Return []string
	// Base are files sent once to every machine that runs a job.
	Base []string
	// Cleanup removes the transferred and returned files (and the base
	// files, and a UniqueWorkDir) where the job ran, once it is over.
	Cleanup bool
	// WorkDir is the directory the job runs in: "" for the executor's
	// default, UniqueWorkDir for a fresh one; "~/" starts a path under the
	// home directory.
	WorkDir string
}

// fileTemplates holds the parsed file names of a Config.
type fileTemplates struct {
	transfer, ret []*template
	base          []string
	cleanup       bool
	workDir       *template
}

func (r *run) parseFiles() error {
	c := &r.cfg
	if c.RetryDelay < 0 {
		return badValue(ErrBadRetryDelay, "retry delay must not be negative, got %v", c.RetryDelay)
	}
	if len(c.TransferFiles)+len(c.ReturnFiles)+len(c.BaseFiles) == 0 && c.WorkDir == "" {
		return nil
	}
	f := &fileTemplates{base: c.BaseFiles, cleanup: c.Cleanup}
	parse := func(flag string, names []string) ([]*template, error) {
		var ts []*template
		for _, n := range names {
			if n == "" {
				return nil, badValue(ErrBadFileName, "%s: empty file name", flag)
			}
			t, err := c.fileTemplate(n)
			if err != nil {
				return nil, err
			}
			ts = append(ts, t)
		}
		return ts, nil
	}
	var err error
	if f.transfer, err = parse("--transferfile", c.TransferFiles); err != nil {
		return err
	}
	if f.ret, err = parse("--return", c.ReturnFiles); err != nil {
		return err
	}
	for _, b := range c.BaseFiles {
		if b == "" {
			return badValue(ErrBadFileName, "--basefile: empty file name")
		}
	}
	if c.WorkDir != "" {
		if f.workDir, err = c.fileTemplate(c.WorkDir); err != nil {
			return err
		}
	}
	r.files = f
	return nil
}

// expand returns the Files of job seq, or nil when the run has none. A
// template without replacement strings is taken as it is: the arguments
// are not appended to a file name.
func (f *fileTemplates) expand(seq int64, slot int, args []string) *Files {
	if f == nil {
		return nil
	}
	one := func(t *template) string { return t.expand(jobInfo{seq: seq, slot: slot, total: -1}, args, false) }
	out := &Files{Base: f.base, Cleanup: f.cleanup}
	for _, t := range f.transfer {
		out.Transfer = append(out.Transfer, one(t))
	}
	for _, t := range f.ret {
		out.Return = append(out.Return, one(t))
	}
	if f.workDir != nil {
		out.WorkDir = one(f.workDir)
	}
	return out
}

// retryBackoff paces a failed job's tries (RetryDelay); its zero Min
// means no wait.
func (r *run) retryBackoff() backoff.Backoff {
	d := r.cfg.RetryDelay
	return backoff.Backoff{Min: d, Max: max(d, MaxRetryDelay), Jitter: true}
}

// workDir returns the directory job runs in on this machine, dir unless
// the job names one, and a function to call once the job is over, which
// removes a UniqueWorkDir when the job asks for Cleanup.
func workDir(job *Job, dir string) (string, func(), error) {
	nothing := func() {}
	if job.Files == nil || job.Files.WorkDir == "" {
		return dir, nothing, nil
	}
	wd := job.Files.WorkDir
	switch {
	case wd == UniqueWorkDir:
		d, err := os.MkdirTemp("", "crew-wd-")
		if err != nil {
			return "", nothing, fmt.Errorf("runner: --workdir ...: %w", err)
		}
		if !job.Files.Cleanup {
			return d, nothing, nil
		}
		return d, func() { _ = os.RemoveAll(d) }, nil
	case wd == "~" || strings.HasPrefix(wd, "~/"):
		home, err := os.UserHomeDir()
		if err != nil {
			return "", nothing, fmt.Errorf("runner: --workdir %s: %w", wd, err)
		}
		return filepath.Join(home, wd[1:]), nothing, nil
	}
	return wd, nothing, nil
}
