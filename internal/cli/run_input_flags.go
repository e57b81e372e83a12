package cli

import (
	"fmt"

	"github.com/spf13/pflag"

	"crew/runner"
)

// inputFlags holds crew run's flags for several arguments per job and the
// other input forms (-n, -N, -L, -X, -m, --xargs, -s, -d, -r, -E,
// --header, --csv, --trim, --shuf, -t) as given.
type inputFlags struct {
	maxArgs, maxReplaceArgs, maxLines, maxChars string
	delimiter, trim                             string
}

// inputOptions are those flags parsed. --pipe reads maxArgs (records per
// block with -N), maxLines (lines per record with -L) and header too.
type inputOptions struct {
	// maxArgs is -n or -N: the most records one job takes (or with
	// --pipe, records per block); -1 when neither was given. -N also
	// sets replaceArgs.
	maxArgs     int
	replaceArgs bool
	// maxLines is -L/--max-lines: the most nonblank input lines one job
	// takes (with --pipe, lines per record); -1 when not given.
	maxLines int
	// multiple is -X, -m or --xargs, or the -X that -n, -N and -L imply
	// when none of those is given; spread is -X or -m given.
	multiple runner.Multiple
	spread   bool
	// maxChars is -s/--max-chars: the longest command line; 0 when not
	// given (the system's limit).
	maxChars int
	// exitTooBig is -x/--exit.
	exitTooBig bool
	// header is --header as given: ":" (the first value of each input
	// names it), a number of lines, or a regular expression; hasHeader
	// tells "--header ''" from no --header.
	header    string
	hasHeader bool
	// delimiter is -d with its escapes resolved; hasDelimiter tells -d ''
	// from no -d.
	delimiter    string
	hasDelimiter bool
	noRunIfEmpty bool
	eof          string
	csv          bool
	trim         runner.Trim
	shuf         bool
	verbose      bool
	// The -X, -m and --xargs flags as given.
	context, multi, xargs bool
}

// define binds the input flags.
func (fl *inputFlags) define(f *pflag.FlagSet, o *inputOptions) {
	f.StringVarP(&fl.maxArgs, "max-args", "n", "", "each job takes at most `N` inputs, {} all of them (-n 0: each job reads one and inserts none)")
	f.StringVarP(&fl.maxReplaceArgs, "max-replace-args", "N", "", "each job takes at most `N` inputs, {1}..{N} each of them, and a word holding {} is repeated for each; with --pipe, records per block")
	f.StringVarP(&fl.maxLines, "max-lines", "L", "", "each job takes at most `N` nonblank input lines (a line ending in a blank continues); with --pipe, lines per record")
	f.BoolVarP(&o.context, "context-replace", "X", false, "several inputs per job, as many as fit the command line; a word holding {} is repeated for each")
	f.BoolVarP(&o.multi, "multiple", "m", false, "several inputs per job, as many as fit, spread evenly over the job slots; {} is all of them")
	f.BoolVar(&o.xargs, "xargs", false, "several inputs per job, as many as fit the command line, filling each job in turn (like xargs)")
	f.StringVarP(&fl.maxChars, "max-chars", "s", "", "command lines must be shorter than `N` bytes (default: what the system can exec, from ARG_MAX less the environment); an input that cannot fit stops the run, status 255")
	f.BoolVarP(&o.exitTooBig, "exit", "x", false, "accepted as in GNU parallel: a command line that cannot fit always stops the run")
	f.StringVarP(&fl.delimiter, "delimiter", "d", "", "input records end with `DELIM`, not newline; C escapes (\\n, \\t, \\0, \\x41, \\101) work")
	f.BoolVarP(&o.noRunIfEmpty, "no-run-if-empty", "r", false, "skip input records that are only blanks")
	f.StringVarP(&o.eof, "eof", "E", "", "stop reading an input at a line that is exactly `STR`")
	f.StringVar(&o.header, "header", "", "`HEADER` ':' (or anything but 0): the first record of each input names its columns for {name}; 0: a :::: file is {its name}; with --pipe, the header lines repeated in every block (N lines or a regexp)")
	f.BoolVar(&o.csv, "csv", false, "input is CSV: records split into columns {1} {2}... with CSV quoting (the separator is --colsep, default ',')")
	f.StringVar(&fl.trim, "trim", "", "trim blanks around inputs as `HOW` says: n (none), l, r, lr or rl (both); --colsep's default is lr")
	f.BoolVar(&o.shuf, "shuf", false, "read all inputs first and run the jobs in random order")
	f.BoolVarP(&o.verbose, "verbose", "t", false, "print each job's command on stderr before it runs")
	// GNU parallel's spellings without the hyphen.
	for alias, name := range inputAliases {
		fl := f.Lookup(name)
		f.Var(fl.Value, alias, "same as --"+name)
		f.Lookup(alias).NoOptDefVal = fl.NoOptDefVal
		f.MarkHidden(alias)
	}
}

// inputAliases are GNU parallel's other names of the input flags.
var inputAliases = map[string]string{
	"maxargs":        "max-args",
	"maxreplaceargs": "max-replace-args",
	"maxlines":       "max-lines",
	"maxchars":       "max-chars",
	"norunifempty":   "no-run-if-empty",
}

// changed reports whether the flag name was given, under any of its names.
func changed(f *pflag.FlagSet, name string) bool {
	if f.Changed(name) {
		return true
	}
	for alias, n := range inputAliases {
		if n == name && f.Changed(alias) {
			return true
		}
	}
	return false
}

// parse checks and converts the input flags into o.
func (fl *inputFlags) parse(f *pflag.FlagSet, o *inputOptions) error {
	o.maxArgs, o.maxLines = -1, -1
	var err error
	if changed(f, "max-args") {
		if o.maxArgs, err = runner.ParseCount(fl.maxArgs); err != nil {
			return plain("-n/--max-args", err)
		}
	}
	if changed(f, "max-replace-args") {
		if o.maxArgs, err = runner.ParseCount(fl.maxReplaceArgs); err != nil {
			return plain("-N/--max-replace-args", err)
		}
		o.replaceArgs = true
	}
	if changed(f, "max-lines") {
		if o.maxLines, err = runner.ParseCount(fl.maxLines); err != nil {
			return plain("-L/--max-lines", err)
		}
	}
	if changed(f, "max-chars") {
		n, err := runner.ParseCount(fl.maxChars)
		if err == nil && n < 1 {
			err = fmt.Errorf("must be at least 1, got %d", n)
		}
		if err != nil {
			return plain("-s/--max-chars", err)
		}
		o.maxChars = n
	}
	o.hasHeader = f.Changed("header")
	if f.Changed("delimiter") {
		if o.delimiter, err = runner.Unescape(fl.delimiter); err != nil {
			return plain("-d/--delimiter", err)
		}
		o.hasDelimiter = true
	}
	if o.trim, err = runner.ParseTrim(fl.trim); err != nil {
		return plain("", err)
	}
	switch {
	case o.context:
		o.multiple, o.spread = runner.MultipleContext, true
	case o.multi:
		o.multiple, o.spread = runner.MultipleReplace, true
	case o.xargs:
		o.multiple = runner.MultipleReplace
	case o.maxArgs >= 0 || o.maxLines >= 0:
		// GNU parallel: -n, -N and -L imply -X unless -m or --xargs is
		// given (-s does not, whatever its man page says).
		o.multiple = runner.MultipleContext
	}
	return nil
}

// apply sets the input side of c from o.
func (o *inputOptions) apply(c *runner.Config) {
	c.MaxArgs = max(o.maxArgs, 0)
	c.ZeroArgs = o.maxArgs == 0 || o.maxLines == 0
	c.ReplaceArgs = o.replaceArgs
	c.MaxLines = max(o.maxLines, 0)
	c.Multiple = o.multiple
	c.Spread = o.spread
	c.MaxChars = o.maxChars
	c.ExitTooBig = o.exitTooBig
	if o.hasHeader {
		c.Header = &o.header
	}
	if o.hasDelimiter {
		c.Delimiter = &o.delimiter
	}
	c.NoRunIfEmpty = o.noRunIfEmpty
	c.EOF = o.eof
	c.CSV = o.csv
	c.Trim = o.trim
	c.Shuffle = o.shuf
	c.Verbose = o.verbose
}
