package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"crew/cluster"
	"crew/internal/natstest"
	"crew/internal/wait"
	"crew/runner"
)

// consumerConfig waits for the shared workers consumer and returns its
// configuration as the server has it.
func consumerConfig(t *testing.T, url string) jetstream.ConsumerConfig {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	var c jetstream.Consumer
	if !wait.Until(wait.Timeout, func() bool {
		c, err = js.Consumer(context.Background(), cluster.JobsStream, cluster.WorkersConsumer)
		return err == nil
	}) {
		t.Fatalf("no workers consumer: %v", err)
	}
	return c.CachedInfo().Config
}

// TestConsumerSettingsKept: a worker with another ack wait neither
// changes the shared consumer (which would make the other workers'
// heartbeats too slow, so their jobs ran twice) nor heartbeats by its own
// setting: it follows the consumer's.
func TestConsumerSettingsKept(t *testing.T) {
	s := natstest.Start(t)
	first := startWorker(t, s.URL, 2) // creates the consumer: testAckWait
	if got := consumerConfig(t, s.URL).AckWait; got != testAckWait {
		t.Fatalf("consumer ack wait %v, want %v", got, testAckWait)
	}
	fast := startWorker(t, s.URL, 1, "CREW_CLUSTER_TEST_ACKWAIT=200ms")
	if !fast.sawStderr("has other settings", 10*time.Second) {
		t.Errorf("the 200ms worker did not warn that it uses the consumer's settings:\n%s", fast.Stderr())
	}
	fast.kill()
	<-fast.done
	if got := consumerConfig(t, s.URL).AckWait; got != testAckWait {
		t.Errorf("after a 200ms worker: consumer ack wait %v, want %v", got, testAckWait)
	}
	// Jobs longer than the ack wait, on the first worker and on one that
	// would heartbeat too slowly by its own setting (10s/3 > 1s).
	slow := startWorker(t, s.URL, 2, "CREW_CLUSTER_TEST_ACKWAIT=10s")
	if !slow.sawStderr("has other settings", 10*time.Second) {
		t.Errorf("the 10s worker did not warn that it uses the consumer's settings:\n%s", slow.Stderr())
	}
	if got := consumerConfig(t, s.URL).AckWait; got != testAckWait {
		t.Errorf("after a 10s worker: consumer ack wait %v, want %v", got, testAckWait)
	}
	e := newExecutor(t, s.URL)
	dir := t.TempDir()
	const n = 4
	jobs := make([]*runner.Job, n)
	for i := range jobs {
		mark := filepath.Join(dir, fmt.Sprintf("ran.%d", i+1))
		jobs[i] = &runner.Job{Seq: int64(i + 1), Command: fmt.Sprintf("echo $$ >> %s; sleep 2.2; echo done", mark)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	for i, g := range execAll(ctx, e, jobs) {
		if g.res.Exit != 0 || g.res.Err != nil || g.stdout != "done\n" {
			t.Errorf("job %d: %+v stdout %q", i+1, g.res, g.stdout)
		}
		b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("ran.%d", i+1)))
		if runs := strings.Count(string(b), "\n"); runs != 1 {
			t.Errorf("job %d ran %d times, want 1", i+1, runs)
		}
	}
	_ = first
}

// TestWorkerBadCredentials: a refused token is final; the worker exits
// with ErrUnauthorized instead of retrying forever.
func TestWorkerBadCredentials(t *testing.T) {
	b, err := cluster.StartBroker(cluster.BrokerConfig{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cases := []struct {
		name  string
		env   []string
		final bool
	}{
		{"wrong token", []string{"CREW_NATS_TOKEN=guess"}, true},
		{"no token", nil, true},
		{"right token", []string{"CREW_NATS_TOKEN=s3cret"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := startWorker(t, b.URL(), 1, c.env...)
			select {
			case <-w.done:
				if !c.final {
					t.Fatalf("worker exited:\n%s", w.Stderr())
				}
				if code := w.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(w.Stderr(), "refused the credentials") {
					t.Errorf("exit %d, stderr:\n%s", code, w.Stderr())
				}
			case <-time.After(5 * time.Second):
				if c.final {
					t.Fatalf("worker still running after 5s:\n%s", w.Stderr())
				}
			}
		})
	}
}
