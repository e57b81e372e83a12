package cluster_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
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

// TestTransferRoundTrip sends files to two real worker processes through
// a real JetStream server and brings the jobs' files back: the bytes come
// back as they went (a file of several object-store chunks among them),
// "dir/./rest" puts rest in the work dir and the returned file under dir
// here, permission bits travel, a file sent by every job is stored once,
// and --cleanup leaves nothing behind on the worker while without it the
// files stay.
func TestTransferRoundTrip(t *testing.T) {
	// The workers make the jobs' fresh work dirs here.
	t.Setenv("TMPDIR", t.TempDir())
	s := natstest.Start(t)
	startWorker(t, s.URL, 2)
	startWorker(t, s.URL, 2)
	dir := t.TempDir()
	t.Chdir(dir)
	names := []string{"small", "big", "exec"}
	sizes := []int{100, 3<<20 + 17, 10}
	want := map[string][]byte{}
	for i, n := range names {
		b := make([]byte, sizes[i])
		rand.Read(b)
		want[n] = b
		mode := os.FileMode(0o644)
		if n == "exec" {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join("in", n), b, mode); err != nil {
			if err := os.MkdirAll("in", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("in", n), b, mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile("base.txt", []byte("shared\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, cleanup := range []bool{true, false} {
		t.Run("cleanup="+strconv.FormatBool(cleanup), func(t *testing.T) {
			os.RemoveAll("out")
			var stdout, stderr bytes.Buffer
			log := filepath.Join(t.TempDir(), "joblog")
			sum, err := runner.Run(context.Background(), runner.Config{
				JobLog: log,
				// The job sees its input at the path after "/./", copies it,
				// and says where it ran.
				Command:       []string{"cat base.txt >/dev/null && cp {} {}.copy && pwd"},
				Inputs:        []runner.Input{{Values: names}},
				Jobs:          3,
				KeepOrder:     true,
				Executor:      newExecutor(t, s.URL),
				TransferFiles: []string{"in/./{}"},
				ReturnFiles:   []string{"out/./{}.copy"},
				BaseFiles:     []string{"base.txt"},
				Cleanup:       cleanup,
				Stdout:        &stdout, Stderr: &stderr,
			})
			if err != nil || sum.Failed != 0 {
				jl, _ := os.ReadFile(log)
				t.Fatalf("Run: %v, %d failed; stderr:\n%s\njoblog:\n%s", err, sum.Failed, stderr.String(), jl)
			}
			for _, n := range names {
				got, err := os.ReadFile(filepath.Join("out", n+".copy"))
				if err != nil || !bytes.Equal(got, want[n]) {
					t.Errorf("out/%s.copy: %d bytes, %v; want the %d bytes of in/%s", n, len(got), err, len(want[n]), n)
				}
			}
			if fi, err := os.Stat("out/exec.copy"); err != nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("out/exec.copy: %v, %v; want mode 0755", fi.Mode(), err)
			}
			workDirs := strings.Fields(stdout.String())
			if len(workDirs) != len(names) {
				t.Fatalf("jobs ran in %q", workDirs)
			}
			for _, d := range workDirs {
				if d == dir {
					t.Errorf("a job ran in crew's own directory %s", d)
				}
				_, err := os.Stat(d)
				if cleanup != os.IsNotExist(err) {
					t.Errorf("with cleanup %v, the work dir %s: %v", cleanup, d, err)
				}
				if !cleanup {
					t.Cleanup(func() { os.RemoveAll(d) })
				}
			}
		})
	}

	// Each content is stored once, however many jobs and runs sent it.
	nc, err := nats.Connect(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	obs, err := js.ObjectStore(context.Background(), cluster.OutputBucket)
	if err != nil {
		t.Fatal(err)
	}
	files, returned := 0, 0
	list, _ := obs.List(context.Background())
	for _, o := range list {
		switch {
		case strings.HasPrefix(o.Name, "file."):
			files++
		case strings.HasPrefix(o.Name, "ret."):
			returned++
		}
	}
	if files != len(names)+1 || returned != 0 {
		t.Errorf("the object store holds %d files and %d returned files; want %d (the inputs and the base file, once each) and 0", files, returned, len(names)+1)
	}
}

// TestReturnMissing: --return of a file the job did not create fails the
// job with an error that names the file, the job and the worker; the
// files it did create still come back.
func TestReturnMissing(t *testing.T) {
	// The workers make the jobs' fresh work dirs here.
	t.Setenv("TMPDIR", t.TempDir())
	s := natstest.Start(t)
	w := startWorker(t, s.URL, 1)
	t.Chdir(t.TempDir())
	e := newExecutor(t, s.URL)
	job := &runner.Job{Seq: 7, Command: "touch made", Files: &runner.Files{Return: []string{"made", "never"}}}
	var out, errOut bytes.Buffer
	res := e.Exec(context.Background(), job, &out, &errOut)
	host := "w" + strconv.Itoa(w.cmd.Process.Pid)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "--return never: job 7 did not create it") ||
		!strings.Contains(res.Err.Error(), "on "+host) {
		t.Errorf("Exec: %v; want an error naming --return never, job 7 and host %s", res.Err, host)
	}
	if _, err := os.Stat("made"); err != nil {
		t.Errorf("the file the job made did not come back: %v", err)
	}
}

// TestTransferMissing: a --transferfile that is not there fails its job
// before it is queued, naming the flag and the file.
func TestTransferMissing(t *testing.T) {
	s := natstest.Start(t)
	t.Chdir(t.TempDir())
	e := newExecutor(t, s.URL)
	res := e.Exec(context.Background(), &runner.Job{Seq: 1, Command: "true", Files: &runner.Files{Transfer: []string{"nope"}}}, io.Discard, io.Discard)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "--transferfile nope") {
		t.Errorf("Exec: %v; want an error naming --transferfile nope", res.Err)
	}
}

// TestRetryOnAnotherWorker: the retry of a job that failed on one worker
// runs on another. The first try runs on worker a, which is told to
// drain (it finishes that try, takes no new job) while the try waits for
// the test; worker b joins, the first try fails, and the second, queued
// anew after --retry-delay, can only run on b, as the joblog's Host
// column shows.
func TestRetryOnAnotherWorker(t *testing.T) {
	s := natstest.Start(t)
	a := startWorker(t, s.URL, 1)
	dir := t.TempDir()
	tries, goOn, log := filepath.Join(dir, "tries"), filepath.Join(dir, "go"), filepath.Join(dir, "joblog")
	done := make(chan error, 1)
	go func() {
		_, err := runner.Run(context.Background(), runner.Config{
			Command: []string{"echo >> " + tries + "; [ $(wc -l < " + tries + ") -ge 2 ] && exit 0; " +
				"until [ -e " + goOn + " ]; do sleep 0.02; done; exit 1 # {}"},
			Inputs:     []runner.Input{{Values: []string{"x"}}},
			Jobs:       1,
			Retries:    2,
			RetryDelay: 100 * time.Millisecond,
			JobLog:     log,
			Executor:   newExecutor(t, s.URL),
		})
		done <- err
	}()
	wait.For(t, "the first try", func() bool { _, err := os.Stat(tries); return err == nil })
	a.signal(syscall.SIGTERM)
	b := startWorker(t, s.URL, 1)
	if err := os.WriteFile(goOn, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	cols := strings.Split(lines[len(lines)-1], "\t")
	if want := "w" + strconv.Itoa(b.cmd.Process.Pid); len(cols) < 7 || cols[1] != want || cols[6] != "0" {
		t.Errorf("joblog: %q; want the job succeeded on %s (worker a was w%d)", lines[len(lines)-1], want, a.cmd.Process.Pid)
	}
	if n := strings.Count(mustRead(t, tries), "\n"); n != 2 {
		t.Errorf("%d tries, want 2", n)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
