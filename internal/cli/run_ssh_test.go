package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"crew/internal/sshdtest"
	"crew/internal/wait"
)

// TestMain lets this test binary be crew itself when started under that
// name: crew run -S copies its own binary (this one) to the hosts and
// starts it there as ".../crew worker --ssh", and the kill tests start it
// as crew run.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "crew" {
		os.Exit(Main())
	}
	os.Exit(m.Run())
}

// sshHosts starts an sshd per name (refused: one that refuses the key)
// and returns the --ssh value that reaches them by those names.
func sshHosts(t *testing.T, names ...string) (ssh string, srvs map[string]*sshdtest.Server) {
	t.Helper()
	srvs = map[string]*sshdtest.Server{}
	for _, n := range names {
		srvs[n] = sshdtest.Start(t, sshdtest.Options{RefuseKey: n == "refused"})
	}
	return "ssh -F " + sshdtest.ClientConfig(t, srvs), srvs
}

// TestRunSSH runs crew run -S over two hosts and this machine, and the
// bad input of -S: each case's exit status and its stderr's first line.
func TestRunSSH(t *testing.T) {
	ssh, _ := sshHosts(t, "host1", "host2", "refused")
	tests := []struct {
		name       string
		args       []string
		code       int
		out, inErr string
	}{
		{"two hosts and this one", []string{"-S", "1/host1,1/host2", "-S", ":", "-k", "echo", "{}", ":::", "a", "b", "c", "d", "e"}, 0, "a\nb\nc\nd\ne\n", ""},
		{"a host file", []string{"--slf", "DIR/hosts", "-k", "echo", "{}", ":::", "a", "b"}, 0, "a\nb\n", ""},
		{"nonall", []string{"-S", "host1,host2,:", "--nonall", "echo hi"}, 0, "hi\nhi\nhi\n", ""},
		{"onall", []string{"-S", "host1,:", "--onall", "-k", "echo", "{}", ":::", "a", "b"}, 0, "a\nb\na\nb\n", ""},
		{"onall with a refused host", []string{"-S", "host1,refused", "--onall", "-k", "echo", "{}", ":::", "a"}, 1, "a\n", "Permission denied"},
		{"refused and unknown hosts carry on", []string{"-S", "refused,nosuch.invalid,host1", "-k", "echo", "{}", ":::", "a", "b"}, 0, "a\nb\n", "crew: host "},
		{"no host left", []string{"-S", "refused,nosuch.invalid", "echo", "{}", ":::", "a", "b", "c"}, 3, "", "crew: host "},
		{"malformed slots", []string{"-S", "0/host1", "echo", ":::", "a"}, 255, "", `crew: -S: bad sshlogin "0/host1": slots "0"`},
		{"password", []string{"-S", "me:pw@host1", "echo", ":::", "a"}, 255, "", "passwords in an sshlogin are not supported"},
		{"no host", []string{"-S", "4/", "echo", ":::", "a"}, 255, "", `crew: -S: bad sshlogin "4/": no host`},
		{"with --server", []string{"-S", "host1", "--server", "nats://127.0.0.1:1", "echo", ":::", "a"}, 255, "", "--sshlogin cannot be used with --server"},
		{"nonall with args", []string{"-S", "host1", "--nonall", "echo", ":::", "a"}, 255, "", "--nonall takes no arguments"},
		{"onall without hosts", []string{"--onall", "echo", ":::", "a"}, 255, "", "--nonall and --onall need hosts"},
		{"refused flag", []string{"-S", "host1", "--delay", "1", "echo", ":::", "a"}, 255, "", "--delay cannot be used with -S"},
		{"missing host file", []string{"--slf", "DIR/none", "echo", ":::", "a"}, 255, "", "--sshloginfile: sshloginfile: open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte("# two hosts\n1/host1\n\n1/host2\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := crewRun(t, dir, "", append([]string{"--ssh", ssh}, tt.args...))
			if code != tt.code || out != tt.out || !strings.Contains(errOut, tt.inErr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d, %q, stderr with %q", code, out, errOut, tt.code, tt.out, tt.inErr)
			}
			if errOut = withoutLoginNoise(errOut); tt.inErr == "" && errOut != "" && !strings.Contains(errOut, "copied crew") {
				t.Errorf("stderr %q", errOut)
			}
		})
	}
}

// withoutLoginNoise drops from stderr what the test user's own login
// shell prints on the "hosts": sshd runs each command through it, and on
// this machine root's ~/.bashrc runs pyenv, whose rehash says "pyenv:
// cannot rehash: ... isn't writable" when two sessions start at once.
// That is the host's business, not crew's (GNU parallel shows it too).
func withoutLoginNoise(s string) string {
	var kept []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, "pyenv: ") {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, "")
}

// crewProcess starts this test binary as crew with args.
func crewProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := &exec.Cmd{Path: self, Args: append([]string{"crew"}, args...)}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("crew's stderr:\n%s", stderr.String())
		}
	})
	return cmd
}

// TestRunSSHNoSurvivor interrupts (Ctrl-C) or kills (kill -9) crew run -S
// while its jobs run on two hosts: no worker and no job is left there.
func TestRunSSHNoSurvivor(t *testing.T) {
	ssh, srvs := sshHosts(t, "host1", "host2")
	onHosts := func(sub string) []string {
		var out []string
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if _, err := strconv.Atoi(e.Name()); err != nil {
				continue
			}
			b, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			exe, _ := os.Readlink("/proc/" + e.Name() + "/exe")
			for _, s := range srvs {
				if strings.HasPrefix(exe, s.Cache) || (sub != "" && strings.Contains(string(b), sub)) {
					out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
					break
				}
			}
		}
		return out
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			marks := t.TempDir()
			sleep := fmt.Sprintf("sleep 4%d.%d", sig, os.Getpid()%1000)
			cmd := crewProcess(t, "run", "--ssh", ssh, "-S", "1/host1,1/host2", "touch "+marks+"/{}; "+sleep, ":::", "1", "2")
			wait.For(t, "both jobs to start", func() bool {
				ents, _ := os.ReadDir(marks)
				return len(ents) == 2
			})
			_ = cmd.Process.Signal(sig)
			wait.For(t, "no worker or job left on the hosts", func() bool { return len(onHosts(sleep)) == 0 })
			err := cmd.Wait()
			var ee *exec.ExitError
			if sig == syscall.SIGINT && (!errorsAs(err, &ee) || ee.ExitCode() != exitError) {
				t.Errorf("after Ctrl-C: %v, want exit %d", err, exitError)
			}
		})
	}
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}
