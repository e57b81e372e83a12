package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
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

// eachResult calls fn with the history of every result the run stored,
// oldest value first.
func eachResult(t *testing.T, url, run string, fn func(key string, history []jetstream.KeyValueEntry)) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, cluster.ResultsBucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeysFiltered(ctx, run+".>")
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys.Keys() {
		h, err := kv.History(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		fn(k, h)
	}
}

// resultRevisions returns how many times each of the run's results was
// written: recording must be once per job whatever the executions.
func resultRevisions(t *testing.T, url, run string) map[string]int {
	t.Helper()
	revs := map[string]int{}
	eachResult(t, url, run, func(k string, h []jetstream.KeyValueEntry) { revs[k] = len(h) })
	return revs
}

func TestRoundTrip(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<17) // 2 MiB, past one message
	cases := []struct {
		name       string
		job        runner.Job
		exit       int
		out, errst string
	}{
		{"stdout", runner.Job{Command: "echo hello"}, 0, "hello\n", ""},
		{"stderr and exit", runner.Job{Command: "echo oops >&2; exit 3"}, 3, "", "oops\n"},
		{"env", runner.Job{Command: `echo "$GREETING"`, Env: []string{"GREETING=hi there"}}, 0, "hi there\n", ""},
		{"stdin", runner.Job{Command: "tr a-z A-Z", Stdin: []byte("piped\n")}, 0, "PIPED\n", ""},
		{"large stdin", runner.Job{Command: "wc -c", Stdin: []byte(big)}, 0, strconv.Itoa(len(big)) + "\n", ""},
		{"large output", runner.Job{Command: "cat", Stdin: []byte(big)}, 0, big, ""},
		{"large stderr", runner.Job{Command: "cat >&2", Stdin: []byte(big)}, 0, "", big},
		{"signal", runner.Job{Command: "kill -9 $$"}, -1, "", ""},
	}
	natstest.Run(t, func(t *testing.T, s *natstest.Server) {
		startWorker(t, s.URL, 2)
		startWorker(t, s.URL, 2)
		e := newExecutor(t, s.URL)
		jobs := make([]*runner.Job, len(cases))
		for i := range cases {
			j := cases[i].job
			j.Seq = int64(i + 1)
			jobs[i] = &j
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		got := execAll(ctx, e, jobs)
		for i, c := range cases {
			g := got[i]
			if g.res.Err != nil || g.res.Exit != c.exit || g.res.Seq != int64(i+1) {
				t.Errorf("%s: result %+v, want exit %d", c.name, g.res, c.exit)
			}
			if g.stdout != c.out || g.stderr != c.errst {
				t.Errorf("%s: stdout %d bytes %.40q, stderr %d bytes %.40q; want %d, %d bytes",
					c.name, len(g.stdout), g.stdout, len(g.stderr), g.stderr, len(c.out), len(c.errst))
			}
			if !strings.HasPrefix(g.res.Host, "w") {
				t.Errorf("%s: host %q, want a worker's", c.name, g.res.Host)
			}
		}
		if c := cases[len(cases)-1]; got[len(cases)-1].res.Signal != int(syscall.SIGKILL) {
			t.Errorf("%s: signal %d, want %d", c.name, got[len(cases)-1].res.Signal, syscall.SIGKILL)
		}
		revs := resultRevisions(t, s.URL, e.RunID())
		if len(revs) != len(cases) {
			t.Errorf("%d results stored, want %d", len(revs), len(cases))
		}
		for k, n := range revs {
			if n != 1 {
				t.Errorf("result %s written %d times", k, n)
			}
		}
	})
}

// TestRetrySameSeq checks that running a job again under the same Seq,
// as runner's --retries does, runs it again rather than deduplicating it.
func TestRetrySameSeq(t *testing.T) {
	s := natstest.Start(t)
	startWorker(t, s.URL, 1)
	e := newExecutor(t, s.URL)
	dir := t.TempDir()
	job := &runner.Job{Seq: 7, Command: "echo x >> " + filepath.Join(dir, "log")}
	for range 3 {
		if r := e.Exec(context.Background(), job, &bytes.Buffer{}, &bytes.Buffer{}); r.Exit != 0 || r.Err != nil {
			t.Fatalf("result %+v", r)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "log"))
	if got := strings.Count(string(b), "x"); got != 3 {
		t.Errorf("job ran %d times, want 3", got)
	}
}

// TestWorkerKilled kills a worker with SIGKILL in the middle of its jobs:
// they are redelivered after the ack wait, finish on another worker, and
// each result is recorded once although the jobs ran twice.
func TestWorkerKilled(t *testing.T) {
	natstest.Run(t, func(t *testing.T, s *natstest.Server) {
		dir := t.TempDir()
		e := newExecutor(t, s.URL)
		a := startWorker(t, s.URL, 2)
		const n = 2
		jobs := make([]*runner.Job, n)
		for i := range jobs {
			mark := filepath.Join(dir, fmt.Sprintf("ran.%d", i+1))
			jobs[i] = &runner.Job{Seq: int64(i + 1), Command: fmt.Sprintf("echo $$ >> %s; sleep 1.5; echo done %d", mark, i+1)}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res := make(chan []outcome, 1)
		go func() { res <- execAll(ctx, e, jobs) }()
		// Kill the worker once it has started both jobs.
		waitFiles(t, dir, n)
		a.kill()
		<-a.done
		startWorker(t, s.URL, 2)
		got := <-res
		for i, g := range got {
			if g.res.Exit != 0 || g.res.Err != nil || g.stdout != fmt.Sprintf("done %d\n", i+1) {
				t.Errorf("job %d: %+v stdout %q", i+1, g.res, g.stdout)
			}
			b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("ran.%d", i+1)))
			if runs := strings.Count(string(b), "\n"); runs != 2 {
				t.Errorf("job %d ran %d times, want 2 (killed, then redelivered)", i+1, runs)
			}
		}
		for k, revs := range resultRevisions(t, s.URL, e.RunID()) {
			if revs != 1 {
				t.Errorf("result %s written %d times", k, revs)
			}
		}
	})
}

func waitFiles(t *testing.T, dir string, n int) {
	t.Helper()
	var m []string
	if !wait.Until(wait.Timeout, func() bool {
		m, _ = filepath.Glob(filepath.Join(dir, "ran.*"))
		return len(m) >= n
	}) {
		t.Fatalf("only %d of %d jobs started", len(m), n)
	}
}

// TestBrokerKilled submits jobs to a broker process started with
// SyncAlways, kills it with SIGKILL before any worker exists, restarts it
// on the same store, and checks every accepted job still runs.
func TestBrokerKilled(t *testing.T) {
	store := t.TempDir()
	listen := "127.0.0.1:" + strconv.Itoa(freePort(t))
	env := []string{"CREW_CLUSTER_TEST_STORE=" + store, "CREW_CLUSTER_TEST_LISTEN=" + listen}
	b := startHelper(t, "broker", env...)
	url := <-b.lines
	e := newExecutor(t, url)
	const n = 10
	jobs := make([]*runner.Job, n)
	for i := range jobs {
		jobs[i] = &runner.Job{Seq: int64(i + 1), Command: fmt.Sprintf("echo job %d", i+1)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	res := make(chan []outcome, 1)
	go func() { res <- execAll(ctx, e, jobs) }()
	waitQueued(t, url, n)
	b.kill()
	<-b.done
	b2 := startHelper(t, "broker", env...)
	if got := <-b2.lines; got != url {
		t.Fatalf("restarted broker at %s, want %s", got, url)
	}
	startWorker(t, url, 4)
	for i, g := range <-res {
		if g.res.Exit != 0 || g.res.Err != nil || g.stdout != fmt.Sprintf("job %d\n", i+1) {
			t.Errorf("job %d: %+v stdout %q", i+1, g.res, g.stdout)
		}
	}
}

// TestUnreachable: a submitter fails fast; a worker retries, says so on
// stderr, and works once a server appears at the address.
func TestUnreachable(t *testing.T) {
	port := freePort(t)
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	start := time.Now()
	_, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{ConnConfig: cluster.ConnConfig{URL: url}})
	if !errors.Is(err, cluster.ErrUnreachable) {
		t.Fatalf("NewExecutor: %v, want ErrUnreachable", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("NewExecutor took %v to fail", d)
	}
	w := startWorker(t, url, 1)
	w.waitStderr(t, "cannot reach the server; retrying", 10*time.Second)
	b, err := cluster.StartBroker(cluster.BrokerConfig{StoreDir: t.TempDir(), Listen: "127.0.0.1:" + strconv.Itoa(port)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	e := newExecutor(t, b.URL())
	var out bytes.Buffer
	r := e.Exec(context.Background(), &runner.Job{Seq: 1, Command: "echo late"}, &out, &bytes.Buffer{})
	if r.Exit != 0 || out.String() != "late\n" {
		t.Errorf("result %+v stdout %q", r, out.String())
	}
	_ = e.Close()
	w.signal(syscall.SIGTERM)
	<-w.done
}

// TestDeadLetter: a job that kills every worker taking it runs MaxDeliver
// times, then is moved to the dead-letter stream and reported. Workers
// count the runs; on a consumer created with a server-side MaxDeliver (as
// crew before run counting did), the server counts deliveries instead.
func TestDeadLetter(t *testing.T) {
	for _, serverCounts := range []bool{false, true} {
		t.Run(fmt.Sprintf("server counts=%v", serverCounts), func(t *testing.T) {
			testDeadLetter(t, serverCounts)
		})
	}
}

func testDeadLetter(t *testing.T, serverCounts bool) {
	s := natstest.Start(t)
	e := newExecutor(t, s.URL)
	if serverCounts {
		nc, err := nats.Connect(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		_, err = js.CreateConsumer(context.Background(), cluster.JobsStream, jetstream.ConsumerConfig{
			Durable: cluster.WorkersConsumer, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: testAckWait, MaxDeliver: 2, MaxAckPending: -1,
		})
		nc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := make(chan runner.Result, 1)
	go func() { res <- e.Exec(ctx, &runner.Job{Seq: 1, Command: "crash"}, &bytes.Buffer{}, &bytes.Buffer{}) }()
	var r runner.Result
	crashes := 0
wait:
	for {
		w := startWorker(t, s.URL, 1, "CREW_CLUSTER_TEST_MAXDELIVER=2")
		select {
		case r = <-res:
			break wait
		case <-w.done:
			crashes++
		}
	}
	var de *cluster.DeadError
	if !errors.As(r.Err, &de) || !errors.Is(r.Err, cluster.ErrDead) || r.Exit != -1 {
		t.Fatalf("result %+v, want a DeadError", r)
	}
	if crashes != 2 {
		t.Errorf("%d workers crashed, want 2 (MaxDeliver)", crashes)
	}
	nc, _ := nats.Connect(s.URL)
	defer nc.Close()
	js, _ := jetstream.New(nc)
	st, err := js.Stream(ctx, cluster.DeadStream)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := st.Info(ctx); info == nil || info.State.Msgs != 1 {
		t.Errorf("dead-letter stream: %+v", info)
	}
	// The job is removed after its dead result is recorded, which is
	// what ended Exec: give the removal a moment.
	jobs, _ := js.Stream(ctx, cluster.JobsStream)
	var info *jetstream.StreamInfo
	if !wait.Until(5*time.Second, func() bool {
		info, _ = jobs.Info(ctx)
		return info != nil && info.State.Msgs == 0
	}) {
		t.Fatalf("jobs stream still holds the dead job: %+v", info)
	}
}

// TestCancel: cancelling Exec returns at once and stops the remote job.
func TestCancel(t *testing.T) {
	s := natstest.Start(t)
	startWorker(t, s.URL, 1)
	e := newExecutor(t, s.URL)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan runner.Result, 1)
	go func() {
		res <- e.Exec(ctx, &runner.Job{Seq: 1, Command: "echo $$ > " + filepath.Join(dir, "ran.1") + "; sleep 30"}, &bytes.Buffer{}, &bytes.Buffer{})
	}()
	waitFiles(t, dir, 1)
	cancel()
	r := <-res
	if !errors.Is(r.Err, context.Canceled) {
		t.Errorf("result %+v, want context.Canceled", r)
	}
	// The worker is free again: a second job runs.
	var out bytes.Buffer
	r = e.Exec(context.Background(), &runner.Job{Seq: 2, Command: "echo next"}, &out, &bytes.Buffer{})
	if out.String() != "next\n" {
		t.Errorf("after cancel: %+v %q", r, out.String())
	}
}

// TestDrain: SIGTERM lets a worker's running job finish and store its
// result, and the worker then exits cleanly without pulling more.
func TestDrain(t *testing.T) {
	s := natstest.Start(t)
	w := startWorker(t, s.URL, 1)
	e := newExecutor(t, s.URL)
	dir := t.TempDir()
	res := make(chan outcome, 1)
	go func() {
		res <- execAll(context.Background(), e, []*runner.Job{{Seq: 1,
			Command: "touch " + filepath.Join(dir, "ran.1") + "; sleep 1; echo finished"}})[0]
	}()
	waitFiles(t, dir, 1)
	w.signal(syscall.SIGTERM)
	<-w.done
	if code := w.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("worker exit status %d after SIGTERM", code)
	}
	select {
	case g := <-res:
		if g.res.Exit != 0 || g.stdout != "finished\n" {
			t.Errorf("drained job: %+v %q", g.res, g.stdout)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the running job's result never arrived after the drain")
	}
}

// TestBrokerAuth: a broker beyond loopback demands credentials, and only
// clients presenting them get in.
func TestBrokerAuth(t *testing.T) {
	if _, err := cluster.StartBroker(cluster.BrokerConfig{Listen: "0.0.0.0:0"}); !errors.Is(err, cluster.ErrAuthRequired) {
		t.Fatalf("open broker on 0.0.0.0: %v, want ErrAuthRequired", err)
	}
	b, err := cluster.StartBroker(cluster.BrokerConfig{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cases := []struct {
		name string
		cr   cluster.Credentials
		ok   bool
	}{
		{"none", cluster.Credentials{}, false},
		{"wrong", cluster.Credentials{Token: "guess"}, false},
		{"right", cluster.Credentials{Token: "s3cret"}, true},
	}
	for _, c := range cases {
		e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{ConnConfig: cluster.ConnConfig{URL: b.URL(), Credentials: c.cr}})
		if (err == nil) != c.ok {
			t.Errorf("%s: NewExecutor error %v, want success %v", c.name, err, c.ok)
		}
		if e != nil {
			_ = e.Close()
		}
	}
}

// TestInsecure: a worker refuses a remote server without credentials.
func TestInsecure(t *testing.T) {
	cases := []struct {
		cfg  cluster.WorkerConfig
		want bool
	}{
		{cluster.WorkerConfig{ConnConfig: cluster.ConnConfig{URL: "nats://192.0.2.1:4222"}}, true},
		{cluster.WorkerConfig{ConnConfig: cluster.ConnConfig{URL: "nats://127.0.0.1:1,nats://192.0.2.1:4222"}}, true},
		// 0.0.0.0 is not loopback, yet refuses at once: allowed cases
		// fail to connect quickly instead of waiting on the network.
		{cluster.WorkerConfig{ConnConfig: cluster.ConnConfig{URL: "nats://0.0.0.0:1"}}, true},
		{cluster.WorkerConfig{ConnConfig: cluster.ConnConfig{URL: "nats://0.0.0.0:1"}, Insecure: true}, false},
		{cluster.WorkerConfig{ConnConfig: cluster.ConnConfig{URL: "nats://0.0.0.0:1", Credentials: cluster.Credentials{Token: "t"}}}, false},
		{cluster.WorkerConfig{ConnConfig: cluster.ConnConfig{URL: "nats://u:p@0.0.0.0:1"}}, false},
		{cluster.WorkerConfig{ConnConfig: cluster.ConnConfig{URL: "nats://127.0.0.1:1"}}, false},
	}
	for _, c := range cases {
		c.cfg.Executor = runner.Local{}
		c.cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		w, err := cluster.NewWorker(c.cfg)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			err = w.Run(ctx)
			cancel()
		}
		if got := errors.Is(err, cluster.ErrInsecure); got != c.want {
			t.Errorf("%s: NewWorker or Run error %v, want ErrInsecure %v", c.cfg.URL, err, c.want)
		}
	}
}

// TestHandBack: jobs a worker prefetched behind a job that turns out long
// go back to the queue and run on an idle worker instead of waiting.
func TestHandBack(t *testing.T) {
	s := natstest.Start(t)
	e := newExecutor(t, s.URL)
	dir := t.TempDir()
	startWorker(t, s.URL, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first := make(chan []outcome, 1)
	go func() {
		first <- execAll(ctx, e, []*runner.Job{{Seq: 1, Command: "touch " + filepath.Join(dir, "ran.1") + "; sleep 3"}})
	}()
	// The short jobs reach the busy worker first: its pull for them is
	// already open.
	waitFiles(t, dir, 1)
	rest := make(chan []outcome, 1)
	go func() {
		rest <- execAll(ctx, e, []*runner.Job{{Seq: 2, Command: "echo short"}, {Seq: 3, Command: "echo short"}})
	}()
	time.Sleep(200 * time.Millisecond)
	startWorker(t, s.URL, 1)
	got := append(<-first, <-rest...)
	long := got[0].res.Host
	for i, g := range got {
		if g.res.Exit != 0 || g.res.Err != nil {
			t.Errorf("job %d: %+v", i+1, g.res)
		}
		if i > 0 && g.res.Host == long {
			t.Errorf("job %d waited behind the long job on %s", i+1, long)
		}
	}
}
