package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"crew/cluster"
	"crew/internal/testproc"
	"crew/internal/wait"
	"crew/runner"
)

// The test binary doubles as a crew worker or broker process (testproc
// helpers, set up by the CREW_CLUSTER_TEST_* variables), so tests can SIGKILL real
// processes.
func TestMain(m *testing.M) {
	testproc.Register("worker", func([]string) int { return workerMain() })
	testproc.Register("broker", func([]string) int { return brokerMain() })
	testproc.Register("sshworker", func([]string) int { return sshWorkerMain() })
	testproc.Register("sshrun", sshRunMain)
	testproc.Register("submit", submitMain)
	testproc.Main()
	// nats.go's object store Put (PutBytes: a run's plan and spec) starts
	// a goroutine that waits for the connection's status on a channel the
	// same Put then clears; when the clear comes first, the goroutine
	// waits on a nil channel for good (jetstream/publish.go and
	// object.go's cleanupReplySub, nats.go v1.55.0). Not crew's to fix.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"))
}

const testAckWait = time.Second

func workerMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	n, _ := strconv.Atoi(os.Getenv("CREW_CLUSTER_TEST_J"))
	cr := cluster.CredentialsFromEnv()
	w, err := cluster.NewWorker(cluster.WorkerConfig{
		ConnConfig:  cluster.ConnConfig{URL: os.Getenv("CREW_CLUSTER_TEST_URL"), Credentials: cr},
		Metrics:     cluster.HTTPConfig{Addr: os.Getenv("CREW_CLUSTER_TEST_METRICS"), Token: cr.Token, User: cr.User, Password: cr.Password},
		AckWait:     durationOr(os.Getenv("CREW_CLUSTER_TEST_ACKWAIT"), testAckWait),
		MaxRuns:     atoiOr(os.Getenv("CREW_CLUSTER_TEST_MAXDELIVER"), 5),
		Executor:    crashExecutor{},
		Concurrency: n,
		Host:        "w" + strconv.Itoa(os.Getpid()),
		Tags:        strings.FieldsFunc(os.Getenv("CREW_CLUSTER_TEST_TAGS"), func(r rune) bool { return r == ',' }),
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err == nil {
		err = w.Run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker failed:", err)
		return 1
	}
	return 0
}

func brokerMain() int {
	b, err := cluster.StartBroker(cluster.BrokerConfig{
		StoreDir: os.Getenv("CREW_CLUSTER_TEST_STORE"), Listen: os.Getenv("CREW_CLUSTER_TEST_LISTEN"), SyncAlways: true,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(b.URL())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	b.Close()
	return 0
}

func durationOr(s string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(s); err == nil {
		return d
	}
	return def
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// crashExecutor runs jobs with runner.Local, except that a job named
// "crash" kills the worker itself, as a job that takes its worker down
// would.
type crashExecutor struct{ runner.Local }

func (c crashExecutor) Exec(ctx context.Context, job *runner.Job, stdout, stderr io.Writer) runner.Result {
	if job.Command == "crash" {
		os.Exit(7)
	}
	return c.Local.Exec(ctx, job, stdout, stderr)
}

// proc is a helper process whose stderr the test can search.
type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr strings.Builder
	lines  chan string
	done   chan struct{}
}

// startHelper starts the test binary in role with env and stops it (SIGKILL)
// when t ends.
func startHelper(t *testing.T, role string, env ...string) *proc {
	t.Helper()
	cmd := testproc.Command(role)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 16), done: make(chan struct{})}
	var readers sync.WaitGroup
	readers.Go(func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	})
	readers.Go(func() {
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	})
	go func() {
		readers.Wait()
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s %d stderr:\n%s", role, cmd.Process.Pid, p.Stderr())
		}
	})
	return p
}

func startWorker(t *testing.T, url string, j int, env ...string) *proc {
	return startHelper(t, "worker", append(env, "CREW_CLUSTER_TEST_URL="+url, "CREW_CLUSTER_TEST_J="+strconv.Itoa(j))...)
}

func (p *proc) kill()              { _ = p.cmd.Process.Kill() }
func (p *proc) signal(s os.Signal) { _ = p.cmd.Process.Signal(s) }

func (p *proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// sawStderr reports whether the helper's stderr comes to contain s
// within d.
func (p *proc) sawStderr(s string, d time.Duration) bool {
	return wait.Until(d, func() bool { return strings.Contains(p.Stderr(), s) })
}

// waitStderr waits until the helper's stderr contains s.
func (p *proc) waitStderr(t *testing.T, s string, d time.Duration) {
	t.Helper()
	if !p.sawStderr(s, d) {
		t.Fatalf("stderr lacks %q after %v:\n%s", s, d, p.Stderr())
	}
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newExecutor(t *testing.T, url string) *cluster.Executor {
	t.Helper()
	e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{ConnConfig: cluster.ConnConfig{URL: url}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

type outcome struct {
	res            runner.Result
	stdout, stderr string
}

// execAll runs jobs concurrently through e and returns their outcomes in
// order.
func execAll(ctx context.Context, e runner.Executor, jobs []*runner.Job) []outcome {
	out := make([]outcome, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			var o, er strings.Builder
			out[i].res = e.Exec(ctx, j, &o, &er)
			out[i].stdout, out[i].stderr = o.String(), er.String()
		})
	}
	wg.Wait()
	return out
}

func newExecutorCreds(t *testing.T, url string, cr cluster.Credentials) *cluster.Executor {
	t.Helper()
	e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{ConnConfig: cluster.ConnConfig{URL: url, Credentials: cr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}
