package cli

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"crew/internal/wait"
)

// TestDetachAttach: crew run --server --detach, then crew attach, writes
// what crew run --server writes attached: the same output in -k order
// with its tags, the same joblog and results, the same exit status; the
// input comes from the broker, so the files may be gone by then. Nothing
// of the run or the attach outlives them: no goroutine of an Executor or
// a Client is left (the broker and worker of the test run on; package
// cluster's tests check all goroutines with goleak).
func TestDetachAttach(t *testing.T) {
	url := startRemote(t)
	defer func() {
		if !wait.Until(5*time.Second, func() bool { return leftover() == "" }) {
			t.Errorf("goroutines of a run or an attach left:\n%s", leftover())
		}
	}()
	const job = "echo {}; exit {}"
	for _, c := range []struct {
		name    string
		args    []string
		stdin   string
		prepare string // a file DIR/in with this content, removed before attaching
		files   []string
	}{
		{name: "tag", args: []string{"-k", "--tag", job, ":::", "0", "1", "2"}},
		{name: "tagstring", args: []string{"--tagstring", "[{#}]", "-k", "echo", "out", ":::", "a", "b"}},
		{name: "joblog", args: []string{"--joblog", "DIR/log", "-k", job, ":::", "0", "1"}, files: []string{"log"}},
		{name: "results", args: []string{"--results", "DIR/res", "-k", "echo", "{}", ":::", "a", "b"}, files: []string{"res"}},
		{name: "stdin", args: []string{"-k", "echo", "[{}]"}, stdin: "x\ny z\n"},
		{name: "arg-file", args: []string{"-a", "DIR/in", "-k", "echo", "{}"}, prepare: "p\nq\n"},
		{name: "max-args", args: []string{"-n", "2", "-k", "echo", ":::", "a", "b", "c"}},
		{name: "retries", args: []string{"--retries", "3", "n=$(cat DIR/n 2>/dev/null || echo 0); echo $((n+1)) > DIR/n; echo try $n; [ $n -ge 2 ]", ":::", "x"}},
		{name: "halt", args: []string{"--halt", "now,fail=1", "-j1", "-k", job, ":::", "0", "4", "0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			attached, detached := t.TempDir(), t.TempDir()
			for _, dir := range []string{attached, detached} {
				if c.prepare != "" {
					if err := os.WriteFile(filepath.Join(dir, "in"), []byte(c.prepare), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			wantCode, wantOut, _ := crewRun(t, attached, c.stdin, append([]string{"--server", url}, c.args...))

			code, id, stderr := crewRun(t, detached, c.stdin, append([]string{"--server", url, "--detach"}, c.args...))
			id = strings.TrimSpace(id)
			if code != 0 || id == "" || !strings.Contains(stderr, "submitted") {
				t.Fatalf("--detach: exit %d, stdout %q, stderr %q", code, id, stderr)
			}
			os.Remove(filepath.Join(detached, "in"))
			var out, errOut strings.Builder
			code = MainArgs([]string{"attach", id, "--server", url}, Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
			got := strings.ReplaceAll(out.String(), detached, "DIR")
			if code != wantCode || got != wantOut {
				t.Errorf("attach: exit %d, stdout %q; the attached run: exit %d, %q (stderr %q)", code, got, wantCode, wantOut, errOut.String())
			}
			for _, f := range c.files {
				if w, g := tree(t, attached, f), tree(t, detached, f); w != g {
					t.Errorf("%s after attach:\n%s\nthe attached run's:\n%s", f, g, w)
				}
			}
		})
	}
}

// leftover returns the stacks of goroutines of package cluster or cli
// still running, but for the test's worker's and the test's own.
func leftover() string {
	buf := make([]byte, 1<<22)
	var left []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		ours := strings.Contains(g, "crew/cluster.") || strings.Contains(g, "crew/internal/cli.")
		if ours && !strings.Contains(g, "cluster.(*Worker)") && !strings.Contains(g, "testing.tRunner") &&
			!strings.Contains(g, "cli.startRemote") {
			left = append(left, g)
		}
	}
	return strings.Join(left, "\n\n")
}

// TestDetachInputTooLarge: --detach refuses an input larger than the
// broker keeps for crew attach, before it submits anything: such a run
// could never be attached to.
func TestDetachInputTooLarge(t *testing.T) {
	big := strings.Repeat("x\n", maxKeptInput/2+1)
	var out, errOut strings.Builder
	code := MainArgs([]string{"run", "--server", "nats://127.0.0.1:1", "--detach", "echo"}, Streams{In: strings.NewReader(big), Out: &out, Err: &errOut})
	if code != exitError || out.Len() != 0 || errOut.String() != "crew: --detach: the input is over 64 MiB, too large to keep in the broker for crew attach\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}
