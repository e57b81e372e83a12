package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"crew/cluster"
	"crew/internal/natstest"
	"crew/internal/wait"
	"crew/runner"
)

// TestTagRouting: on one broker, a run that requires tags runs only on
// workers that have them all, and a run that requires none runs on any
// worker, tagged or not, at the same time.
func TestTagRouting(t *testing.T) {
	s := natstest.Start(t)
	host := func(p *proc) string { return "w" + strconv.Itoa(p.cmd.Process.Pid) }
	plain := startWorker(t, s.URL, 2)
	gpu := startWorker(t, s.URL, 2, "CREW_CLUSTER_TEST_TAGS=gpu")
	both := startWorker(t, s.URL, 2, "CREW_CLUSTER_TEST_TAGS=bigmem,gpu")
	waitWorkers(t, s.URL, 3)

	runs := []struct {
		require []string
		allowed []string
	}{
		{[]string{"gpu", "bigmem"}, []string{host(both)}},
		{[]string{"gpu"}, []string{host(gpu), host(both)}},
		{nil, []string{host(plain), host(gpu), host(both)}},
	}
	var wg sync.WaitGroup
	for _, r := range runs {
		e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{
			ConnConfig: cluster.ConnConfig{URL: s.URL}, Require: r.require, Batch: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		wg.Go(func() {
			var jobs []*runner.Job
			for i := range 12 {
				jobs = append(jobs, &runner.Job{Seq: int64(i + 1), Command: "sleep 0.05"})
			}
			seen := map[string]int{}
			for _, o := range execAll(context.Background(), e, jobs) {
				if o.res.Err != nil || o.res.Exit != 0 {
					t.Errorf("require %v: job %d: exit %d, %v", r.require, o.res.Seq, o.res.Exit, o.res.Err)
				}
				seen[o.res.Host]++
				if !slices.Contains(r.allowed, o.res.Host) {
					t.Errorf("require %v: job %d ran on %s, want one of %v", r.require, o.res.Seq, o.res.Host, r.allowed)
				}
			}
			t.Logf("require %v: ran on %v", r.require, seen)
		})
	}
	wg.Wait()
}

// TestTagsUnserved: a run whose tags no connected worker has says so
// within seconds, and runs once a worker with them connects.
func TestTagsUnserved(t *testing.T) {
	s := natstest.Start(t)
	startWorker(t, s.URL, 1, "CREW_CLUSTER_TEST_TAGS=cpu")
	waitWorkers(t, s.URL, 1)
	told := make(chan bool, 4)
	e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{
		ConnConfig: cluster.ConnConfig{URL: s.URL}, Require: []string{"gpu"},
		OnServed: func(served bool) { told <- served },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	done := make(chan runner.Result, 1)
	start := time.Now()
	go func() {
		done <- e.Exec(context.Background(), &runner.Job{Seq: 1, Command: "true"}, io.Discard, io.Discard)
	}()
	select {
	case served := <-told:
		if served {
			t.Fatal("told served, want unserved")
		}
		t.Logf("told no worker has the tags after %v", time.Since(start).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("not told within 10s that no worker has the tags")
	case r := <-done:
		t.Fatalf("the job ran on %s, which lacks its tag", r.Host)
	}
	g := startWorker(t, s.URL, 1, "CREW_CLUSTER_TEST_TAGS=gpu,x")
	select {
	case r := <-done:
		if want := "w" + strconv.Itoa(g.cmd.Process.Pid); r.Host != want || r.Exit != 0 {
			t.Errorf("job ran on %s with exit %d, want %s and 0", r.Host, r.Exit, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the job did not run once a worker with its tag connected")
	}
	select {
	case served := <-told:
		if !served {
			t.Error("told unserved again, want served")
		}
	case <-time.After(10 * time.Second):
		t.Error("not told that a worker with the tags connected")
	}
}

// TestBadTags: an empty tag, or one with a character a subject token
// cannot hold, is refused by ParseTags, NewWorker and NewExecutor.
func TestBadTags(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want []string
	}{
		{[]string{"gpu"}, []string{"gpu"}},
		{[]string{"gpu,bigmem", "gpu", "a-b_C1"}, []string{"a-b_C1", "bigmem", "gpu"}},
		{[]string{""}, nil},
		{[]string{"gpu,"}, nil},
		{[]string{",gpu"}, nil},
		{[]string{"gpu,,x"}, nil},
		{[]string{"g.u"}, nil},
		{[]string{"g u"}, nil},
		{[]string{"g*"}, nil},
		{[]string{"g>"}, nil},
		{[]string{"é"}, nil},
		{[]string{fmt.Sprintf("%065d", 0)}, nil},
	} {
		got, err := cluster.ParseTags(c.in)
		if c.want == nil {
			if !errors.Is(err, cluster.ErrBadTag) {
				t.Errorf("ParseTags(%q) = %q, %v; want ErrBadTag", c.in, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("ParseTags(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := cluster.NewWorker(cluster.WorkerConfig{
		ConnConfig: cluster.ConnConfig{URL: "nats://127.0.0.1:4222"}, Executor: runner.Local{}, Tags: []string{""},
	}); !errors.Is(err, cluster.ErrBadTag) {
		t.Errorf("NewWorker with an empty tag: %v, want ErrBadTag", err)
	}
	s := natstest.Start(t)
	if _, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{
		ConnConfig: cluster.ConnConfig{URL: s.URL}, Require: []string{"a.b"},
	}); !errors.Is(err, cluster.ErrBadTag) {
		t.Errorf("NewExecutor requiring a.b: %v, want ErrBadTag", err)
	}
}

// waitWorkers waits until n workers have registered with the server (crew
// workers lists them), so that a test's run does not start before them.
func waitWorkers(t *testing.T, url string, n int) {
	t.Helper()
	c, err := cluster.Dial(context.Background(), cluster.ConnConfig{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wait.Within(t, 20*time.Second, strconv.Itoa(n)+" workers registered", func() bool {
		ws, err := c.Workers(context.Background())
		return err == nil && len(ws) >= n
	})
}

// TestEnvReachesWorker: a job's variables (--env, PARALLEL_SEQ, carried
// in runner.Job.Env) reach its process on a worker, over the worker's
// own value of the same name.
func TestEnvReachesWorker(t *testing.T) {
	s := natstest.Start(t)
	startWorker(t, s.URL, 1, "CREW_TEST_VAR=worker's", "PARALLEL_SEQ=99")
	e := newExecutor(t, s.URL)
	var out strings.Builder
	r := e.Exec(context.Background(), &runner.Job{Seq: 3, Command: `echo "$CREW_TEST_VAR $PARALLEL_SEQ"`,
		Env: []string{"CREW_TEST_VAR=job's", "PARALLEL_SEQ=3"}}, &out, io.Discard)
	if r.Err != nil || out.String() != "job's 3\n" {
		t.Errorf("job printed %q (%v), want %q", out.String(), r.Err, "job's 3\n")
	}
}

// TestCancelTaggedRun: cancelling a run that requires tags no worker has
// removes its queued jobs, which wait under the run's tags.
func TestCancelTaggedRun(t *testing.T) {
	s := natstest.Start(t)
	e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{
		ConnConfig: cluster.ConnConfig{URL: s.URL}, Require: []string{"nobody-has-it"}, Batch: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { e.Exec(ctx, &runner.Job{Seq: int64(i + 1), Command: "true"}, io.Discard, io.Discard) })
	}
	nc, err := nats.Connect(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	queued := func() uint64 {
		st, err := js.Stream(context.Background(), cluster.JobsStream)
		if err != nil {
			return 0
		}
		info, err := st.Info(context.Background())
		if err != nil {
			return 0
		}
		return info.State.Msgs
	}
	wait.For(t, "3 jobs queued", func() bool { return queued() == 3 })
	c, err := cluster.Dial(context.Background(), cluster.ConnConfig{URL: s.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Cancel(context.Background(), e.RunID()); err != nil {
		t.Fatal(err)
	}
	if n := queued(); n != 0 {
		t.Errorf("%d jobs still queued after cancel", n)
	}
	stop()
	wg.Wait()
}
