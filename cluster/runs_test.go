package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"crew/cluster"
	"crew/internal/natstest"
	"crew/internal/wait"
	"crew/runner"
)

func dial(t *testing.T, url string) *cluster.Client {
	t.Helper()
	c, err := cluster.Dial(context.Background(), cluster.ConnConfig{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func plan(cmds ...string) []cluster.PlannedJob {
	p := make([]cluster.PlannedJob, len(cmds))
	for i, c := range cmds {
		p[i] = cluster.PlannedJob{Seq: int64(i + 1), Input: fmt.Sprint(i + 1), Command: c}
	}
	return p
}

func startRun(t *testing.T, url string, nr *cluster.NewRun) *cluster.Executor {
	t.Helper()
	e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{ConnConfig: cluster.ConnConfig{URL: url}, NewRun: nr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// TestRunsReadAPI runs jobs on real worker processes and reads the run
// back: counts, jobs with their worker and exit status, the workers.
func TestRunsReadAPI(t *testing.T) {
	s := natstest.Start(t)
	w := startWorker(t, s.URL, 2)
	c := dial(t, s.URL)
	wait.For(t, "the worker registered", func() bool {
		ws, err := c.Workers(context.Background())
		return err == nil && len(ws) == 1
	})

	cmds := []string{"echo a", "exit 3", "echo c"}
	e := startRun(t, s.URL, &cluster.NewRun{Command: "echo {}", Jobs: plan(cmds...)})
	jobs := make([]*runner.Job, len(cmds))
	for i, cmd := range cmds {
		jobs[i] = &runner.Job{Seq: int64(i + 1), Command: cmd}
	}
	execAll(context.Background(), e, jobs)

	ctx := context.Background()
	info, err := c.Run(ctx, e.RunID())
	if err != nil {
		t.Fatal(err)
	}
	if info.Total != 3 || info.Done != 2 || info.Failed != 1 || info.Queued != 0 || info.State != cluster.RunDone {
		t.Errorf("run = %+v, want 3 jobs, 2 done, 1 failed, state done", info)
	}
	got, err := c.Jobs(ctx, e.RunID())
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, j := range got {
		if !strings.HasPrefix(j.Worker, "w") || j.Start.IsZero() {
			t.Errorf("job %d: worker %q start %v", j.Seq, j.Worker, j.Start)
		}
		lines = append(lines, fmt.Sprintf("%d %s %s %s exit %d", j.Seq, j.Input, j.Command, j.State, j.Exit))
	}
	want := "1 1 echo a done exit 0|2 2 exit 3 failed exit 3|3 3 echo c done exit 0"
	if s := strings.Join(lines, "|"); s != want {
		t.Errorf("jobs:\n got %s\nwant %s", s, want)
	}
	runs, err := c.Runs(ctx)
	if err != nil || len(runs) != 1 || runs[0].ID != e.RunID() || runs[0].Command != "echo {}" {
		t.Errorf("Runs = %+v, %v", runs, err)
	}
	ws, err := c.Workers(ctx)
	if err != nil || len(ws) != 1 || ws[0].Slots != 2 || !strings.HasPrefix(ws[0].Host, "w") {
		t.Errorf("Workers = %+v, %v", ws, err)
	}
	if time.Since(ws[0].LastSeen) > 10*time.Second {
		t.Errorf("last heartbeat %v ago", time.Since(ws[0].LastSeen))
	}
	w.signal(syscall.SIGTERM)
	wait.For(t, "the worker's registration is gone", func() bool {
		ws, err := c.Workers(ctx)
		return err == nil && len(ws) == 0
	})
}

// TestRunsCancel cancels a run with jobs running and queued: the running
// ones are stopped, the queued ones deleted, the submitter's Execs return
// ErrRunCancelled; cancelling again, or an unknown run, changes nothing.
func TestRunsCancel(t *testing.T) {
	s := natstest.Start(t)
	startWorker(t, s.URL, 2)
	c := dial(t, s.URL)
	ctx := context.Background()

	cmds := make([]string, 6)
	for i := range cmds {
		cmds[i] = "sleep 30"
	}
	e := startRun(t, s.URL, &cluster.NewRun{Command: "sleep 30", Jobs: plan(cmds...)})
	other := startRun(t, s.URL, &cluster.NewRun{Command: "echo other", Jobs: plan("echo other")})
	jobs := make([]*runner.Job, len(cmds))
	for i, cmd := range cmds {
		jobs[i] = &runner.Job{Seq: int64(i + 1), Command: cmd}
	}
	done := make(chan []outcome)
	go func() { done <- execAll(ctx, e, jobs) }()
	wait.For(t, "two jobs running", func() bool {
		info, err := c.Run(ctx, e.RunID())
		return err == nil && info.Running == 2
	})
	before, err := c.Cancel(ctx, e.RunID())
	if err != nil {
		t.Fatal(err)
	}
	if before.Running != 2 || before.Queued != 4 {
		t.Errorf("before cancel: %+v, want 2 running, 4 queued", before)
	}
	// The queue holds none of its jobs: a worker that comes later finds
	// nothing of the run.
	if n := queuedMsgs(t, s.URL, cluster.JobsSubject+"."+e.RunID()); n != 0 {
		t.Errorf("%d messages of the cancelled run still queued", n)
	}
	start := time.Now()
	for _, o := range <-done {
		if !errors.Is(o.res.Err, cluster.ErrRunCancelled) && o.res.Signal == 0 {
			t.Errorf("job %d: %+v, want cancelled", o.res.Seq, o.res)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Execs took %v to return after the cancel", d)
	}
	if _, err := c.Cancel(ctx, e.RunID()); !errors.Is(err, cluster.ErrRunCancelled) {
		t.Errorf("second cancel: %v, want ErrRunCancelled", err)
	}
	if _, err := c.Cancel(ctx, "NOSUCHRUN"); !errors.Is(err, cluster.ErrNoRun) {
		t.Errorf("cancel of an unknown run: %v, want ErrNoRun", err)
	}
	got, err := c.Jobs(ctx, e.RunID())
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range got {
		if j.State != cluster.JobCancelled && j.State != cluster.JobFailed {
			t.Errorf("job %d: %s, want cancelled or failed", j.Seq, j.State)
		}
	}
	wait.For(t, "no job of the cancelled run runs", func() bool {
		info, err := c.Run(ctx, e.RunID())
		return err == nil && info.Running == 0
	})
	// The other run is untouched.
	var out strings.Builder
	res := other.Exec(ctx, &runner.Job{Seq: 1, Command: "echo other"}, &out, &out)
	if res.Exit != 0 || out.String() != "other\n" {
		t.Errorf("other run: %+v %q", res, out.String())
	}
}

// TestRetention: a broker keeps finished runs as long as its retention
// says, then forgets them: their ids are unknown, as a mistyped one is.
func TestRetention(t *testing.T) {
	b, err := cluster.StartBroker(cluster.BrokerConfig{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", Retention: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close) // last: the worker and the run go first
	startWorker(t, b.URL(), 1)
	c := dial(t, b.URL())
	ctx := context.Background()
	e := startRun(t, b.URL(), &cluster.NewRun{Command: "true", Jobs: plan("true"), Spec: []byte("x")})
	if res := e.Exec(ctx, &runner.Job{Seq: 1, Command: "true"}, io.Discard, io.Discard); res.Exit != 0 {
		t.Fatalf("job: %+v", res)
	}
	if err := e.Finish(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if info, err := c.Run(ctx, e.RunID()); err != nil || info.State != cluster.RunDone {
		t.Fatalf("run right after: %+v, %v", info, err)
	}
	wait.For(t, "the run is forgotten", func() bool {
		_, err := c.Run(ctx, e.RunID())
		return errors.Is(err, cluster.ErrNoRun)
	})
	if _, err := c.Spec(ctx, e.RunID()); !errors.Is(err, cluster.ErrNoRun) {
		t.Errorf("spec of a forgotten run: %v, want ErrNoRun", err)
	}
	if _, err := cluster.StartBroker(cluster.BrokerConfig{Listen: "127.0.0.1:0", Retention: -time.Second}); err == nil {
		t.Error("a negative retention was accepted")
	}
}

// TestAttach: an Executor attached to a run serves the results stored
// already without running their jobs again, and runs the jobs nobody
// submitted; each job's output comes once. Attaching to an unknown or a
// cancelled run fails at once.
func TestAttach(t *testing.T) {
	s := natstest.Start(t)
	startWorker(t, s.URL, 2)
	ctx := context.Background()
	dir := t.TempDir()
	job := func(seq int) *runner.Job {
		return &runner.Job{Seq: int64(seq), Command: fmt.Sprintf("echo %d >> %s/ran; echo out %d", seq, dir, seq)}
	}
	first := startRun(t, s.URL, &cluster.NewRun{Command: "echo"})
	for seq := 1; seq <= 3; seq++ {
		if res := first.Exec(ctx, job(seq), io.Discard, io.Discard); res.Exit != 0 {
			t.Fatalf("job %d: %+v", seq, res)
		}
	}
	first.Close() // the submitter goes away with jobs 4 and 5 never sent

	e, err := cluster.NewExecutor(ctx, cluster.ExecutorConfig{ConnConfig: cluster.ConnConfig{URL: s.URL}, Attach: first.RunID()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	jobs := make([]*runner.Job, 5)
	for i := range jobs {
		jobs[i] = job(i + 1)
	}
	// Bounded: a result the attach failed to find would wait forever.
	jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for i, o := range execAll(jctx, e, jobs) {
		if o.res.Exit != 0 || o.stdout != fmt.Sprintf("out %d\n", i+1) {
			t.Errorf("job %d: %+v, stdout %q", i+1, o.res, o.stdout)
		}
	}
	ran, _ := os.ReadFile(dir + "/ran")
	if got := strings.Fields(string(ran)); len(got) != 5 {
		t.Errorf("jobs ran: %v, want each of 1-5 once", got)
	}

	if err := e.Finish(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Cancel(ctx); !errors.Is(err, cluster.ErrRunFinished) {
		t.Errorf("cancel of a finished run: %v, want ErrRunFinished", err)
	}
	cancelled := startRun(t, s.URL, nil)
	if _, err := cancelled.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		run  string
		want error
	}{{"NOSUCHRUN", cluster.ErrNoRun}, {"bad.id", cluster.ErrNoRun}, {cancelled.RunID(), cluster.ErrRunCancelled}} {
		_, err := cluster.NewExecutor(ctx, cluster.ExecutorConfig{ConnConfig: cluster.ConnConfig{URL: s.URL}, Attach: c.run})
		if !errors.Is(err, c.want) {
			t.Errorf("attach %s: %v, want %v", c.run, err, c.want)
		}
	}
}

// queuedMsgs counts the messages on subject in the jobs stream.
func queuedMsgs(t *testing.T, url, subject string) uint64 {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(context.Background(), cluster.JobsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}
