package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	"crew/runner"
)

// runOptions is what crew run is asked to do: its flags parsed
// (runFlags.parse) and its arguments split into the command and the input
// sources. runRun turns them into a runner.Config.
type runOptions struct {
	streams Streams

	// command is the command template's words; with none, the inputs are
	// the commands, as in GNU parallel.
	command []string
	// inputs are the -a files, then the ::: and :::: groups in order.
	inputs []runInput

	jobs           int
	null, quote    bool
	colSep         *regexp.Regexp
	delay          time.Duration
	load           float64
	memFree        int64
	output         runner.OutputMode
	keepOrder, tag bool
	tagString      string
	joblog         string
	resume         bool
	resumeFailed   bool
	retries        int
	timeout        time.Duration
	timeoutPercent float64
	halt           runner.Halt
	dryRun         bool
	results        string
	// progress is --bar, --eta or --progress; eta adds the time left.
	progress, eta bool
	termSeq       []runner.TermStep
	server        string
	serverOptions
	// inputOptions: -n, -N, -L, -X, -m, --header and the other input
	// forms (run_input_flags.go).
	inputOptions
	// records holds --retry-failed, --files, --report and --joblog's +.
	records recordFlags
	// ssh is -S and its company (run_ssh.go).
	ssh sshOptions
	filesOptions
	// pipe is --pipe and its family (run_pipe.go).
	pipe pipeOptions
	// tmplOptions: -I and its kin, --plus, --env (run_tmpl_flags.go).
	tmplOptions
}

const runLong = `Run a command for each input, many at once, with GNU parallel's syntax.

Inputs come from arguments after :::, files after ::::, or standard input
(one input per line). Several ::: groups combine as a cross product; :::+
pairs a group with the previous one. Replacement strings in the command:
  {}  the input            {.}  without extension    {/}  basename
  {//} dirname             {/.} basename without extension
  {#} job number           {%}  job slot             {1} {2}.. input group/column
  {1.} {-1/} ...  the same for one argument (from the end when negative)
  {name}  the column --header : named "name"
With no replacement string the input is appended. Values are shell-quoted,
unless the command starts with one ({} alone runs each input as a command).
With several inputs per job (-N, -m, -X) {} is all of them; with -X (and -N)
the word around {} is repeated for each: -X mv f{} d ::: 1 2 runs mv f1 f2 d.
--plus adds {..} {+.} {+/} {##} {:-default} {%suffix} {/old/new} and more
(see --plus below); -I STR, --er, --bnr, ... rename {} {.} {/} ...
Every job sees $PARALLEL_SEQ, $PARALLEL_JOBSLOT and $PARALLEL_PID; --env NAME
also gives it crew's NAME on cluster workers.
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
  # two inputs per job; as many per command line as fit
  crew run -N2 mv {1} {2} :::: pairs.txt
  ls *.jpg | crew run -X cp {} backup/
  # a CSV file with quoted fields, columns named by its first line
  crew run --csv --header : mail -s {subject} {to} :::: mails.csv
  # rerun only the jobs the joblog records as failed, with their commands
  crew run --joblog jobs.log --retry-failed
  # one CSV record per job (command, exit status, output) instead of output
  crew run --results out.csv ./test.sh ::: a b c
  # a page with a timeline of the run and its run times
  crew run --report run.html -j8 ./test.sh ::: $(seq 500)
  # on two hosts over SSH (4 slots on host1) and this machine
  crew run -S 4/me@host1,host2,: gzip {} ::: *.log
  # once on every host
  crew run -S host1,host2 --nonall uptime
  # rename *.tar.gz to *.tgz (--plus: {..} drops two extensions)
  crew run --plus mv {} {..}.tgz ::: *.tar.gz
  # a custom replacement string, as with xargs -I
  cat hosts | crew run -I HOST ssh HOST uptime
  # one GPU per job slot
  crew run -j4 'CUDA_VISIBLE_DEVICES=$((PARALLEL_JOBSLOT-1)) ./train {}' ::: cfg*
  # stop when 10% of the jobs have failed, letting running ones finish
  crew run --halt soon,fail=10% --retries 3 --timeout 60 fetch {} :::: urls
  # on crew workers with a GPU: send each scene, bring the image back
  crew run --server $URL --require gpu --trc {.}.png --retries 3 --retry-delay 2 'render {} > {.}.png' ::: *.blend`

func newRunCmd(s Streams, runF func(context.Context, *runOptions) error) *cobra.Command {
	opts := &runOptions{streams: s}
	var fl runFlags
	cmd := &cobra.Command{
		Use:     "run [flags] [COMMAND [ARGS...]] [::: VALUES...] [:::: FILES...]",
		Short:   "Run a command for each input, many at once (GNU parallel syntax)",
		Long:    runLong + "\n" + pipeHelp,
		Example: runExample,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := fl.parse(cmd.Flags(), args, opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRun(cmd.Context(), opts)
		},
	}
	fl.define(cmd.Flags(), opts)
	return cmd
}

func runRun(ctx context.Context, opts *runOptions) error {
	if opts.recordEnv {
		return recordEnv()
	}
	cfg := opts.config()
	if err := opts.checkRequire(); err != nil {
		return err
	}
	if opts.server != "" && !cfg.DryRun {
		return runServer(ctx, opts, cfg)
	}
	var inputs []runner.Input
	var closeInputs func()
	var err error
	if cfg.Pipe != nil {
		closeInputs, err = opts.pipe.open(opts.inputs, opts.streams.In)
	} else {
		inputs, closeInputs, err = openInputs(opts.inputs, opts.streams.In)
	}
	if err != nil {
		return err
	}
	defer closeInputs()
	cfg.Inputs = inputs
	// The runner has no executor of its own: crew says where jobs run.
	cfg.Executor = runner.Local{TermSeq: opts.termSeq}
	if opts.ssh.nonall || opts.ssh.onall {
		// SIGINT and SIGTERM already cancel ctx (MainArgs); SIGHUP drains.
		drain, stopDrain := drainOnHangup()
		defer stopDrain()
		cfg.Drain = drain
		return runOnAll(ctx, opts, cfg)
	}
	if opts.ssh.active() {
		ex, release, err := newSSHExecutor(ctx, opts, &cfg)
		if err != nil {
			return err
		}
		defer release()
		cfg.Executor = ex
	}
	sum, err := execute(ctx, opts, cfg)
	if err != nil {
		if errors.Is(err, runner.ErrInterrupted) {
			err = &userError{msg: "interrupted; running jobs were stopped", err: err}
		}
		return plain("", err)
	}
	if code := sum.ExitStatus(); code != 0 {
		return &exitStatusError{Code: code}
	}
	return nil
}

// execute runs cfg as crew run does: SIGHUP drains, --bar shows progress.
func execute(ctx context.Context, opts *runOptions, cfg runner.Config) (runner.Summary, error) {
	// SIGINT and SIGTERM already cancel ctx (MainArgs); SIGHUP drains.
	drain, stopDrain := drainOnHangup()
	defer stopDrain()
	cfg.Drain = drain
	var shown progresses
	var finish []func()
	switch {
	case opts.progress && isTerminal(opts.streams.Err):
		bar := newBarProgress(opts.streams.Err, opts.eta)
		shown, finish = append(shown, bar), append(finish, bar.finish)
	case opts.progress:
		lines := newLineProgress(opts.streams.Err, opts.eta, opts.records.bar)
		shown, finish = append(shown, lines), append(finish, lines.finish)
	}
	var rep *runReport
	if opts.records.report != "" {
		var err error
		if rep, err = newRunReport(opts.records.report, opts); err != nil {
			return runner.Summary{}, err
		}
		shown = append(shown, rep)
	}
	if len(shown) > 0 {
		cfg.Progress = shown
	}
	sum, err := runner.Run(ctx, cfg)
	for _, f := range finish {
		f()
	}
	if rep != nil {
		// Written whatever the run's outcome: an interrupted or failing
		// run is when the picture helps most.
		if rerr := rep.write(sum); rerr != nil && err == nil {
			err = rerr
		}
	}
	return sum, err
}

// config is the runner.Config of opts, short of the inputs, the executor
// and the drain, which runRun adds.
func (o *runOptions) config() runner.Config {
	c := runner.Config{
		Command:        o.command,
		Quote:          o.quote,
		Null:           o.null,
		ColSep:         o.colSep,
		Jobs:           o.jobs,
		Delay:          o.delay,
		MaxLoad:        o.load,
		MemFree:        o.memFree,
		Stdout:         o.streams.Out,
		Stderr:         o.streams.Err,
		Output:         o.output,
		KeepOrder:      o.keepOrder,
		Tag:            o.tag,
		TagString:      o.tagString,
		JobLog:         o.joblog,
		Resume:         o.resume,
		ResumeFailed:   o.resumeFailed,
		Retries:        o.retries,
		Timeout:        o.timeout,
		TimeoutPercent: o.timeoutPercent,
		Halt:           o.halt,
		DryRun:         o.dryRun,
		Results:        o.results,
		Log:            func(line string) { fmt.Fprintf(o.streams.Err, "crew: %s\n", line) },
	}
	o.inputOptions.apply(&c)
	o.records.apply(&c)
	o.filesOptions.apply(&c)
	o.pipe.apply(&c)
	o.applyTemplate(&c)
	return c
}
