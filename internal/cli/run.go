package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"crew/runner"
)

// runOptions are crew run's flags; the positional arguments are split into
// the command and its input sources by splitRunArgs.
type runOptions struct {
	jobs         string
	null         bool
	colsep       string
	quote        bool
	delay        string
	load         float64
	memfree      string
	lineBuffer   bool
	ungroup      bool
	group        bool
	keepOrder    bool
	tag          bool
	tagString    string
	joblog       string
	resume       bool
	resumeFailed bool
	retries      int
	timeout      string
	halt         string
	dryRun       bool
	results      string
	bar          bool
	eta          bool
	progress     bool
	termSeq      string
	server       string
	argFiles     []string
	// jobsSet tells an empty -j '' from no -j at all.
	jobsSet bool
}

const runLong = `Run a command for each input, many at once, with GNU parallel's syntax.

Inputs come from arguments after :::, files after ::::, or standard input
(one input per line). Several ::: groups combine as a cross product; :::+
pairs a group with the previous one. Replacement strings in the command:
  {}  the input            {.}  without extension    {/}  basename
  {//} dirname             {/.} basename without extension
  {#} job number           {%}  job slot             {1} {2}.. input group/column
With no replacement string the input is appended. Values are shell-quoted.
With no command at all, each input is itself a command line and runs
through the shell. An empty ::: group counts as one empty value.
A simple command with no shell syntax is executed directly (as fast as
xargs); anything else runs through sh -c.

Exit status: the number of failed jobs (101 if more than 100 failed), 255 on
other errors; with --halt ...,fail=1 the failing job's own status.
Ctrl-C (SIGINT) or SIGTERM starts no new jobs, stops the running ones along
--term-seq and exits 255; the jobs it stopped are not written to --joblog, so
--resume runs them again (as do jobs stopped by --halt now). SIGHUP starts no
new jobs, says which running jobs it waits for, and exits with the number of
failed jobs among those that ran.`

const runExample = `  # compress every log, 4 at once
  crew run -j4 gzip ::: *.log
  # cross product: a1 a2 b1 b2; linked with :::+ : a1 b2
  crew run echo {1}{2} ::: a b ::: 1 2
  # one job per line of a file, output in input order
  crew run -k 'wc -l {}' :::: files.txt
  find . -name '*.jpg' | crew run convert {} {.}.png
  # record every job; after a crash or Ctrl-C, run only what is missing
  crew run --joblog jobs.log --resume ./process.sh ::: $(seq 1000)
  # stop at the first failure and exit with its status
  crew run --halt now,fail=1 ./test.sh ::: unit integration e2e
  # stop when 10% of the jobs have failed, letting running ones finish
  crew run --halt soon,fail=10% --retries 3 --timeout 60 fetch {} :::: urls`

func newRunCmd(s Streams) *cobra.Command {
	var opts runOptions
	cmd := &cobra.Command{
		Use:     "run [flags] [COMMAND [ARGS...]] [::: VALUES...] [:::: FILES...]",
		Short:   "Run a command for each input, many at once (GNU parallel syntax)",
		Long:    runLong,
		Example: runExample,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.jobsSet = cmd.Flags().Changed("jobs")
			return runRun(cmd.Context(), s, &opts, args)
		},
	}
	f := cmd.Flags()
	// ::: and its values must reach us untouched, so flags end at the
	// first positional argument (the command).
	f.SetInterspersed(false)
	f.StringVarP(&opts.jobs, "jobs", "j", "", "job slots: N, 0 (as many as possible), N% of CPUs, +N, -N (default: one per CPU; with --server, jobs in flight across the cluster, default 256)")
	f.BoolVarP(&opts.null, "null", "0", false, "input records are separated by NUL, not newline")
	f.StringVar(&opts.colsep, "colsep", "", "split input lines into columns {1} {2}... at this regular expression")
	f.BoolVarP(&opts.quote, "quote", "q", false, "quote the command words themselves (run them without shell interpretation)")
	f.StringVar(&opts.delay, "delay", "", "wait this long between job starts (seconds, or a duration like 200ms)")
	f.Float64Var(&opts.load, "load", 0, "start no job while the 1-minute load average is above this")
	f.StringVar(&opts.memfree, "memfree", "", "start no job while less memory than this is available (e.g. 1G)")
	f.BoolVar(&opts.lineBuffer, "line-buffer", false, "write output line by line as jobs produce it")
	f.BoolVarP(&opts.ungroup, "ungroup", "u", false, "write output as it comes; lines of different jobs may mix")
	f.BoolVar(&opts.group, "group", false, "write each job's output in one piece when it ends (the default)")
	f.BoolVarP(&opts.keepOrder, "keep-order", "k", false, "write output in input order")
	f.BoolVar(&opts.tag, "tag", false, "prefix output lines with the job's input")
	f.StringVar(&opts.tagString, "tagstring", "", "prefix output lines with this template")
	f.StringVar(&opts.joblog, "joblog", "", "record every job in this file (GNU parallel's format)")
	f.BoolVar(&opts.resume, "resume", false, "skip the jobs the --joblog records")
	f.BoolVar(&opts.resumeFailed, "resume-failed", false, "skip the jobs the --joblog records as succeeded; rerun failed ones")
	f.IntVar(&opts.retries, "retries", 0, "try a failing job up to this many times in all")
	f.StringVar(&opts.timeout, "timeout", "", "kill a job's process group after this many seconds, or N% of the median run time (0: never)")
	f.StringVar(&opts.halt, "halt", "", "stop early: now|soon,fail|success|done=N|N%")
	f.BoolVar(&opts.dryRun, "dry-run", false, "print the commands instead of running them")
	f.StringVar(&opts.results, "results", "", "store each job's output under this directory")
	f.BoolVar(&opts.bar, "bar", false, "show a progress bar on stderr (when it is a terminal)")
	f.BoolVar(&opts.eta, "eta", false, "show progress with an estimate of the time left")
	f.BoolVar(&opts.progress, "progress", false, "show progress")
	f.StringVar(&opts.termSeq, "term-seq", "TERM,200,TERM,100,TERM,50,KILL,25", "signals and waits (ms) used to stop jobs")
	f.StringVar(&opts.server, "server", "", "run the jobs on crew workers through the NATS server at this URL")
	f.StringArrayVarP(&opts.argFiles, "arg-file", "a", nil, "read inputs from this file (like :::: FILE)")
	return cmd
}

func runRun(ctx context.Context, s Streams, opts *runOptions, args []string) error {
	cfg, err := opts.config(s, args)
	if err != nil {
		return &exitStatusError{Code: exitError, Err: plain("", err)}
	}
	for _, c := range cfg.closers {
		defer c()
	}

	// SIGINT and SIGTERM already cancel ctx (root.go); SIGHUP drains.
	drain := make(chan struct{})
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	stopHup := make(chan struct{})
	defer close(stopHup)
	go func() {
		select {
		case <-hup:
			close(drain)
		case <-stopHup:
		}
	}()
	cfg.Drain = drain

	// The runner has no executor of its own: crew says where jobs run.
	cfg.Executor = runner.Local{TermSeq: cfg.termSeq}
	if opts.server != "" {
		ex, release, err := newClusterExecutor(ctx, opts.server, s.Err)
		if err != nil {
			return &exitStatusError{Code: exitError, Err: err}
		}
		if release != nil {
			defer release()
		}
		cfg.Executor = ex
	}
	var bar *barProgress
	if (opts.bar || opts.eta || opts.progress) && isTerminal(s.Err) {
		bar = newBarProgress(s.Err, opts.eta)
		cfg.Progress = bar
	}
	sum, err := runner.Run(ctx, cfg.Config)
	if bar != nil {
		bar.finish()
	}
	if err != nil {
		if errors.Is(err, runner.ErrInterrupted) {
			err = &userError{msg: "interrupted; running jobs were stopped", err: err}
		}
		return &exitStatusError{Code: exitError, Err: plain("", err)}
	}
	if code := sum.ExitStatus(); code != 0 {
		return &exitStatusError{Code: code}
	}
	return nil
}

// userError is an error whose text is meant for crew's user as it is.
type userError struct {
	msg string
	err error
}

func (e *userError) Error() string { return e.msg }
func (e *userError) Unwrap() error { return e.err }

// plain drops the "runner: " prefix from the runner's errors about what it
// was given (*runner.UsageError, *runner.InputError), since the user reads
// "crew: " in front already; flag, when set, names the flag at fault.
// Other errors, which may be crew's own failures, keep saying where they
// came from.
func plain(flag string, err error) error {
	msg := err.Error()
	var ue *runner.UsageError
	var ie *runner.InputError
	switch {
	case errors.As(err, &ue):
		msg = strings.Replace(msg, ue.Error(), ue.Msg, 1)
	case errors.As(err, &ie):
		msg = strings.Replace(msg, ie.Error(), fmt.Sprintf("%s: record %d: %v", ie.Name, ie.Line, ie.Err), 1)
	}
	if flag != "" {
		msg = flag + ": " + msg
	}
	if msg == err.Error() {
		return err
	}
	return &userError{msg: msg, err: err}
}

type runConfig struct {
	runner.Config
	// termSeq is --term-seq, for the local executor.
	termSeq []runner.TermStep
	closers []func()
}

// config turns flags and arguments into a runner.Config, opening input
// files; every malformed value is reported here, before any job starts.
func (o *runOptions) config(s Streams, args []string) (*runConfig, error) {
	rc := &runConfig{}
	c := &rc.Config
	command, inputs, err := splitRunArgs(args)
	if err != nil {
		return nil, err
	}
	// With no command the inputs are the commands (GNU parallel does so).
	c.Command = command
	c.Quote = o.quote
	if len(o.argFiles) > 0 {
		var pre []runInput
		for _, f := range o.argFiles {
			pre = append(pre, runInput{file: f})
		}
		inputs = append(pre, inputs...)
	}
	usedStdin := false
	for _, in := range inputs {
		if !in.isFile {
			if in.file == "" {
				c.Inputs = append(c.Inputs, runner.Input{Values: in.values, Linked: in.linked})
				continue
			}
		}
		if in.file == "-" {
			if usedStdin {
				return nil, errors.New("standard input (-) given twice")
			}
			usedStdin = true
			c.Inputs = append(c.Inputs, runner.Input{Reader: s.In, Name: "stdin", Linked: in.linked})
			continue
		}
		f, err := os.Open(in.file)
		if err != nil {
			rc.close()
			return nil, fmt.Errorf("input file: %w", err)
		}
		rc.closers = append(rc.closers, func() { f.Close() })
		c.Inputs = append(c.Inputs, runner.Input{Reader: f, Name: in.file, Linked: in.linked})
	}
	if len(inputs) == 0 {
		c.Inputs = []runner.Input{{Reader: s.In, Name: "stdin"}}
	}
	c.Null = o.null
	if o.colsep != "" {
		re, err := regexp.Compile(o.colsep)
		if err != nil {
			rc.close()
			return nil, fmt.Errorf("--colsep: %w", err)
		}
		c.ColSep = re
	}
	c.Jobs = runtime.NumCPU()
	if o.server != "" {
		// The workers' own -j bounds what runs; this bounds what waits in
		// the queue, which must be enough to keep every worker busy.
		c.Jobs = defaultInFlight
	}
	if o.jobsSet || o.jobs != "" {
		if c.Jobs, err = runner.ParseJobs(o.jobs, runtime.NumCPU()); err != nil {
			rc.close()
			return nil, err
		}
	}
	if err := o.timing(c); err != nil {
		rc.close()
		return nil, err
	}
	if rc.termSeq, err = parseTermSeq(o.termSeq); err != nil {
		rc.close()
		return nil, err
	}
	c.MaxLoad = o.load
	c.Stdout, c.Stderr = s.Out, s.Err
	switch {
	case o.ungroup:
		c.Output = runner.Ungroup
	case o.lineBuffer:
		c.Output = runner.LineBuffer
	}
	c.KeepOrder = o.keepOrder
	c.Tag, c.TagString = o.tag, o.tagString
	c.JobLog, c.Resume, c.ResumeFailed = o.joblog, o.resume, o.resumeFailed
	if (o.resume || o.resumeFailed) && o.joblog == "" {
		rc.close()
		return nil, errors.New("--resume and --resume-failed need --joblog")
	}
	if o.retries < 0 {
		rc.close()
		return nil, fmt.Errorf("--retries must not be negative, got %d", o.retries)
	}
	c.Retries = o.retries
	c.DryRun, c.Results = o.dryRun, o.results
	c.Log = func(line string) { fmt.Fprintf(s.Err, "crew: %s\n", line) }
	return rc, nil
}

func (rc *runConfig) close() {
	for _, c := range rc.closers {
		c()
	}
}

// timing parses the flags that carry durations, sizes and the halt policy.
func (o *runOptions) timing(c *runner.Config) error {
	var err error
	if o.delay != "" {
		if c.Delay, err = parseSeconds(o.delay); err != nil {
			return fmt.Errorf("--delay: %w", err)
		}
	}
	if o.memfree != "" {
		if c.MemFree, err = runner.ParseSize(o.memfree); err != nil {
			return plain("--memfree", err)
		}
	}
	if o.timeout != "" {
		// 0 and 0% mean no timeout, as in GNU parallel.
		bad := fmt.Errorf("--timeout: bad value %q (want seconds, a duration like 1m30s, or N%% of the median run time)", o.timeout)
		if p, ok := strings.CutSuffix(o.timeout, "%"); ok {
			c.TimeoutPercent, err = strconv.ParseFloat(p, 64)
			if err != nil || !(c.TimeoutPercent >= 0) || c.TimeoutPercent > 1e9 {
				return bad
			}
		} else if c.Timeout, err = parseSeconds(o.timeout); err != nil {
			return bad
		}
	}
	if o.halt != "" {
		if c.Halt, err = runner.ParseHalt(o.halt); err != nil {
			return err
		}
	}
	return nil
}

// parseSeconds reads GNU parallel's seconds ("1.5") or a Go duration ("200ms").
func parseSeconds(v string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f < 1e9 {
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q", v)
	}
	return d, nil
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

// runInput is one input source named on the command line.
type runInput struct {
	values []string
	file   string
	isFile bool
	linked bool
}

// splitRunArgs separates the command from the input sources: ":::" starts
// a group of values, "::::" a group of files (each file one input), and a
// trailing "+" links the group to the previous one.
//
// Empty groups follow GNU parallel: ":::" with no values is an input with
// no values (the runner makes it one empty value when another input has
// some), "::::" with no files adds no input, and a lone separator at the
// very end of the command ("crew run echo :::") is ignored, so standard
// input is read.
func splitRunArgs(args []string) (command []string, inputs []runInput, err error) {
	i := 0
	for i < len(args) && !isSep(args[i]) {
		i++
	}
	command = args[:i]
	if i == len(args)-1 {
		return command, nil, nil
	}
	for i < len(args) {
		sep := args[i]
		i++
		j := i
		for j < len(args) && !isSep(args[j]) {
			j++
		}
		vals := args[i:j]
		linked := strings.HasSuffix(sep, "+")
		if strings.HasPrefix(sep, "::::") {
			for k, f := range vals {
				inputs = append(inputs, runInput{file: f, isFile: true, linked: linked && k == 0})
			}
		} else {
			inputs = append(inputs, runInput{values: vals, linked: linked})
		}
		i = j
	}
	return command, inputs, nil
}

func isSep(a string) bool {
	return a == ":::" || a == ":::+" || a == "::::" || a == "::::+"
}

// barProgress shows --bar, --eta and --progress with progressbar; the
// bar is a spinner until the number of jobs is known. The finished bar
// stays on screen, as GNU parallel's does, so the user sees that every
// job ran.
type barProgress struct {
	mu  sync.Mutex
	bar *progressbar.ProgressBar
}

func newBarProgress(w io.Writer, eta bool) *barProgress {
	return &barProgress{bar: progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("crew run"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(eta),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)}
}

func (b *barProgress) Total(n int64) {
	b.mu.Lock()
	b.bar.ChangeMax64(n)
	b.mu.Unlock()
}

func (b *barProgress) Started(*runner.Job) {}

func (b *barProgress) Finished(*runner.Job, runner.Result) {
	b.mu.Lock()
	_ = b.bar.Add(1)
	b.mu.Unlock()
}

func (b *barProgress) finish() {
	b.mu.Lock()
	_ = b.bar.Finish()
	b.mu.Unlock()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
