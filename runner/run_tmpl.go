package runner

import (
	"fmt"
	"io"
	"time"
)

// The run's side of replacement strings: the templates of a Config, the
// numbers a command may refer to, and the job slots.

// templates parses the command and --tagstring templates of c.
func (c *Config) templates() (cmd, tag *template, err error) {
	o := templateOptions{quote: c.Quote, plus: c.Plus, context: c.ContextReplace, rename: c.Replace}
	if len(c.Command) > 0 {
		if cmd, err = parseTemplate(c.Command, o); err != nil {
			return nil, nil, err
		}
		if cmd.needTotal && c.Pipe != nil {
			// GNU parallel refuses them too.
			return nil, nil, badValue(ErrBadTemplate, "{##} and {0#} need the number of jobs, which --pipe does not know in advance")
		}
	}
	if c.TagString != "" {
		o.quote, o.context, o.noAppend = false, false, true
		if tag, err = parseTemplate([]string{c.TagString}, o); err != nil {
			return nil, nil, err
		}
	}
	return cmd, tag, nil
}

// jobInfo is what the templates of job seq in slot may refer to.
func (r *run) jobInfo(seq int64, slot int) jobInfo {
	return jobInfo{seq: seq, slot: slot, jobs: r.cfg.Jobs, total: r.total}
}

// skipJob records a job that {uniq} or {choose_k} skipped: as GNU
// parallel does, it counts as failed and the joblog shows it with exit
// value -2.
func (r *run) skipJob(seq int64, args []string) {
	r.countSkipped(true)
	if r.joblog != nil {
		res := Result{Seq: seq, Host: ":", Start: time.Now(), Exit: -2}
		r.logMu.Lock()
		_, err := io.WriteString(r.joblog, formatJoblogLine(res, r.command(seq, 1, args)))
		r.logMu.Unlock()
		if err != nil {
			r.setErr(fmt.Errorf("runner: joblog: %w", err))
		}
	}
	r.order.skip(seq, r)
}

func (r *run) countSkipped(skip bool) {
	if skip {
		r.mu.Lock()
		r.sum.Failed++
		r.mu.Unlock()
	}
}

// useNames makes {name} in the templates the column --header named name.
func (r *run) useNames(names []string) error {
	var err error
	if r.tmpl != nil {
		if r.tmpl, err = r.tmpl.withNames(names); err != nil {
			return err
		}
	}
	if r.tagT != nil {
		r.tagT, err = r.tagT.withNames(names)
	}
	return err
}

// fileTemplate parses a template that names a file (--results,
// --transferfile, --return, --workdir): the run's replacement strings,
// values unquoted, nothing appended.
func (c *Config) fileTemplate(s string) (*template, error) {
	return parseTemplate([]string{s}, templateOptions{plus: c.Plus, rename: c.Replace, noAppend: true})
}
