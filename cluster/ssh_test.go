package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"crew/cluster"
	"crew/internal/sshdtest"
	"crew/internal/testproc"
	"crew/internal/wait"
	"crew/runner"
)

// sshWorkerMain is the far side of the SSH tests: the test binary, copied
// to the host's cache by StartSSH, serving as crew worker --ssh does.
func sshWorkerMain() int {
	err := cluster.ServeSSHWorker(context.Background(), os.Stdin, os.Stdout, slog.New(slog.NewTextHandler(os.Stderr, nil)), runner.Local{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sshworker:", err)
		return 3
	}
	return 0
}

// sshHost is one test "host": an sshd of its own, with its own cache
// directory for crew binaries (XDG_CACHE_HOME in its sessions).
type sshHost struct {
	srv   *sshdtest.Server
	cache string
}

// startSSHHost starts a host whose cache is empty (copy) or already holds
// the test binary.
func startSSHHost(t *testing.T, opts sshdtest.Options, copy bool) sshHost {
	t.Helper()
	cache := t.TempDir()
	if !copy {
		seedCache(t, cache)
	}
	opts.SetEnv = append(opts.SetEnv, "XDG_CACHE_HOME="+cache)
	return sshHost{srv: sshdtest.Start(t, opts), cache: cache}
}

// seedCache puts the test binary into cache as StartSSH would copy it,
// sparing the tests that are not about the copy its cost.
func seedCache(t *testing.T, cache string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	hash, err := cluster.BinaryID(self)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cache, "crew", hash)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Link(self, filepath.Join(dir, "crew")) == nil {
		return
	}
	b, err := os.ReadFile(self)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, "crew"), b, 0o700)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// fakeCrew puts a file of the given text where StartSSH looks for this
// build of crew in cache (see seedCache).
func fakeCrew(t *testing.T, cache, text string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	id, err := cluster.BinaryID(self)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cache, "crew", id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "crew"), []byte(text), 0o700); err != nil {
		t.Fatal(err)
	}
}

// sshConfig returns an SSHConfig reaching hosts by their names in an
// ssh_config of their own, which runs this test binary as the workers.
func sshConfig(t *testing.T, hosts map[string]sshHost, logins string) cluster.SSHConfig {
	t.Helper()
	srvs := map[string]*sshdtest.Server{}
	for n, h := range hosts {
		srvs[n] = h.srv
	}
	ls, err := cluster.ParseLogins(logins)
	if err != nil {
		t.Fatal(err)
	}
	return cluster.SSHConfig{
		Logins:     ls,
		SSH:        []string{"ssh", "-F", sshdtest.ClientConfig(t, srvs)},
		WorkerArgs: []string{"-testproc=sshworker"},
		AckWait:    time.Second,
	}
}

// hostNews collects what StartSSH says about each host.
type hostNews struct {
	mu   sync.Mutex
	msgs map[string][]string
	errs map[string]error
}

func (n *hostNews) hook(cfg *cluster.SSHConfig) {
	n.msgs, n.errs = map[string][]string{}, map[string]error{}
	cfg.OnHost = func(l cluster.Login, msg string, err error) {
		n.mu.Lock()
		defer n.mu.Unlock()
		if err != nil {
			n.errs[l.Spec] = err
		} else {
			n.msgs[l.Spec] = append(n.msgs[l.Spec], msg)
		}
	}
}

func (n *hostNews) err(spec string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.errs[spec]
}

func (n *hostNews) said(spec, prefix string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range n.msgs[spec] {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// startSSH starts an SSH run and an Executor on it; closing it closes
// both, in the order crew run does (the Executor first), as does the
// test's cleanup.
func startSSH(t *testing.T, cfg cluster.SSHConfig) (closer, runner.Executor) {
	t.Helper()
	c, err := cluster.StartSSH(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{ConnConfig: c.ConnConfig()})
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	cl := closer{c, &sync.Once{}, func() {
		_ = e.Close()
		_ = c.Close()
	}}
	t.Cleanup(cl.Close)
	return cl, c.Executor(e)
}

type closer struct {
	*cluster.SSHCluster
	once *sync.Once
	f    func()
}

func (c closer) Close() { c.once.Do(c.f) }

// remoteWorkers lists the processes running a copy of the test binary out
// of one of the hosts' caches: the workers StartSSH started.
func remoteWorkers(hosts ...sshHost) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		exe, err := os.Readlink("/proc/" + e.Name() + "/exe")
		if err != nil {
			continue
		}
		for _, h := range hosts {
			if strings.HasPrefix(exe, h.cache) {
				out = append(out, e.Name()+" "+exe)
			}
		}
	}
	return out
}

// processesWith lists the processes whose command line contains s.
func processesWith(s string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), s) {
			out = append(out, e.Name()+" "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

// TestSSHTwoHosts runs jobs on two hosts reached over real SSH: both take
// jobs, and once the run's cluster is closed no worker is left on either.
func TestSSHTwoHosts(t *testing.T) {
	t.Parallel()
	hosts := map[string]sshHost{"host1": startSSHHost(t, sshdtest.Options{}, false), "host2": startSSHHost(t, sshdtest.Options{}, false)}
	cfg := sshConfig(t, hosts, "1/host1,1/host2")
	var news hostNews
	news.hook(&cfg)
	c, e := startSSH(t, cfg)
	var jobs []*runner.Job
	// More than one host's slot and prefetch hold, so the host that comes
	// up second gets jobs too.
	for i := 1; i <= 16; i++ {
		jobs = append(jobs, &runner.Job{Seq: int64(i), Command: fmt.Sprintf("sleep 0.2; echo job%d", i)})
	}
	ran := map[string]int{}
	for _, o := range execAll(context.Background(), e, jobs) {
		if o.res.Exit != 0 || o.res.Err != nil {
			t.Fatalf("job %d: exit %d err %v stderr %q", o.res.Seq, o.res.Exit, o.res.Err, o.stderr)
		}
		if want := fmt.Sprintf("job%d\n", o.res.Seq); o.stdout != want {
			t.Errorf("job %d: stdout %q, want %q", o.res.Seq, o.stdout, want)
		}
		ran[o.res.Host]++
	}
	if ran["1/host1"] == 0 || ran["1/host2"] == 0 {
		t.Errorf("jobs per host %v: want both hosts used", ran)
	}
	for _, h := range []string{"1/host1", "1/host2"} {
		if err := news.err(h); err != nil {
			t.Errorf("%s failed: %v", h, err)
		}
	}
	for _, h := range hosts {
		if len(remoteWorkers(h)) == 0 {
			t.Fatalf("no worker runs out of %s", h.cache)
		}
	}
	c.Close()
	left := remoteWorkers(hosts["host1"], hosts["host2"])
	if len(left) > 0 {
		t.Errorf("workers left after Close: %v", left)
	}
}

// TestSSHBinaryCached starts a second run on a host that has the binary:
// nothing is copied, and the cached file is the binary by hash.
func TestSSHBinaryCached(t *testing.T) {
	t.Parallel()
	h := startSSHHost(t, sshdtest.Options{}, true)
	hosts := map[string]sshHost{"host1": h}
	for round := range 2 {
		cfg := sshConfig(t, hosts, "1/host1")
		var news hostNews
		news.hook(&cfg)
		c, e := startSSH(t, cfg)
		res := e.Exec(context.Background(), &runner.Job{Seq: 1, Command: "true"}, io.Discard, io.Discard)
		if res.Exit != 0 {
			t.Fatalf("round %d: exit %d: %v", round, res.Exit, res.Err)
		}
		if copied := news.said("1/host1", "copied crew"); copied != (round == 0) {
			t.Errorf("round %d: copied %v, want %v", round, copied, round == 0)
		}
		c.Close()
	}
	copies, _ := filepath.Glob(filepath.Join(h.cache, "crew", "*", "crew"))
	if len(copies) != 1 {
		t.Fatalf("cache holds %v, want one binary", copies)
	}
	self, _ := os.Executable()
	want, _ := os.ReadFile(self)
	got, _ := os.ReadFile(copies[0])
	if string(got) != string(want) {
		t.Error("the cached binary differs from the test binary")
	}
	if st, _ := os.Stat(filepath.Dir(copies[0])); st.Mode().Perm()&0o077 != 0 {
		t.Errorf("cache directory mode %v: others may write or read it", st.Mode().Perm())
	}
}

// TestSSHBadHosts: a host that refuses the key, an unknown host and a host
// of another architecture each fail with the cause, naming the host, and
// the good host runs the jobs; with no good host at all, jobs fail with
// ErrNoHosts instead of waiting for ever.
func TestSSHBadHosts(t *testing.T) {
	t.Parallel()
	fake := t.TempDir()
	uname := "#!/bin/sh\nif [ \"$1\" = -sm ]; then echo Linux aarch64; else exec /bin/uname \"$@\"; fi\n"
	if err := os.WriteFile(filepath.Join(fake, "uname"), []byte(uname), 0o755); err != nil {
		t.Fatal(err)
	}
	hosts := map[string]sshHost{
		"good":   startSSHHost(t, sshdtest.Options{}, false),
		"refuse": startSSHHost(t, sshdtest.Options{RefuseKey: true}, false),
		"arm":    startSSHHost(t, sshdtest.Options{SetEnv: []string{"PATH=" + fake + ":/usr/bin:/bin"}}, true),
		"nofwd":  startSSHHost(t, sshdtest.Options{NoForwarding: true}, false),
		// Hosts whose cached crew the system cannot run: what the loader
		// says of a cgo build on an older glibc, and a missing loader (a
		// musl host), which sh reports as the binary not found.
		"oldlibc": startSSHHost(t, sshdtest.Options{}, true),
		"musl":    startSSHHost(t, sshdtest.Options{}, true),
	}
	fakeCrew(t, hosts["oldlibc"].cache, "#!/bin/sh\necho \"$0: /lib/x86_64-linux-gnu/libc.so.6: version \\`GLIBC_2.99' not found (required by $0)\" >&2\nexit 1\n")
	fakeCrew(t, hosts["musl"].cache, "#!/lib/ld-musl-x86_64.so.1\n")
	tests := []struct {
		name, logins string
		bad          map[string]string // login → text its error has
		want         int               // exit status of the jobs
	}{
		{"carry on", "1/good,refuse,nosuch.invalid,arm,nofwd,oldlibc,musl", map[string]string{
			"refuse":         "Permission denied",
			"nosuch.invalid": "Could not resolve hostname",
			"arm":            "it is linux/arm64 and this crew is linux/amd64",
			"nofwd":          "refused the reverse port forward to the broker 5 times: does its sshd allow them (AllowTcpForwarding)?",
			"oldlibc":        "CGO_ENABLED=0 runs there): /",
			"musl":           "not found",
		}, 0},
		{"none left", "refuse,nosuch.invalid", map[string]string{"refuse": "Permission denied"}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := sshConfig(t, hosts, tt.logins)
			var news hostNews
			news.hook(&cfg)
			_, e := startSSH(t, cfg)
			for i := range 3 {
				res := e.Exec(context.Background(), &runner.Job{Seq: int64(i + 1), Command: "true"}, io.Discard, io.Discard)
				if res.Exit != tt.want {
					t.Fatalf("job %d: exit %d (err %v), want %d", i+1, res.Exit, res.Err, tt.want)
				}
				if tt.want != 0 && !errors.Is(res.Err, cluster.ErrNoHosts) {
					t.Fatalf("job %d: err %v, want ErrNoHosts", i+1, res.Err)
				}
			}
			for login, text := range tt.bad {
				wait.For(t, login+"'s failure", func() bool { return news.err(login) != nil })
				if err := news.err(login); !strings.Contains(err.Error(), text) {
					t.Errorf("%s: error %q lacks %q", login, err, text)
				}
			}
			if err := news.err("arm"); err != nil && !errors.Is(err, cluster.ErrArch) {
				t.Errorf("arm: %v is not ErrArch", err)
			}
			for _, h := range []string{"oldlibc", "musl"} {
				if err := news.err(h); err != nil && !errors.Is(err, cluster.ErrCannotRun) {
					t.Errorf("%s: %v is not ErrCannotRun", h, err)
				}
			}
		})
	}
}

// TestSSHHostGoesAway stops one host's sshd while its jobs run: they run
// again on the other host, and every job succeeds.
func TestSSHHostGoesAway(t *testing.T) {
	t.Parallel()
	hosts := map[string]sshHost{"host1": startSSHHost(t, sshdtest.Options{}, false), "host2": startSSHHost(t, sshdtest.Options{}, false)}
	cfg := sshConfig(t, hosts, "1/host1,1/host2")
	var news hostNews
	news.hook(&cfg)
	_, e := startSSH(t, cfg)
	marks := t.TempDir()
	var jobs []*runner.Job
	for i := 1; i <= 6; i++ {
		jobs = append(jobs, &runner.Job{Seq: int64(i), Command: fmt.Sprintf("touch %s/$PPID.%d; sleep 0.5; echo ok", marks, i)})
	}
	done := make(chan []outcome)
	go func() { done <- execAll(context.Background(), e, jobs) }()
	// Once host2's worker runs a job, take host2 away with its sessions.
	wait.For(t, "a job on host2", func() bool { return len(remoteWorkers(hosts["host2"])) > 0 && anyFile(marks) })
	hosts["host2"].srv.Stop()
	outs := <-done
	for _, o := range outs {
		if o.res.Exit != 0 || o.stdout != "ok\n" {
			t.Errorf("job %d: exit %d err %v stdout %q", o.res.Seq, o.res.Exit, o.res.Err, o.stdout)
		}
	}
	wait.For(t, "host2 reported gone", func() bool { return news.err("1/host2") != nil })
	if err := news.err("1/host2"); !strings.Contains(err.Error(), "went away") {
		t.Errorf("host2: %v", err)
	}
	wait.For(t, "host2's worker to die", func() bool { return len(remoteWorkers(hosts["host2"])) == 0 })
}

func anyFile(dir string) bool {
	ents, _ := os.ReadDir(dir)
	return len(ents) > 0
}

// sshRunMain is a process that submits one long job through an SSH run
// (its hosts from CREW_SSH_TEST_* variables) and waits: the test
// interrupts or kills it.
func sshRunMain(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ls, _ := cluster.ParseLogins(os.Getenv("CREW_SSH_TEST_LOGINS"))
	c, err := cluster.StartSSH(ctx, cluster.SSHConfig{
		Logins:     ls,
		SSH:        strings.Fields(os.Getenv("CREW_SSH_TEST_SSH")),
		WorkerArgs: []string{"-testproc=sshworker"},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	e, err := cluster.NewExecutor(ctx, cluster.ExecutorConfig{ConnConfig: c.ConnConfig()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var wg sync.WaitGroup
	for i, cmd := range args {
		wg.Go(func() { e.Exec(ctx, &runner.Job{Seq: int64(i + 1), Command: cmd}, os.Stdout, os.Stderr) })
	}
	wg.Wait()
	e.Close()
	c.Close()
	return 0
}

// TestSSHNoSurvivor interrupts (Ctrl-C's SIGINT) or kills (SIGKILL) the
// process running an SSH run while its jobs run on the hosts: no worker
// and no job is left on any host.
func TestSSHNoSurvivor(t *testing.T) {
	t.Parallel()
	hosts := map[string]sshHost{"host1": startSSHHost(t, sshdtest.Options{}, false), "host2": startSSHHost(t, sshdtest.Options{}, false)}
	srvs := map[string]*sshdtest.Server{"host1": hosts["host1"].srv, "host2": hosts["host2"].srv}
	sshCmd := "ssh -F " + sshdtest.ClientConfig(t, srvs)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			marks := t.TempDir()
			// A sleep no other test runs, so /proc tells its copies apart.
			sleep := fmt.Sprintf("sleep 3%d.%d", sig, os.Getpid()%1000)
			cmd := testproc.Command("sshrun", "touch "+marks+"/1; "+sleep, "touch "+marks+"/2; "+sleep)
			cmd.Env = append(os.Environ(), "CREW_SSH_TEST_LOGINS=1/host1,1/host2", "CREW_SSH_TEST_SSH="+sshCmd)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}()
			wait.For(t, "both jobs to start", func() bool {
				ents, _ := os.ReadDir(marks)
				return len(ents) == 2
			})
			if n := len(remoteWorkers(hosts["host1"], hosts["host2"])); n != 2 {
				t.Fatalf("%d remote workers, want 2", n)
			}
			_ = cmd.Process.Signal(sig)
			wait.For(t, "the remote workers to die", func() bool { return len(remoteWorkers(hosts["host1"], hosts["host2"])) == 0 })
			wait.For(t, "the remote jobs to die", func() bool { return len(processesWith(sleep)) == 0 })
			if sig == syscall.SIGINT {
				if err := cmd.Wait(); err != nil {
					t.Errorf("after SIGINT: %v; stderr %s", err, stderr.String())
				}
			}
		})
	}
}

// TestSSHToken: the run's broker refuses a client without the token, even
// one run by another local user, and the token appears in no process's
// command line or environment, here or on the hosts.
func TestSSHToken(t *testing.T) {
	t.Parallel()
	hosts := map[string]sshHost{"host1": startSSHHost(t, sshdtest.Options{}, false)}
	cfg := sshConfig(t, hosts, "1/host1")
	c, e := startSSH(t, cfg)
	if res := e.Exec(context.Background(), &runner.Job{Seq: 1, Command: "true"}, io.Discard, io.Discard); res.Exit != 0 {
		t.Fatalf("exit %d: %v", res.Exit, res.Err)
	}
	conn := c.ConnConfig()
	if !strings.HasPrefix(conn.URL, "nats://127.0.0.1:") {
		t.Errorf("broker URL %s: want loopback", conn.URL)
	}
	tok := conn.Credentials.Token
	if len(tok) < 32 {
		t.Fatalf("token %d characters long", len(tok))
	}
	for _, cr := range []cluster.Credentials{{}, {Token: "guess"}} {
		_, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{ConnConfig: cluster.ConnConfig{URL: conn.URL, Credentials: cr}})
		if !errors.Is(err, cluster.ErrUnauthorized) {
			t.Errorf("token %q: %v, want ErrUnauthorized", cr.Token, err)
		}
	}
	// Another local user: nobody, trying to submit a job.
	if os.Geteuid() == 0 {
		// Where nobody may run the test binary from.
		dir, err := os.MkdirTemp("", "crew-ssh-nobody-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		self, _ := os.Executable()
		b, err := os.ReadFile(self)
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(dir, "crew.test")
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		args := testproc.Argv("submit", conn.URL)
		cmd := exec.Command(bin, args[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "refused the credentials") {
			t.Errorf("user nobody submitting: %v: %s", err, out)
		}
	} else {
		t.Log("not root: the other-user case is the no-token case above")
	}
	for _, p := range []string{"cmdline", "environ"} {
		ents, _ := os.ReadDir("/proc")
		for _, ent := range ents {
			b, err := os.ReadFile("/proc/" + ent.Name() + "/" + p)
			if err == nil && strings.Contains(string(b), tok) {
				t.Errorf("the token is in /proc/%s/%s: %q", ent.Name(), p, b)
			}
		}
	}
}

// submitMain tries to run a job through the broker at args[0] with no
// credentials, as another user would.
func submitMain(args []string) int {
	e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{ConnConfig: cluster.ConnConfig{URL: args[0]}})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer e.Close()
	res := e.Exec(context.Background(), &runner.Job{Seq: 1, Command: "true"}, io.Discard, io.Discard)
	fmt.Println("submitted:", res.Exit)
	return 0
}

// TestSSHCloseWhileLoggingIn closes a run while one host is still logging
// in (its ssh command takes a minute to connect, as a host with heavy rc
// files or a slow network might): Close ends that session at once rather
// than wait for a worker that holds no jobs, and leaves nothing behind.
// Not parallel: it sets how long Close would wait for a worker.
func TestSSHCloseWhileLoggingIn(t *testing.T) {
	cluster.SetDrainTimeout(t, time.Minute)
	hosts := map[string]sshHost{"host1": startSSHHost(t, sshdtest.Options{}, false)}
	cfg := sshConfig(t, hosts, "1/host1")
	slow := filepath.Join(t.TempDir(), "slowssh")
	if err := os.WriteFile(slow, []byte("#!/bin/sh\nsleep 60\nexec ssh \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	more, err := cluster.ParseLogins("1/" + strings.Join(append([]string{slow}, cfg.SSH[1:]...), " ") + " host1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logins = append(cfg.Logins, more...)
	c, e := startSSH(t, cfg)
	var out strings.Builder
	if res := e.Exec(context.Background(), &runner.Job{Seq: 1, Command: "echo hi"}, &out, io.Discard); res.Exit != 0 || out.String() != "hi\n" {
		t.Fatalf("job: %+v, stdout %q", res, out.String())
	}
	if len(processesWith(slow)) == 0 {
		t.Fatal("the slow host's ssh command is not running")
	}
	closeWithin(t, c, "a host that never logged in")
	if left := processesWith(slow); len(left) > 0 {
		t.Errorf("left after Close: %v", left)
	}
	if left := remoteWorkers(hosts["host1"]); len(left) > 0 {
		t.Errorf("workers left after Close: %v", left)
	}
}

// TestSSHLocalCloses closes a run whose only host is this machine (":")
// right after its job: the worker in this process leaves its open pull
// request at once (the broker ends with the run) instead of waiting for
// it to expire. Not parallel: it makes pull requests wait a minute.
func TestSSHLocalCloses(t *testing.T) {
	cluster.SetPullWait(t, time.Minute)
	ls, err := cluster.ParseLogins(":")
	if err != nil {
		t.Fatal(err)
	}
	c, e := startSSH(t, cluster.SSHConfig{Logins: ls})
	var out strings.Builder
	if res := e.Exec(context.Background(), &runner.Job{Seq: 1, Command: "echo hi"}, &out, io.Discard); res.Exit != 0 || out.String() != "hi\n" {
		t.Fatalf("job: %+v, stdout %q", res, out.String())
	}
	closeWithin(t, c, "the local worker's pull request")
}

// closeWithin closes c, failing t if Close still waits after 20 s (for
// what, says why): far longer than Close needs, far shorter than the
// waits the callers set up for it to skip.
func closeWithin(t *testing.T, c closer, what string) {
	t.Helper()
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatalf("Close still waits after 20s for %s", what)
	}
}
