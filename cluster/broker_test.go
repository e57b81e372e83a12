package cluster_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"syscall"
	"time"

	"crew/runner"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crew/cluster"
)

// TestBrokerStartErrors: a broker that cannot start says why at once,
// instead of "did not start listening" after a wait.
func TestBrokerStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  cluster.BrokerConfig
		want string
	}{
		{"busy port", cluster.BrokerConfig{Listen: busy.Addr().String(), StoreDir: t.TempDir()}, "address already in use"},
		{"store under a file", cluster.BrokerConfig{Listen: "127.0.0.1:0", StoreDir: filepath.Join(file, "store")}, "not a directory"},
		{"store in /proc", cluster.BrokerConfig{Listen: "127.0.0.1:0", StoreDir: "/proc/nope"}, "/proc/nope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := cluster.StartBroker(c.cfg)
			if err == nil {
				b.Close()
				t.Fatal("broker started")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "cluster: ") {
				t.Errorf("error %q, want it to name %q", err, c.want)
			}
		})
	}
}

// TestBrokerEverywhere: a broker on every interface announces a URL that
// works, not nats://0.0.0.0:port.
func TestBrokerEverywhere(t *testing.T) {
	b, err := cluster.StartBroker(cluster.BrokerConfig{Listen: "0.0.0.0:0", StoreDir: t.TempDir(), Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.HasPrefix(b.URL(), "nats://127.0.0.1:") || !b.ListensEverywhere() {
		t.Errorf("URL %s, everywhere %v", b.URL(), b.ListensEverywhere())
	}
	e := newExecutorCreds(t, b.URL(), cluster.Credentials{Token: "t"})
	_ = e.Close()
}

// TestBrokerCloseRestart: a broker closed while a worker's pull request
// is open and a job waits in its queue keeps the job in its store; the
// broker started again on that store gives it to the same worker, which
// reconnected, and the submitter, which waited, gets its result.
func TestBrokerCloseRestart(t *testing.T) {
	store := t.TempDir()
	listen := "127.0.0.1:" + strconv.Itoa(freePort(t))
	b, err := cluster.StartBroker(cluster.BrokerConfig{Listen: listen, StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { b.Close() }()
	w := startWorker(t, b.URL(), 1)
	e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{
		ConnConfig: cluster.ConnConfig{URL: b.URL()}, ReconnectWindow: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	var out bytes.Buffer
	// The worker is up and pulling once a first job has run.
	if r := e.Exec(ctx, &runner.Job{Seq: 1, Command: "echo one"}, &out, io.Discard); r.Err != nil || out.String() != "one\n" {
		t.Fatalf("first job: %+v %q\n%s", r, out.String(), w.Stderr())
	}
	w.signal(syscall.SIGSTOP) // it keeps its pull open and takes no job
	res := make(chan runner.Result, 1)
	var out2 bytes.Buffer
	go func() { res <- e.Exec(ctx, &runner.Job{Seq: 2, Command: "echo two"}, &out2, io.Discard) }()
	waitQueued(t, b.URL(), 1)
	b.Close()
	if b, err = cluster.StartBroker(cluster.BrokerConfig{Listen: listen, StoreDir: store}); err != nil {
		t.Fatal(err)
	}
	w.signal(syscall.SIGCONT)
	select {
	case r := <-res:
		if r.Err != nil || r.Exit != 0 || out2.String() != "two\n" {
			t.Errorf("job queued across the restart: %+v %q\n%s", r, out2.String(), w.Stderr())
		}
	case <-ctx.Done():
		t.Fatalf("no result after the restart\n%s", w.Stderr())
	}
}

// BenchmarkBrokerClose measures Close of a broker whose workers have pull
// requests open, as every SSH run's broker has at its end: a lasting
// broker's workers, and an SSH run's (ephemeral: the consumer's state in
// memory).
func BenchmarkBrokerClose(b *testing.B) {
	b.Run("lasting", func(b *testing.B) { benchBrokerClose(b, false) })
	b.Run("ephemeral", func(b *testing.B) { benchBrokerClose(b, true) })
}

func benchBrokerClose(b *testing.B, ephemeral bool) {
	for b.Loop() {
		b.StopTimer()
		br, err := cluster.StartBroker(cluster.BrokerConfig{Listen: "127.0.0.1:0"})
		if err != nil {
			b.Fatal(err)
		}
		cfg := cluster.WorkerConfig{ConnConfig: cluster.ConnConfig{URL: br.URL()}, Executor: runner.Local{}, Concurrency: 1, Logger: slog.New(slog.DiscardHandler)}
		if ephemeral {
			cluster.MakeEphemeral(&cfg)
		}
		w, err := cluster.NewWorker(cfg)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		for cluster.OpenPulls(br) == 0 {
			time.Sleep(time.Millisecond)
		}
		b.StartTimer()
		br.Close()
		b.StopTimer()
		cancel()
		<-done
		b.StartTimer()
	}
}
