package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"crew/internal/wait"
	"crew/runner"
)

// abortGrace is how long ServeSSHWorker waits, once its session is gone,
// for its running jobs to stop along their termination sequences before
// it returns anyway.
const abortGrace = 2 * time.Second

// ServeSSHWorker is the far side of an SSH run: what `crew worker --ssh`
// runs on each host that crew run -S reaches. It reads from in, the SSH
// session's standard input, one JSON line (the broker's forwarded address
// on this host's loopback, the run's token, the slots, the host's name and
// tags), and runs a Worker with ex on it. The token so never appears on a
// command line or in the environment. It answers on out, the session's
// standard output, with one line once it watches in (see protocol.go).
//
// It then watches in. Its end is the end of the session: crew closed it
// because the run is over (the worker holds no jobs then), or crew was
// interrupted or killed, or the connection broke. ServeSSHWorker then
// takes no more jobs, stops the running ones along their termination
// sequences and returns nil once they have ended (after about two
// seconds at most, whatever they do). The caller should exit then,
// without waiting for anything else: that is how no worker, and no job,
// outlives its session.
func ServeSSHWorker(ctx context.Context, in io.Reader, out io.Writer, log *slog.Logger, ex runner.Local) error {
	if log == nil {
		log = slog.Default()
	}
	r := bufio.NewReader(in)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("cluster: reading the run's settings from crew: %w", err)
	}
	var hello sshHello
	if err := json.Unmarshal(line, &hello); err != nil {
		return fmt.Errorf("cluster: the run's settings from crew: %w", err)
	}
	if !loopbackOnly(hello.URL) {
		return fmt.Errorf("cluster: the run's broker must be on this host's loopback, not %s", Redact(hello.URL))
	}
	abortCtx, abort := context.WithCancel(context.Background())
	defer abort()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	// hello.Tags, the host's @groups, are for the worker's tags once
	// WorkerConfig has them (issue 14 §2, routing).
	ab := &abortable{abort: abortCtx}
	ab.inner = ex
	w, err := NewWorker(WorkerConfig{
		ConnConfig:  ConnConfig{URL: hello.URL, Credentials: Credentials{Token: hello.Token}, Name: "crew worker --ssh " + hello.Host},
		Executor:    ab,
		Concurrency: hello.slots(),
		Host:        hello.Host,
		Tags:        hello.Tags,
		AckWait:     hello.AckWait,
		Logger:      log,
		ephemeral:   true, // the run's own broker, which ends with it
	})
	if err != nil {
		return err
	}
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, r)
		abort()
		stop()
		close(closed)
	}()
	// A failed write means the session is gone, which in says too.
	_, _ = io.WriteString(out, readyMark+"\n")
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	select {
	case err := <-done:
		return err
	case <-closed:
	}
	ab.wait(abortGrace)
	return nil
}

// abortable runs jobs with inner, stopping them all, each along its
// termination sequence, when abort ends.
type abortable struct {
	inner   runner.Local
	abort   context.Context
	running atomic.Int64 // Execs in progress
}

func (a *abortable) Exec(ctx context.Context, job *runner.Job, stdout, stderr io.Writer) runner.Result {
	return a.run(ctx, a.inner, job, stdout, stderr)
}

func (a *abortable) run(ctx context.Context, l runner.Local, job *runner.Job, stdout, stderr io.Writer) runner.Result {
	a.running.Add(1)
	defer a.running.Add(-1)
	if a.abort.Err() != nil {
		return runner.Result{Seq: job.Seq, Exit: -1, Start: time.Now(), Err: errors.New("the SSH session closed")}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(a.abort, cancel)
	defer stop()
	return l.Exec(ctx, job, stdout, stderr)
}

// wait waits until no job runs, or d has passed.
func (a *abortable) wait(d time.Duration) {
	wait.Until(d, func() bool { return a.running.Load() == 0 })
}

// withTermSeq returns an Executor that runs jobs as a does, stopping them
// along seq (see executorFor).
func (a *abortable) withTermSeq(seq []runner.TermStep) runner.Executor {
	return termSeqExec{a, seq}
}

type termSeqExec struct {
	a   *abortable
	seq []runner.TermStep
}

func (t termSeqExec) Exec(ctx context.Context, job *runner.Job, stdout, stderr io.Writer) runner.Result {
	l := t.a.inner
	l.TermSeq = t.seq
	return t.a.run(ctx, l, job, stdout, stderr)
}

// slots is how many jobs run at once here.
func (h sshHello) slots() int {
	if h.Slots > 0 {
		return h.Slots
	}
	if h.Jobs != "" {
		if n, err := runner.ParseJobs(h.Jobs, runtime.NumCPU()); err == nil && n > 0 {
			return n
		}
	}
	return runtime.NumCPU()
}
