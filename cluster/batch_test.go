package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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

// warmUp runs a few short jobs, one after another, so a worker has taken
// jobs, and then tells the executor that jobs take 1 ms, what `true`
// takes on a quiet machine. The batching tests test batching, not the
// run-time estimate: on a machine at load 25, `true` took over 30 ms
// (batchSpan), which rightly turns batching off and failed them.
func warmUp(t *testing.T, e *cluster.Executor) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range warmUps {
		if r := execAll(ctx, e, []*runner.Job{{Seq: int64(1_000_000 + i), Command: "true"}})[0].res; r.Err != nil || r.Exit != 0 {
			t.Fatalf("warm-up: %+v", r)
		}
	}
	cluster.AssumeRuntime(e, time.Millisecond)
}

const warmUps = 4

// TestBatch sends many short jobs at once: they travel several to a
// message, each job's output (large ones through the object store) comes
// back to its own Exec, and each message's result is recorded once.
func TestBatch(t *testing.T) {
	natstest.Run(t, func(t *testing.T, s *natstest.Server) {
		startWorker(t, s.URL, 2)
		startWorker(t, s.URL, 2)
		for _, batch := range []int{0, 1} {
			t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
				e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{ConnConfig: cluster.ConnConfig{URL: s.URL}, Batch: batch})
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				warmUp(t, e)
				const n, bigEvery, big = 200, 40, 300_000
				jobs := make([]*runner.Job, n)
				for i := range jobs {
					cmd := fmt.Sprintf("echo job %d; echo err %d >&2", i, i)
					if i%bigEvery == 0 {
						cmd = fmt.Sprintf("head -c %d /dev/zero", big)
					}
					jobs[i] = &runner.Job{Seq: int64(i + 1), Command: cmd}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				got := execAll(ctx, e, jobs)
				for i, g := range got {
					wantOut, wantErr := fmt.Sprintf("job %d\n", i), fmt.Sprintf("err %d\n", i)
					if i%bigEvery == 0 {
						wantOut, wantErr = strings.Repeat("\x00", big), ""
					}
					if g.res.Err != nil || g.res.Exit != 0 || g.res.Seq != int64(i+1) ||
						g.stdout != wantOut || g.stderr != wantErr {
						t.Errorf("job %d: %+v, stdout %d bytes %.20q, stderr %q", i, g.res, len(g.stdout), g.stdout, g.stderr)
					}
				}
				sent, msgs := e.Sent()
				t.Logf("%d jobs in %d messages", sent, msgs)
				if sent != n+warmUps {
					t.Errorf("sent %d jobs, want %d", sent, n+warmUps)
				}
				switch {
				case batch == 1 && msgs != sent:
					t.Errorf("Batch 1 sent %d jobs in %d messages", sent, msgs)
				case batch == 0 && msgs > sent*3/4:
					t.Errorf("%d jobs took %d messages: not batched", sent, msgs)
				}
				revs := resultRevisions(t, s.URL, e.RunID())
				if int64(len(revs)) != msgs {
					t.Errorf("%d results stored for %d messages", len(revs), msgs)
				}
				for k, r := range revs {
					if r != 1 {
						t.Errorf("result %s written %d times", k, r)
					}
				}
			})
		}
	})
}

// TestBatchWorkerKilled kills a worker while it runs batched jobs: the
// batches it held are redelivered whole after the ack wait and finish on
// another worker; every job's result arrives, each stored result once.
func TestBatchWorkerKilled(t *testing.T) {
	s := natstest.Start(t)
	dir := t.TempDir()
	e := newExecutor(t, s.URL)
	a := startWorker(t, s.URL, 2)
	warmUp(t, e)
	const n = 24
	jobs := make([]*runner.Job, n)
	for i := range jobs {
		mark := filepath.Join(dir, fmt.Sprintf("ran.%d", i+1))
		jobs[i] = &runner.Job{Seq: int64(i + 1), Command: fmt.Sprintf("echo $$ >> %s; sleep 0.3; echo done %d", mark, i+1)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := execBatched(ctx, t, e, jobs)
	waitFiles(t, dir, 2)
	a.kill()
	<-a.done
	startWorker(t, s.URL, 4)
	got := <-res
	twice := 0
	for i, g := range got {
		if g.res.Exit != 0 || g.res.Err != nil || g.stdout != fmt.Sprintf("done %d\n", i+1) {
			t.Errorf("job %d: %+v stdout %q", i+1, g.res, g.stdout)
		}
		b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("ran.%d", i+1)))
		if strings.Count(string(b), "\n") > 1 {
			twice++
		}
	}
	sent, msgs := e.Sent()
	t.Logf("%d jobs in %d messages; %d jobs ran twice", sent, msgs, twice)
	if msgs >= sent {
		t.Errorf("%d jobs took %d messages: not batched", sent, msgs)
	}
	if twice == 0 {
		t.Error("no job ran twice: the killed worker's batch was not redelivered")
	}
	for k, revs := range resultRevisions(t, s.URL, e.RunID()) {
		if revs != 1 {
			t.Errorf("result %s written %d times", k, revs)
		}
	}
}

func TestBatchNegative(t *testing.T) {
	if _, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{ConnConfig: cluster.ConnConfig{URL: "nats://127.0.0.1:1"}, Batch: -1}); err == nil || !strings.Contains(err.Error(), "batch") {
		t.Fatalf("err = %v, want a batch error", err)
	}
}

// TestBatchCrash puts a job that kills its worker into a batch: the
// batch comes back, is split into its jobs, the killer alone ends in the
// dead letters, and its batch-mates succeed. (Workers run one job at a
// time: jobs running beside a killer when it strikes count a run too.)
func TestBatchCrash(t *testing.T) {
	s := natstest.Start(t)
	e := newExecutor(t, s.URL)
	env := []string{"CREW_CLUSTER_TEST_MAXDELIVER=3"}
	first := startWorker(t, s.URL, 1, env...)
	warmUp(t, e)
	const n = 40
	jobs := make([]*runner.Job, n)
	for i := range jobs {
		jobs[i] = &runner.Job{Seq: int64(i + 1), Command: fmt.Sprintf("echo ok %d", i+1)}
	}
	jobs[n/2].Command = "crash"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := execBatched(ctx, t, e, jobs)
	var got []outcome
	w := first
wait:
	for {
		select {
		case got = <-res:
			break wait
		case <-w.done:
			w = startWorker(t, s.URL, 1, env...)
		}
	}
	for i, g := range got {
		if i == n/2 {
			if !errors.Is(g.res.Err, cluster.ErrDead) {
				t.Errorf("crashing job: %+v, want ErrDead", g.res)
			}
			continue
		}
		if g.res.Err != nil || g.res.Exit != 0 || g.stdout != fmt.Sprintf("ok %d\n", i+1) {
			t.Errorf("job %d: %+v stdout %q", i+1, g.res, g.stdout)
		}
	}
	sent, msgs := e.Sent()
	t.Logf("%d jobs in %d messages", sent, msgs)
	if msgs >= sent {
		t.Errorf("%d jobs took %d messages: not batched", sent, msgs)
	}
	if n := splitBatches(t, s.URL, e.RunID()); n == 0 {
		t.Error("no batch was split")
	}
}

// splitBatches counts the run's batches that a worker split.
func splitBatches(t *testing.T, url, run string) int {
	t.Helper()
	n := 0
	eachResult(t, url, run, func(_ string, h []jetstream.KeyValueEntry) {
		if string(h[len(h)-1].Value()) == `{"split":true}` {
			n++
		}
	})
	return n
}

// TestCancelQueued cancels jobs that no worker holds yet, alone and in
// batches, as an interrupted or halted run does: their messages leave
// the queue, so no worker runs them later.
func TestCancelQueued(t *testing.T) {
	for _, batch := range []int{0, 1} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			s := natstest.Start(t)
			e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{ConnConfig: cluster.ConnConfig{URL: s.URL}, Batch: batch})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			// A worker teaches the executor that jobs are short, then leaves.
			w := startWorker(t, s.URL, 1)
			warmUp(t, e)
			w.signal(syscall.SIGTERM)
			<-w.done
			const n = 40
			jobs := make([]*runner.Job, n)
			for i := range jobs {
				jobs[i] = &runner.Job{Seq: int64(i + 1), Command: "true"}
			}
			ctx, cancel := context.WithCancel(context.Background())
			res := execBatched(ctx, t, e, jobs)
			wait.For(t, "all jobs queued", func() bool {
				sent, msgs := e.Sent()
				m, ok := queued(s.URL)
				return sent == n+warmUps && ok && m == uint64(msgs-warmUps)
			})
			sent, msgs := e.Sent()
			t.Logf("%d jobs in %d messages", sent, msgs)
			if batch == 0 && msgs-warmUps >= n {
				t.Errorf("%d jobs took %d messages: not batched", n, msgs-warmUps)
			}
			cancel()
			for i, o := range <-res {
				if !errors.Is(o.res.Err, context.Canceled) {
					t.Errorf("job %d: %+v, want context.Canceled", i+1, o.res)
				}
			}
			wait.For(t, "the queue to empty", func() bool { m, ok := queued(s.URL); return ok && m == 0 })
			// Nothing is left waiting, which would hold later jobs back.
			if u := cluster.Unfinished(e); u != 0 {
				t.Errorf("%d jobs still count as unfinished", u)
			}
		})
	}
}

// queued returns how many messages the jobs stream holds; ok is false
// while the server or the stream is not there (yet, or again).
func queued(url string) (n uint64, ok bool) {
	nc, err := nats.Connect(url)
	if err != nil {
		return 0, false
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	st, err := js.Stream(context.Background(), cluster.JobsStream)
	if err != nil {
		return 0, false
	}
	info, err := st.Info(context.Background())
	if err != nil {
		return 0, false
	}
	return info.State.Msgs, true
}

// waitQueued waits until the jobs stream holds at least n messages.
func waitQueued(t *testing.T, url string, n uint64) {
	t.Helper()
	wait.For(t, fmt.Sprintf("%d messages queued", n), func() bool { m, ok := queued(url); return ok && m >= n })
}

// execBatched runs jobs through e as execAll does, but queues them all
// before any leaves, so that they travel in full batches.
func execBatched(ctx context.Context, t *testing.T, e *cluster.Executor, jobs []*runner.Job) <-chan []outcome {
	t.Helper()
	resume := cluster.Pause(e)
	res := make(chan []outcome, 1)
	go func() { res <- execAll(ctx, e, jobs) }()
	wait.For(t, "the jobs to queue", func() bool { return cluster.Queued(e) == len(jobs) })
	resume()
	return res
}

// TestBatchLongJob: one job of a batch runs long on a worker with one
// slot. The batch's other jobs, still waiting for that slot, are queued
// again each on its own and run on the other worker, instead of waiting
// behind the long job; the batch's stored result marks them moved.
func TestBatchLongJob(t *testing.T) {
	s := natstest.Start(t)
	e := newExecutor(t, s.URL)
	startWorker(t, s.URL, 1)
	warmUp(t, e)
	startWorker(t, s.URL, 1)
	const n = 40
	jobs := make([]*runner.Job, n)
	for i := range jobs {
		jobs[i] = &runner.Job{Seq: int64(i + 1), Command: fmt.Sprintf("echo short %d", i+1)}
	}
	jobs[0].Command = "sleep 2.5; echo long"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Queued in order, so the long job leads the first batch and the
	// rest of that batch waits behind it.
	resume := cluster.Pause(e)
	got := make([]outcome, n)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			var o, er strings.Builder
			got[i].res = e.Exec(ctx, j, &o, &er)
			got[i].stdout, got[i].stderr = o.String(), er.String()
		})
		wait.For(t, "the job to queue", func() bool { return cluster.Queued(e) == i+1 })
	}
	resume()
	wg.Wait()
	for i, g := range got {
		want := fmt.Sprintf("short %d\n", i+1)
		if i == 0 {
			want = "long\n"
		}
		if g.res.Err != nil || g.res.Exit != 0 || g.stdout != want {
			t.Errorf("job %d: %+v stdout %q", i+1, g.res, g.stdout)
		}
	}
	// The long job's batch: every other job in it was moved.
	mates, movedN := 0, 0
	eachResult(t, s.URL, e.RunID(), func(k string, h []jetstream.KeyValueEntry) {
		var br struct {
			Results []struct {
				Seq   int64 `json:"seq"`
				Moved bool  `json:"moved"`
			} `json:"results"`
		}
		if json.Unmarshal(h[len(h)-1].Value(), &br) != nil || !slices.ContainsFunc(br.Results, func(r struct {
			Seq   int64 `json:"seq"`
			Moved bool  `json:"moved"`
		}) bool {
			return r.Seq == 1
		}) {
			return
		}
		for _, r := range br.Results {
			if r.Seq != 1 {
				mates++
				if r.Moved {
					movedN++
				}
			}
		}
	})
	t.Logf("the long job had %d batch-mates, %d moved", mates, movedN)
	if mates == 0 {
		t.Fatal("the long job was not in a batch")
	}
	if movedN != mates {
		t.Errorf("%d of the long job's %d batch-mates were moved, want all", movedN, mates)
	}
}
