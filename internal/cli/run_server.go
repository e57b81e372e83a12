package cli

// crew run --server: the run lives in the broker. Its spec, plan and jobs
// go there first; then crew run either exits (--detach) or waits for the
// results as crew attach does, so that an attach later, from anywhere,
// gives what the attached run gave.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"crew/cluster"
	"crew/runner"
)

// serverOptions are crew run's options about its run in the broker.
type serverOptions struct {
	detach bool
	// given are the flags set on the command line, for the run's spec.
	given []specFlag
	args  []string
}

// defineServerFlags binds --detach.
func defineServerFlags(f *pflag.FlagSet, o *runOptions) {
	f.BoolVar(&o.detach, "detach", false, "with --server: submit every job, print the run id and exit; crew attach RUN shows the output")
}

// parseServerFlags keeps what the run's spec needs and refuses --detach
// where it cannot work.
func parseServerFlags(f *pflag.FlagSet, args []string, o *runOptions) error {
	o.given, o.args = givenFlags(f), args
	if !o.detach {
		return nil
	}
	refuse := func(flag, why string) error {
		return &userError{msg: fmt.Sprintf("%s cannot be used with --detach: %s", flag, why)}
	}
	switch {
	case o.server == "":
		return &userError{msg: "--detach needs --server: only a run in a broker can go on without crew run"}
	case o.timeoutPercent > 0:
		return refuse("--timeout N%", "the jobs' timeouts are fixed when they are submitted, before any job has run")
	case o.resume || o.resumeFailed:
		return refuse("--resume", "crew attach writes the joblog, and it would skip what it finds there")
	case o.shuf:
		return refuse("--shuf", "crew attach replays the run's input, and a shuffle cannot be replayed")
	}
	return nil
}

// runServer is crew run --server: it keeps the run's spec and plan in the
// broker, then submits the jobs; with --detach it prints the run id once
// the broker has them all, otherwise it waits for the results as crew
// attach does.
func runServer(ctx context.Context, opts *runOptions, cfg runner.Config) error {
	if err := checkRemote(&cfg, "--server"); err != nil {
		return err
	}
	if opts.detach && cfg.Pipe != nil {
		return &userError{msg: "--pipe cannot be used with --detach: crew attach replays the run's input, and a --pipe run's input is not kept"}
	}
	var ins []runner.Input
	var closeInputs func()
	var err error
	if cfg.Pipe != nil {
		closeInputs, err = opts.pipe.open(opts.inputs, opts.streams.In)
	} else {
		ins, closeInputs, err = openInputs(opts.inputs, opts.streams.In)
	}
	if err != nil {
		return err
	}
	defer closeInputs()
	// A shuffled run cannot be replayed: it is not kept for attaching;
	// nor is a --pipe run, whose blocks travel as the jobs' stdin.
	var kept [][]byte
	if !opts.shuf && cfg.Pipe == nil {
		if ins, kept, err = keepInputs(ins); err != nil {
			return fmt.Errorf("input: %w", err)
		}
	}
	newRun := &cluster.NewRun{Command: displayCommand(opts.command)}
	if kept == nil && !opts.shuf && cfg.Pipe == nil {
		if opts.detach {
			return &userError{msg: fmt.Sprintf("--detach: the input is over %d MiB, too large to keep in the broker for crew attach", maxKeptInput>>20)}
		}
		fmt.Fprintf(opts.streams.Err, "crew: the input is over %d MiB: this run is not kept for crew attach\n", maxKeptInput>>20)
	}
	if kept != nil {
		spec, err := encodeSpec(&runSpec{Flags: opts.given, Args: opts.args, Inputs: kept})
		if err != nil {
			return err
		}
		newRun.Spec = spec
		planIns, err := keptInputs(opts, &runSpec{Inputs: kept})
		if err != nil {
			return err
		}
		if newRun.Jobs, err = planJobs(ctx, cfg, planIns); err != nil {
			return plain("", err)
		}
		if ins, err = keptInputs(opts, &runSpec{Inputs: kept}); err != nil {
			return err
		}
	}
	cfg.Inputs = ins
	e, err := openClusterExecutor(ctx, opts.server, opts.termSeq, opts.streams.Err, func(c *cluster.ExecutorConfig) {
		c.NewRun = newRun
		c.SubmitOnly = opts.detach
		opts.route(c, opts.streams.Err)
	})
	if err != nil {
		return err
	}
	defer e.Close()
	if opts.detach {
		return submit(ctx, opts, cfg, e, len(newRun.Jobs))
	}
	return follow(ctx, opts, cfg, e, false)
}

// submit runs cfg's jobs into the broker and prints the run id.
func submit(ctx context.Context, opts *runOptions, cfg runner.Config, e *cluster.Executor, planned int) error {
	var failed []string
	cfg.Executor = e
	cfg.Stdout, cfg.Stderr = io.Discard, io.Discard
	cfg.JobLog, cfg.Results, cfg.Progress = "", "", nil
	cfg.Halt, cfg.Retries = runner.Halt{}, 1
	cfg.Log = func(line string) { failed = append(failed, line) }
	sum, err := runner.Run(ctx, cfg)
	if err == nil && sum.Failed > 0 {
		err = fmt.Errorf("%d of %d jobs were not submitted: %s", sum.Failed, sum.Started, strings.Join(failed, "; "))
	}
	if err != nil {
		// Half a run must not go on unseen.
		if c, cerr := cluster.Dial(context.WithoutCancel(ctx), cluster.ConnConfig{URL: opts.server, Credentials: cluster.CredentialsFromEnv()}); cerr == nil {
			_, _ = c.Cancel(context.WithoutCancel(ctx), e.RunID())
			c.Close()
		}
		if errors.Is(err, runner.ErrInterrupted) {
			return &userError{msg: "interrupted; run " + e.RunID() + " cancelled", err: err}
		}
		return plain("", err)
	}
	fmt.Fprintln(opts.streams.Out, e.RunID())
	fmt.Fprintf(opts.streams.Err, "crew: run %s: %d jobs submitted; see them with crew attach %s --server %s\n",
		e.RunID(), sum.Started, e.RunID(), cluster.Redact(brokerURLHint(opts.server)))
	_ = planned
	return nil
}

// follow runs cfg through e, which submits the jobs or attaches to the
// run, and reports the run's end to the broker. attach says crew attach:
// an interrupt then leaves the run to go on.
func follow(ctx context.Context, opts *runOptions, cfg runner.Config, e *cluster.Executor, attach bool) error {
	// A cancel from anywhere (crew cancel) ends the wait at once.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-e.Cancelled():
			stop()
		case <-runCtx.Done():
		}
	}()
	cfg.Executor = e
	sum, err := execute(runCtx, opts, cfg)
	cancelled := isClosed(e.Cancelled()) && ctx.Err() == nil
	stop()
	<-watched
	quiet := context.WithoutCancel(ctx)
	switch {
	case cancelled:
		return &userError{msg: fmt.Sprintf("run %s was cancelled (crew cancel)", e.RunID()), err: cluster.ErrRunCancelled}
	case errors.Is(err, runner.ErrInterrupted) && attach:
		return &userError{msg: fmt.Sprintf("detached from run %s; its jobs go on (crew attach %s)", e.RunID(), e.RunID()), err: err}
	case errors.Is(err, runner.ErrInterrupted):
		_, _ = e.Cancel(quiet)
		return &userError{msg: "interrupted; running jobs were stopped", err: err}
	case err != nil:
		return plain("", err)
	}
	if sum.Halted {
		// The jobs the halt kept from starting may be queued already.
		_, _ = e.Cancel(quiet)
	}
	code := sum.ExitStatus()
	_ = e.Finish(quiet, code)
	if code != 0 {
		return &exitStatusError{Code: code}
	}
	return nil
}

// displayCommand is the command as crew runs shows it.
func displayCommand(words []string) string {
	if len(words) == 0 {
		return "(commands from the input)"
	}
	return strings.Join(words, " ")
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
