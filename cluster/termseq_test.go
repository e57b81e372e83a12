package cluster_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"crew/cluster"
	"crew/internal/natstest"
	"crew/internal/wait"
	"crew/runner"
)

// TestTermSeq: a worker stops a job along the termination sequence its
// submitter asked for (ExecutorConfig.TermSeq, crew run --term-seq), not
// its own default, both when the job runs past its timeout and when its
// Exec is cancelled. The job traps TERM and writes a line for each one it
// gets; the sequence sends two TERMs and then KILL, where the default
// sends three TERMs.
func TestTermSeq(t *testing.T) {
	s := natstest.Start(t)
	w, err := cluster.NewWorker(cluster.WorkerConfig{
		ConnConfig: cluster.ConnConfig{URL: s.URL}, Executor: runner.Local{}, Concurrency: 2,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		<-done
	})
	seq := []runner.TermStep{
		{Signal: syscall.SIGTERM, Wait: 300 * time.Millisecond},
		{Signal: syscall.SIGTERM, Wait: 300 * time.Millisecond},
		{Signal: syscall.SIGKILL, Wait: 25 * time.Millisecond},
	}
	e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{
		ConnConfig: cluster.ConnConfig{URL: s.URL}, TermSeq: seq,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })

	// job writes its pid into dir/pid once it traps TERM, and a line into
	// dir/signals for each TERM.
	job := func(dir string, seq int64, timeout time.Duration) *runner.Job {
		sigs, pid := filepath.Join(dir, "signals"), filepath.Join(dir, "pid")
		return &runner.Job{Seq: seq, Timeout: timeout, Command: "trap 'echo TERM >> " + sigs + "' TERM; " +
			"echo $$ > " + pid + ".tmp; mv " + pid + ".tmp " + pid + "; while :; do sleep 0.02; done"}
	}
	signals := func(dir string) string {
		b, _ := os.ReadFile(filepath.Join(dir, "signals"))
		return string(b)
	}
	const want = "TERM\nTERM\n"

	t.Run("timeout", func(t *testing.T) {
		dir := t.TempDir()
		res := e.Exec(context.Background(), job(dir, 1, 300*time.Millisecond), io.Discard, io.Discard)
		if !res.TimedOut || res.Signal != int(syscall.SIGKILL) || res.Err != nil {
			t.Errorf("result %+v, want timed out and killed by SIGKILL", res)
		}
		if got := signals(dir); got != want {
			t.Errorf("the job got signals %q, want %q (the submitter's sequence)", got, want)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		dir := t.TempDir()
		jctx, cancel := context.WithCancel(context.Background())
		ended := make(chan runner.Result, 1)
		go func() { ended <- e.Exec(jctx, job(dir, 2, 0), io.Discard, io.Discard) }()
		var pid int
		wait.For(t, "the job to start", func() bool {
			b, err := os.ReadFile(filepath.Join(dir, "pid"))
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			return err == nil && pid > 0
		})
		cancel()
		if res := <-ended; res.Err == nil {
			t.Errorf("cancelled Exec returned %+v, want ctx's error", res)
		}
		wait.For(t, "the job's process to end", func() bool { return syscall.Kill(pid, 0) != nil })
		if got := signals(dir); got != want {
			t.Errorf("the job got signals %q, want %q (the submitter's sequence)", got, want)
		}
	})
}

// TestTermSeqRefused: NewExecutor refuses a termination step no process
// could be sent.
func TestTermSeqRefused(t *testing.T) {
	for _, step := range []runner.TermStep{{Signal: 0}, {Signal: 65}, {Signal: syscall.SIGTERM, Wait: -time.Second}} {
		_, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{
			ConnConfig: cluster.ConnConfig{URL: "nats://127.0.0.1:1"}, TermSeq: []runner.TermStep{step},
		})
		if err == nil || !strings.Contains(err.Error(), "termination step") {
			t.Errorf("step %+v: NewExecutor error %v, want a bad termination step", step, err)
		}
	}
}
