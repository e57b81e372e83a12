package cli

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunSSHFilesAndTags: with -S, files travel through the run's
// broker as with --server (a round trip with the bytes compared, the
// work dirs cleaned up), and --require sends the jobs only to the hosts
// whose @tag/ has the tags.
func TestRunSSHFilesAndTags(t *testing.T) {
	ssh, _ := sshHosts(t, "host1", "host2")
	dir := t.TempDir()
	t.Chdir(dir)
	want := map[string][]byte{}
	for _, n := range []string{"in1", "in2", "in3"} {
		b := make([]byte, 200<<10)
		rand.Read(b)
		want[n] = b
		if err := os.WriteFile(n, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := crewRun(t, dir, "", []string{"--ssh", ssh, "-S", "1/host1,@gpu+big/1/host2",
		"--transfer", "--return", "{}.out", "--cleanup", "--joblog", "DIR/log", "--require", "gpu",
		"-k", "cp {} {}.out && echo done {}", ":::", "in1", "in2", "in3"})
	if code != 0 || out != "done in1\ndone in2\ndone in3\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for n, b := range want {
		if got, err := os.ReadFile(n + ".out"); err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s.out: %d bytes, %v; want the %d bytes of %s", n, len(got), err, len(b), n)
		}
	}
	log, err := os.ReadFile(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(log)), "\n")[1:] {
		if host := strings.Split(line, "\t")[1]; host != "@gpu+big/1/host2" {
			t.Errorf("a job that requires gpu ran on %s: %s", host, line)
		}
	}

	// A run that no host can take is refused at once.
	code, _, errOut = crewRun(t, dir, "", []string{"--ssh", ssh, "-S", "1/host1,@gpu/1/host2", "--require", "gpu,big", "echo", ":::", "a"})
	if code != exitError || !strings.Contains(errOut, "--require big,gpu: no -S host has all these tags") {
		t.Errorf("exit %d, stderr %q; want %d and an error saying no host has the tags", code, errOut, exitError)
	}

	// A malformed tag in a host spec is a usage error naming the host.
	code, _, errOut = crewRun(t, dir, "", []string{"--ssh", ssh, "-S", "@gpu+/host1", "echo", ":::", "a"})
	if code != exitError || !strings.Contains(errOut, `bad sshlogin "@gpu+/host1": host group ""`) {
		t.Errorf("exit %d, stderr %q; want %d and an error naming the host spec", code, errOut, exitError)
	}
}
