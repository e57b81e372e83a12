package cli

import (
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"crew/runner"
)

// runFlags holds crew run's flags as given, where they are not yet the
// typed values of runOptions; parse turns them into those.
type runFlags struct {
	jobs, colsep, memfree, halt, termSeq string
	lineBuffer, ungroup, group           bool
	bar, eta, progress                   bool
	argFiles                             []string
	input                                inputFlags
	records                              *recordFlags
	ssh                                  sshFlags
	filesFlags
	pipe pipeFlags
}

// define binds crew run's flags: the typed ones straight into o, the
// others into fl.
// runFlagAliases are GNU parallel's other spellings of crew run's flags,
// which --help names with the flag.
var runFlagAliases = map[string]string{
	"block-size":     "block",
	"pipe-part":      "pipepart",
	"round":          "round-robin",
	"remove-rec-sep": "rrs",
	"removerecsep":   "rrs",
}

// runFlagAlias is the flag set's NormalizeFunc: an alias is its flag.
func runFlagAlias(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	if to, ok := runFlagAliases[name]; ok {
		name = to
	}
	return pflag.NormalizedName(name)
}

func (fl *runFlags) define(f *pflag.FlagSet, o *runOptions) {
	// ::: and its values must reach us untouched, so flags end at the
	// first positional argument (the command).
	f.SetInterspersed(false)
	f.SetNormalizeFunc(runFlagAlias)
	f.StringVarP(&fl.jobs, "jobs", "j", "", "job slots: N, 0 (as many as possible), N% of CPUs, +N, -N (default: one per CPU; with --server, jobs in flight across the cluster, default 256)")
	f.BoolVarP(&o.null, "null", "0", false, "input records are separated by NUL, not newline")
	f.StringVar(&fl.colsep, "colsep", "", "split input lines into columns {1} {2}... at this regular expression")
	f.BoolVarP(&o.quote, "quote", "q", false, "quote the command words themselves (run them without shell interpretation)")
	durationVarP(f, &o.delay, "delay", "", 0, "wait this long between job starts (seconds, or a duration like 200ms)")
	f.Float64Var(&o.load, "load", 0, "start no job while the 1-minute load average is above this")
	f.StringVar(&fl.memfree, "memfree", "", "start no job while less memory than this is available (e.g. 1G)")
	f.BoolVar(&fl.lineBuffer, "line-buffer", false, "write output line by line as jobs produce it")
	f.BoolVarP(&fl.ungroup, "ungroup", "u", false, "write output as it comes; lines of different jobs may mix")
	f.BoolVar(&fl.group, "group", false, "write each job's output in one piece when it ends (the default)")
	f.BoolVarP(&o.keepOrder, "keep-order", "k", false, "write output in input order")
	f.BoolVar(&o.tag, "tag", false, "prefix output lines with the job's input")
	f.StringVar(&o.tagString, "tagstring", "", "prefix output lines with this template")
	f.StringVar(&o.joblog, "joblog", "", "record every job in this file (GNU parallel's format); +FILE appends to it")
	f.BoolVar(&o.resume, "resume", false, "skip the jobs the --joblog records")
	f.BoolVar(&o.resumeFailed, "resume-failed", false, "skip the jobs the --joblog records as succeeded; rerun failed ones")
	f.IntVar(&o.retries, "retries", 0, "try a failing job up to this many times in all")
	f.Var(timeoutValue{durationValue{&o.timeout}, &o.timeoutPercent}, "timeout",
		"kill a job's process group after this many seconds, a duration like 1m30s, or N% of the median run time (0: never)")
	f.StringVar(&fl.halt, "halt", "", "stop early: now|soon,fail|success|done=N|N%")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the commands instead of running them")
	f.StringVar(&o.results, "results", "", "store each job's output instead of printing it: DIR/1/<arg>/{stdout,stderr,seq}; NAME.csv, .tsv or .json one record per job (-.csv etc. on stdout); a name with {} etc. names each job's files")
	f.BoolVar(&fl.bar, "bar", false, "show a progress bar on stderr; when stderr is not a terminal (a CI log), a line at every tenth of the jobs instead")
	f.BoolVar(&fl.eta, "eta", false, "show progress with an estimate of the time left (lines when stderr is not a terminal)")
	f.BoolVar(&fl.progress, "progress", false, "show progress: jobs done, running and failed (lines when stderr is not a terminal)")
	f.StringVar(&fl.termSeq, "term-seq", "TERM,200,TERM,100,TERM,50,KILL,25", "signals and waits (ms) used to stop jobs")
	f.StringVar(&o.server, "server", "", "run the jobs on crew workers through the NATS server at this URL; the run lives there (crew attach, runs, status, cancel), and its input is read whole first")
	f.StringArrayVarP(&fl.argFiles, "arg-file", "a", nil, "read inputs from this file (like :::: FILE)")
	fl.input.define(f, &o.inputOptions)
	fl.records = &o.records
	fl.records.define(f)
	fl.ssh.define(f)
	defineServerFlags(f, o)
	fl.filesFlags.define(f, &o.filesOptions)
	fl.pipe.define(f, &o.pipe)
	o.tmplOptions.define(f)
}

// parse completes o from the flags as given and the positional arguments;
// every malformed value is reported here, before any job starts or any
// input file is opened.
func (fl *runFlags) parse(f *pflag.FlagSet, args []string, o *runOptions) error {
	o.command, o.inputs = splitRunArgs(args)
	if len(fl.argFiles) > 0 {
		pre := make([]runInput, 0, len(fl.argFiles)+len(o.inputs))
		for _, name := range fl.argFiles {
			pre = append(pre, runInput{file: name, isFile: true})
		}
		o.inputs = append(pre, o.inputs...)
	}
	if fl.colsep != "" {
		src := fl.colsep
		if o.csv {
			// --csv takes its separator literally.
			src = regexp.QuoteMeta(src)
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return fmt.Errorf("--colsep: %w", err)
		}
		o.colSep = re
	}
	o.jobs = runtime.NumCPU()
	if o.server != "" {
		// The workers' own -j bounds what runs; this bounds what waits in
		// the queue, which must be enough to keep every worker busy.
		o.jobs = defaultInFlight
	}
	// An empty -j '' is a mistake, not "the default".
	if f.Changed("jobs") {
		var err error
		if o.jobs, err = runner.ParseJobs(fl.jobs, runtime.NumCPU()); err != nil {
			return plain("", err)
		}
	}
	if o.delay < 0 {
		return fmt.Errorf("--delay must not be negative, got %v", o.delay)
	}
	if fl.memfree != "" {
		var err error
		if o.memFree, err = runner.ParseSize(fl.memfree); err != nil {
			return plain("--memfree", err)
		}
	}
	switch {
	case fl.ungroup:
		o.output = runner.Ungroup
	case fl.lineBuffer:
		o.output = runner.LineBuffer
	default:
		o.output = runner.Group
	}
	if (o.resume || o.resumeFailed) && o.joblog == "" {
		return errors.New("--resume and --resume-failed need --joblog")
	}
	if o.retries < 0 {
		return fmt.Errorf("--retries must not be negative, got %d", o.retries)
	}
	if fl.halt != "" {
		var err error
		if o.halt, err = runner.ParseHalt(fl.halt); err != nil {
			return plain("", err)
		}
	}
	o.progress, o.eta, o.records.bar = fl.bar || fl.eta || fl.progress, fl.eta, fl.bar
	if err := o.tmplOptions.parse(f); err != nil {
		return err
	}
	if err := fl.input.parse(f, &o.inputOptions); err != nil {
		return err
	}
	if err := fl.records.parse(o); err != nil {
		return err
	}
	if err := fl.filesFlags.parse(&o.filesOptions); err != nil {
		return err
	}
	if err := fl.pipe.parse(f, o); err != nil {
		return err
	}
	var err error
	if o.termSeq, err = parseTermSeq(fl.termSeq); err != nil {
		return err
	}
	jobs := ""
	if f.Changed("jobs") {
		jobs = fl.jobs
	}
	if err := fl.ssh.parse(f, o, jobs); err != nil {
		return err
	}

	return parseServerFlags(f, args, o)
}

// parseTermSeq reads --term-seq: SIGNAL,MS,SIGNAL,MS,...
func parseTermSeq(v string) ([]runner.TermStep, error) {
	parts := strings.Split(v, ",")
	if len(parts)%2 != 0 {
		return nil, fmt.Errorf("--term-seq %q: want SIGNAL,MS pairs", v)
	}
	var seq []runner.TermStep
	for i := 0; i < len(parts); i += 2 {
		sig := signalNumber(parts[i])
		ms, err := strconv.Atoi(parts[i+1])
		if sig == 0 || err != nil || ms < 0 {
			return nil, fmt.Errorf("--term-seq %q: bad step %s,%s", v, parts[i], parts[i+1])
		}
		seq = append(seq, runner.TermStep{Signal: sig, Wait: time.Duration(ms) * time.Millisecond})
	}
	return seq, nil
}

func signalNumber(name string) syscall.Signal {
	if n, err := strconv.Atoi(name); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n)
	}
	switch strings.TrimPrefix(strings.ToUpper(name), "SIG") {
	case "TERM":
		return syscall.SIGTERM
	case "KILL":
		return syscall.SIGKILL
	case "INT":
		return syscall.SIGINT
	case "HUP":
		return syscall.SIGHUP
	case "QUIT":
		return syscall.SIGQUIT
	case "USR1":
		return syscall.SIGUSR1
	case "USR2":
		return syscall.SIGUSR2
	}
	return 0
}
