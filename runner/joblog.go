package runner

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

const joblogHeader = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"

// formatJoblogLine renders r as one line of GNU parallel's --joblog. A
// newline inside the command is written as a NUL byte, as GNU parallel
// does, so that every job stays one line; --retry-failed turns it back.
func formatJoblogLine(r Result, command string) string {
	exit := r.Exit
	switch {
	case r.TimedOut:
		exit = -1
	case r.Signal != 0:
		exit = 0
	}
	start := float64(r.Start.UnixMilli()) / 1000
	return fmt.Sprintf("%d\t%s\t%.3f\t%10.3f\t%d\t%d\t%d\t%d\t%s\n",
		r.Seq, r.Host, start, r.Runtime.Seconds(), r.Send, r.Receive, exit, r.Signal,
		strings.ReplaceAll(command, "\n", "\x00"))
}

// seqSet is a bitset of job numbers.
type seqSet []uint64

func (s *seqSet) add(seq int64) {
	if seq < 1 || seq > 1<<40 {
		return
	}
	i := int(seq / 64)
	for len(*s) <= i {
		*s = append(*s, 0)
	}
	(*s)[i] |= 1 << (seq % 64)
}

func (s seqSet) has(seq int64) bool {
	i := int(seq / 64)
	return seq >= 1 && i < len(s) && s[i]&(1<<(seq%64)) != 0
}

// joblogEntry is one parsed line of a joblog.
type joblogEntry struct {
	seq     int64
	ok      bool // exit status and signal both 0
	command string
}

// scanJoblog calls each for every well-formed line of a joblog, in file
// order, and returns how many other lines it passed over. The header,
// blank lines and a last line cut short by a crash (no newline) are passed
// over without being counted, so such a job counts as never recorded.
func scanJoblog(r io.Reader, each func(joblogEntry)) (bad int, err error) {
	br := bufio.NewReader(r)
	for first := true; ; first = false {
		line, err := br.ReadString('\n')
		if err == io.EOF {
			return bad, nil // a partial last line is a job that was not recorded
		}
		if err != nil {
			return bad, err
		}
		line = strings.TrimSuffix(line, "\n")
		f := strings.SplitN(line, "\t", 9)
		if first && len(f) > 0 && f[0] == "Seq" || line == "" {
			continue
		}
		if len(f) < 9 {
			bad++
			continue
		}
		seq, err1 := strconv.ParseInt(f[0], 10, 64)
		exit, err2 := strconv.Atoi(f[6])
		sig, err3 := strconv.Atoi(f[7])
		if err1 != nil || err2 != nil || err3 != nil || seq < 1 || seq > 1<<40 {
			bad++
			continue
		}
		each(joblogEntry{seq: seq, ok: exit == 0 && sig == 0, command: strings.ReplaceAll(f[8], "\x00", "\n")})
	}
}

// readJoblog reads a joblog and returns the job numbers it records: all
// of them, or with succeededOnly only those that succeeded (for
// --resume-failed, which reruns the others).
func readJoblog(r io.Reader, succeededOnly bool) (seqSet, error) {
	var done seqSet
	_, err := scanJoblog(r, func(e joblogEntry) {
		if e.ok || !succeededOnly {
			done.add(e.seq)
		}
	})
	return done, err
}

// retryList is what --retry-failed reruns: the failed jobs of a joblog,
// with the command each last failed with, under its own job number.
type retryList struct {
	done     seqSet           // jobs that succeeded at least once
	commands map[int64]string // the failed jobs' commands, by job number
	last     int64            // the highest job number recorded
}

// readRetryList reads the joblog at path for --retry-failed. A job counts
// as failed when no line records it succeeding; a rerun that failed again
// replaces its command with the newer one. It reports found false when
// there is no joblog yet: the run then runs its command and inputs as
// without --retry-failed, as GNU parallel does.
func readRetryList(path string) (l retryList, found bool, err error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return l, false, nil
	}
	if err != nil {
		return l, false, usageErr("reading joblog "+path, err)
	}
	defer f.Close()
	if l, err = parseRetryList(f); errors.Is(err, ErrNotJoblog) {
		return l, false, badValue(ErrNotJoblog, "%s: no line has the 9 tab-separated columns of a joblog", path)
	} else if err != nil {
		return l, false, usageErr("reading joblog "+path, err)
	}
	return l, true, nil
}

func parseRetryList(r io.Reader) (l retryList, err error) {
	l.commands = map[int64]string{}
	bad, err := scanJoblog(r, func(e joblogEntry) {
		l.last = max(l.last, e.seq)
		if e.ok {
			l.done.add(e.seq)
			delete(l.commands, e.seq)
		} else if !l.done.has(e.seq) {
			l.commands[e.seq] = e.command
		}
	})
	if err == nil && bad > 0 && l.last == 0 {
		// Not one job line: this is not a joblog, and rerunning "its
		// failed jobs" would silently run nothing.
		err = ErrNotJoblog
	}
	return l, err
}

// ErrNotJoblog is returned (wrapped in a UsageError) by Run with
// RetryFailed when JobLog holds lines but not one of them is a joblog's.
var ErrNotJoblog = errors.New("runner: not a joblog")

// next returns an input function yielding, for job numbers 1 to the
// last, each failed job's command as its only argument; the others are
// added to done, so the run skips them.
func (l *retryList) next() func() ([]string, error) {
	var seq int64
	return func() ([]string, error) {
		if seq >= l.last {
			return nil, io.EOF
		}
		seq++
		if c, ok := l.commands[seq]; ok {
			return []string{c}, nil
		}
		// Succeeded, or a job number the joblog does not record at all.
		l.done.add(seq)
		return []string{""}, nil
	}
}

// retrySource reads the joblog for --retry-failed. It returns nil when
// the run is an ordinary one. Otherwise the jobs are the recorded command
// lines, run as they stand: the command template does not apply.
func (r *run) retrySource() (*retryList, error) {
	if !r.cfg.RetryFailed || r.cfg.JobLog == "" {
		return nil, nil
	}
	l, found, err := readRetryList(r.cfg.JobLog)
	if err != nil || !found {
		return nil, err
	}
	r.tmpl, r.cfg.Quote = nil, false
	return &l, nil
}

// joblogMode says how a run opens its joblog.
type joblogMode struct {
	// appendOnly is --joblog +FILE: add lines after what the file
	// holds, and write no header, as GNU parallel does.
	appendOnly bool
	// keep is --resume, --resume-failed or --retry-failed: an existing
	// joblog is kept and added to.
	keep bool
	// readDone reads the jobs to skip (--resume, --resume-failed).
	readDone, succeededOnly bool
}

// openJoblog opens path for appending, reading what it records first when
// resuming. Without resume or +, the file starts afresh, as in GNU parallel.
func openJoblog(path string, m joblogMode) (*os.File, seqSet, error) {
	var done seqSet
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if m.readDone {
		if f, err := os.Open(path); err == nil {
			done, err = readJoblog(f, m.succeededOnly)
			f.Close()
			if err != nil {
				return nil, nil, usageErr("reading joblog "+path, err)
			}
		}
	}
	if !m.keep && !m.appendOnly {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, nil, usageErr("joblog", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, usageErr("joblog", err)
	}
	switch {
	case st.Size() == 0 && !m.appendOnly:
		_, err = f.WriteString(joblogHeader)
	case st.Size() > 0 && st.Mode().IsRegular():
		if err = endsInNewline(path, st.Size()); err != nil {
			// A line cut short by a crash: end it so the next one stands alone.
			_, err = f.WriteString("\n")
		}
	}
	if err != nil {
		f.Close()
		return nil, nil, usageErr("joblog", err)
	}
	return f, done, nil
}

func endsInNewline(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, size-1); err != nil {
		return err
	}
	if b[0] != '\n' {
		return fmt.Errorf("no newline")
	}
	return nil
}
