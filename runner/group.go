package runner

import (
	"errors"
	"strconv"
	"strings"
)

// Multiple says how one job takes several input records (GNU parallel's
// -X, -m and --xargs). Whatever the mode, a job's arguments are one flat
// list: the values of its records, in order.
type Multiple uint8

const (
	// MultipleNone is the default: a job takes MaxArgs records, or one.
	MultipleNone Multiple = iota
	// MultipleContext is -X (and what -n, -N, -L and -s imply): as many
	// records as fit the command line; a word holding {} is repeated for
	// every argument.
	MultipleContext
	// MultipleSpread is -m: as many records as fit, spread evenly over
	// the job slots when the input is short; {} is all the arguments.
	MultipleSpread
	// MultipleXargs is --xargs: as many records as fit, filling each job
	// in turn, as xargs does.
	MultipleXargs
)

// Trim says which blanks --trim removes from the ends of input values.
type Trim uint8

const (
	// TrimNone leaves values as they are (--trim n, the default).
	TrimNone Trim = iota
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

// ParseTrim reads --trim: n, l, r, lr or rl; "" is n.
func ParseTrim(s string) (Trim, error) {
	switch s {
	case "", "n":
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

// ErrNotYet is wrapped by Run's error for an input option that is parsed
// but not built yet, so that it is refused rather than ignored.
var ErrNotYet = errors.New("runner: not implemented yet")

// checkInputOptions refuses the input options Run does not carry out yet.
func (c *Config) checkInputOptions() error {
	var name string
	switch {
	case c.MaxArgs > 0 || c.ZeroArgs || c.ReplaceArgs:
		name = "-n/-N"
	case c.MaxLines > 0:
		name = "-L"
	case c.Multiple != MultipleNone:
		name = "-X/-m/--xargs"
	case c.MaxChars > 0 || c.ExitTooBig:
		name = "-s/-x"
	case c.Header != nil:
		name = "--header"
	case c.Delimiter != nil:
		name = "-d"
	case c.NoRunIfEmpty:
		name = "-r"
	case c.EOF != "":
		name = "-E"
	case c.CSV:
		name = "--csv"
	case c.Trim != TrimNone:
		name = "--trim"
	case c.Shuffle:
		name = "--shuf"
	case c.Verbose:
		name = "-t"
	default:
		return nil
	}
	return badValue(ErrNotYet, "%s", name)
}
