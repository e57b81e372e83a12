package runner

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Multiple says how one job takes several input records (GNU parallel's
// -X, -m and --xargs, and what -n, -N and -L imply). Whatever the mode, a
// job's arguments are one flat list: the values of its records, in order.
// How {} spreads over them is the template's business (Config's
// ContextReplace: -X, -N and -L repeat the word holding {}; -n, -m and
// --xargs do not).
type Multiple uint8

const (
	// MultipleNone is the default: a job takes one record.
	MultipleNone Multiple = iota
	// MultipleContext is -X, and what -n, -N and -L imply: a job takes
	// as many records as fit the command line, at most MaxArgs.
	MultipleContext
	// MultipleReplace is -m and --xargs: a job takes as many records as
	// fit, at most MaxArgs.
	MultipleReplace
)

// Trim says which blanks --trim removes from the ends of input values.
type Trim uint8

const (
	// TrimDefault is GNU parallel's default: both ends of every column
	// with --colsep (not with --csv), nothing otherwise.
	TrimDefault Trim = iota
	// TrimNone leaves values as they are (--trim n).
	TrimNone
	// TrimLeft removes leading blanks (--trim l).
	TrimLeft
	// TrimRight removes trailing blanks (--trim r).
	TrimRight
	// TrimBoth removes both (--trim lr or rl).
	TrimBoth
)

// ErrBadCount is wrapped by the error ParseCount returns for a malformed
// number.
var ErrBadCount = errors.New("runner: bad number")

// ParseCount reads a count as GNU parallel does for -n, -N, -L and -s: a
// whole number with an optional unit prefix, K, M, G, T, P for powers of
// 1024 and k, m, g, t, p for powers of 1000.
func ParseCount(s string) (int, error) {
	mult := int64(1)
	num := s
	if s != "" {
		if i := strings.IndexByte("kmgtp", s[len(s)-1]); i >= 0 {
			for range i + 1 {
				mult *= 1000
			}
			num = s[:len(s)-1]
		} else if i := strings.IndexByte("KMGTP", s[len(s)-1]); i >= 0 {
			mult = 1 << (10 * (i + 1))
			num = s[:len(s)-1]
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<31-1)/mult {
		return 0, badValue(ErrBadCount, "%q (want a whole number, 0 or more, with an optional k, M, G... suffix)", s)
	}
	return int(n * mult), nil
}

// ErrBadTrim is wrapped by the error ParseTrim returns.
var ErrBadTrim = errors.New("runner: bad --trim value")

// ParseTrim reads --trim: n, l, r, lr or rl; "" is TrimDefault.
func ParseTrim(s string) (Trim, error) {
	switch s {
	case "":
		return TrimDefault, nil
	case "n":
		return TrimNone, nil
	case "l":
		return TrimLeft, nil
	case "r":
		return TrimRight, nil
	case "lr", "rl":
		return TrimBoth, nil
	}
	return 0, badValue(ErrBadTrim, "%q (want n, l, r, lr or rl)", s)
}

// ErrTooLong is wrapped by the CommandTooLongError of a job whose command
// line cannot fit the limit (-s, or what the system allows), even with a
// single input record.
var ErrTooLong = errors.New("runner: command line too long")

// A CommandTooLongError reports a command line that cannot be run: it is
// longer than Limit allows even with one input record. Run stops starting
// jobs, lets the running ones finish, and returns it; GNU parallel's exit
// status for it is 255.
type CommandTooLongError struct {
	Len   int    // the command line's length in bytes
	Limit int    // the longest allowed
	Job   int64  // the job's number ({#})
	Start string // the command line's start
}

func (e *CommandTooLongError) Error() string {
	return fmt.Sprintf("runner: job %d: command line too long (%d bytes, the limit is %d; see -s): %s", e.Job, e.Len, e.Limit, e.Start)
}

func (e *CommandTooLongError) Unwrap() error { return ErrTooLong }

func tooLong(job int64, line string, limit int) error {
	start := line
	if len(start) > 60 {
		start = strings.ToValidUTF8(start[:60], "") + "..."
	}
	return &CommandTooLongError{Len: len(line), Limit: limit, Job: job, Start: start}
}

// MaxCommandLine is the longest command line, in bytes, this system can
// run given the current environment: a job's command reaches the kernel
// either as its words or as one argument of sh -c, so it must fit both
// the limit on one argument (MAX_ARG_STRLEN, 32 pages on Linux) and
// ARG_MAX, which the environment shares. Like xargs, it keeps 2 KiB
// spare. This is what -s defaults to and may not exceed.
func MaxCommandLine() int {
	page := os.Getpagesize()
	if page <= 0 {
		page = 4096
	}
	strMax := 32*page - 1
	// Linux allows a quarter of the stack limit for arguments and
	// environment, at least 32 pages and at most 6 MiB (3/4 of 8 MiB).
	argMax := 6 << 20
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_STACK, &rl); err == nil && rl.Cur != ^uint64(0) {
		argMax = int(min(rl.Cur/4, uint64(argMax)))
	}
	argMax = max(argMax, 32*page)
	env := 0
	for _, e := range os.Environ() {
		env += len(e) + 1 + 8
	}
	// "sh", "-c", the line and their pointers.
	rest := argMax - env - 2048 - (3 + 3 + 1 + 4*8)
	return max(min(strMax, rest), 0)
}

// grouper makes jobs out of input records: one each by default, MaxArgs
// each with -n/-N/-L, or as many as fit the command line with -X, -m and
// --xargs. A job's arguments are the values of its records, in order.
type grouper struct {
	next    func() ([]string, error) // the records
	buf     [][]string               // records read ahead
	eof     bool
	max     int  // most records per job; 0: no limit but the length
	fill    bool // take as many records as fit
	zero    bool // -n 0: one record per job, no argument
	spread  bool // -X, -m: spread a short last input over the slots
	slots   int
	spreadN int // records per job once spread
	// command is the command line of the job seq with these arguments;
	// a line fits when it is shorter than limit.
	command func(seq int64, args []string) string
	limit   int
	seq     int64
}

func (c *Config) newGrouper(next func() ([]string, error), command func(int64, []string) string, limit int) *grouper {
	g := &grouper{next: next, command: command, limit: limit, slots: c.Jobs,
		max: c.MaxArgs, zero: c.ZeroArgs, spread: c.Spread}
	if c.MaxArgs == 0 && c.MaxLines > 0 {
		g.max = c.MaxLines
	}
	g.fill = c.Multiple != MultipleNone
	if !g.fill && g.max == 0 {
		g.max = 1
	}
	return g
}

// ensure reads ahead until n records are buffered; it reports false at
// the end of the input with fewer.
func (g *grouper) ensure(n int) (bool, error) {
	for len(g.buf) < n {
		if g.eof {
			return false, nil
		}
		rec, err := g.next()
		if err == io.EOF {
			g.eof = true
			return false, nil
		}
		if err != nil {
			return false, err
		}
		g.buf = append(g.buf, rec)
	}
	return true, nil
}

func flatten(recs [][]string) []string {
	n := 0
	for _, r := range recs {
		n += len(r)
	}
	args := make([]string, 0, n)
	for _, r := range recs {
		args = append(args, r...)
	}
	return args
}

// Next returns the next job's arguments, or io.EOF.
func (g *grouper) Next() ([]string, error) {
	if g.zero {
		if _, err := g.next(); err != nil {
			return nil, err
		}
		g.seq++
		return []string{}, nil
	}
	if !g.fill && g.max == 1 {
		// One record per job: the command is checked as the job starts.
		g.seq++
		return g.next()
	}
	if ok, err := g.ensure(1); err != nil || !ok {
		if err == nil {
			err = io.EOF
		}
		return nil, err
	}
	g.seq++
	want := g.max
	if g.spreadN > 0 {
		want = g.spreadN
	}
	// Each further record lengthens the command line by about what it
	// adds to a line of the first record alone (a word -X repeats, a
	// value {} or the appended arguments grow by); that estimate finds
	// the count in one pass, and the real line is then checked, so a job
	// costs two expansions per record, not one per candidate count.
	one := len(g.command(g.seq, g.buf[0]))
	if one >= g.limit {
		return nil, tooLong(g.seq, g.command(g.seq, g.buf[0]), g.limit-1)
	}
	lo, est := 1, one
	for want == 0 || lo < want {
		ok, err := g.ensure(lo + 1)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		pair := make([]string, 0, len(g.buf[0])+len(g.buf[lo]))
		pair = append(append(pair, g.buf[0]...), g.buf[lo]...)
		est += len(g.command(g.seq, pair)) - one
		if est >= g.limit {
			break
		}
		lo++
	}
	for lo > 1 && len(g.command(g.seq, flatten(g.buf[:lo]))) >= g.limit {
		lo = max(1, lo-1-lo/64)
	}
	if g.spread && g.spreadN == 0 && lo > 1 && g.slots > 1 {
		// GNU parallel: when a job's records reach the end of the input,
		// they are spread evenly over the job slots, once.
		if more, err := g.ensure(lo + 1); err != nil {
			return nil, err
		} else if !more {
			g.spreadN = (lo + g.slots - 1) / g.slots
			lo = g.spreadN
		}
	}
	args := flatten(g.buf[:lo])
	g.buf = g.buf[lo:]
	return args, nil
}
