package runner

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

const joblogHeader = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"

// formatJoblogLine renders r as one line of GNU parallel's --joblog.
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
		r.Seq, r.Host, start, r.Runtime.Seconds(), r.Send, r.Receive, exit, r.Signal, command)
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

// ParseJoblog reads a joblog and returns the job numbers it records: all
// of them, or with failedToo false only those that succeeded (for
// --resume-failed, which reruns the others). A last line cut short by a
// crash is ignored, so that job runs again.
func readJoblog(r io.Reader, succeededOnly bool) (seqSet, error) {
	var done seqSet
	br := bufio.NewReader(r)
	for first := true; ; first = false {
		line, err := br.ReadString('\n')
		if err == io.EOF {
			break // a partial last line is a job that was not recorded
		}
		if err != nil {
			return nil, err
		}
		f := strings.SplitN(line, "\t", 9)
		if first && len(f) > 0 && f[0] == "Seq" {
			continue
		}
		if len(f) < 9 {
			continue
		}
		seq, err1 := strconv.ParseInt(f[0], 10, 64)
		exit, err2 := strconv.Atoi(f[6])
		sig, err3 := strconv.Atoi(f[7])
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		if succeededOnly && (exit != 0 || sig != 0) {
			continue
		}
		done.add(seq)
	}
	return done, nil
}

// openJoblog opens path for appending, reading what it records first when
// resuming. Without resume the file starts afresh, as in GNU parallel.
func openJoblog(path string, resume, resumeFailed bool) (*os.File, seqSet, error) {
	var done seqSet
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if resume || resumeFailed {
		if f, err := os.Open(path); err == nil {
			done, err = readJoblog(f, resumeFailed)
			f.Close()
			if err != nil {
				return nil, nil, usageErr("reading joblog "+path, err)
			}
		}
	} else {
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
	if st.Size() == 0 {
		_, err = f.WriteString(joblogHeader)
	} else if err = endsInNewline(path, st.Size()); err != nil {
		// A line cut short by a crash: end it so the next one stands alone.
		_, err = f.WriteString("\n")
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
