package cli

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"crew/cluster"
	"crew/runner"
)

// remoteCase is one flag of crew run, run once on this machine and once
// with --server through a broker and a worker, or refused with --server.
type remoteCase struct {
	flag string // its long name
	// args are crew run's arguments after --server URL; dir is the run's
	// own directory, written DIR in args, in output and in files.
	args    []string
	stdin   string
	out     string   // the output both runs must print
	prepare []string // a local crew run to set dir up with first, if any
	files   []string // files under dir that must come out the same
	refused bool     // --server refuses it, naming the flag
	// localErr, when set, is the error a run without --server gives
	// (the flag needs workers); with --server the run prints out.
	localErr string
	// chdir runs crew run in dir, for flags whose relative paths are
	// relative to crew's directory (--transfer, --return).
	chdir bool
	// env holds KEY=value pairs set while each run runs, DIR in a value
	// standing for the run's directory (--env, --record-env).
	env []string
}

// TestRunFlagsWithServer: every flag of crew run either works the same
// with --server as without (same output, exit status and files, the
// joblog's columns but Host and times) or is refused with an error that
// names it, before any job runs. A flag added to crew run without a row
// here fails the test.
func TestRunFlagsWithServer(t *testing.T) {
	const job = "echo {}; exit {}"
	mkFiles := []string{"echo a > DIR/in1; echo b > DIR/in2 # {}", ":::", "x"}
	cases := []remoteCase{
		{flag: "jobs", out: "a\nb\nc\nd\n", args: []string{"-j", "3", "-k", "echo", "{}", ":::", "a", "b", "c", "d"}},
		{flag: "null", out: "a\nb c\n", args: []string{"-0", "-k", "echo", "{}"}, stdin: "a\x00b c\x00"},
		{flag: "colsep", out: "1-a\n2-b\n", args: []string{"--colsep", ",", "-k", "echo", "{2}-{1}"}, stdin: "a,1\nb,2\n"},
		{flag: "quote", out: "a;b x\na;b y\n", args: []string{"-q", "-k", "echo", "a;b", "{}", ":::", "x", "y"}},
		{flag: "delay", args: []string{"--delay", "0.1", "touch", "DIR/ran", ":::", "x"}, refused: true},
		{flag: "load", args: []string{"--load", "100", "touch", "DIR/ran", ":::", "x"}, refused: true},
		{flag: "memfree", args: []string{"--memfree", "1K", "touch", "DIR/ran", ":::", "x"}, refused: true},
		{flag: "line-buffer", args: []string{"--line-buffer", "touch", "DIR/ran", ":::", "x"}, refused: true},
		{flag: "ungroup", args: []string{"-u", "touch", "DIR/ran", ":::", "x"}, refused: true},
		{flag: "group", out: "a\nb\n", args: []string{"--group", "-k", "echo", "{}", ":::", "a", "b"}},
		{flag: "keep-order", out: "3\n1\n2\n", args: []string{"-k", "sleep 0.{}; echo {}", ":::", "3", "1", "2"}},
		{flag: "tag", out: "a\tout a\nb\tout b\n", args: []string{"--tag", "-k", "echo", "out", ":::", "a", "b"}},
		{flag: "tagstring", out: "[1]\tout a\n[2]\tout b\n", args: []string{"--tagstring", "[{#}]", "-k", "echo", "out", ":::", "a", "b"}},
		{flag: "joblog", out: "0\n1\n", args: []string{"--joblog", "DIR/log", "-k", job, ":::", "0", "1"}, files: []string{"log"}},
		{flag: "joblog", out: "b\n", prepare: []string{"--joblog", "+DIR/log", "echo", "{}", ":::", "a"},
			args: []string{"--joblog", "+DIR/log", "-j1", "echo", "{}", ":::", "b"}, files: []string{"log"}},
		{flag: "retry-failed", out: "1\n", prepare: []string{"--joblog", "DIR/log", "-k", job, ":::", "0", "1"},
			args: []string{"--joblog", "DIR/log", "--retry-failed", "-k"}, files: []string{"log"}},
		{flag: "resume", out: "b\n", prepare: []string{"--joblog", "DIR/log", "echo", "{}", ":::", "a"},
			args: []string{"--joblog", "DIR/log", "--resume", "-k", "echo", "{}", ":::", "a", "b"}, files: []string{"log"}},
		{flag: "resume-failed", out: "1\n", prepare: []string{"--joblog", "DIR/log", "-k", job, ":::", "0", "1"},
			args: []string{"--joblog", "DIR/log", "--resume-failed", "-k", job, ":::", "0", "1"}, files: []string{"log"}},
		{flag: "retries", out: "try 2\n", args: []string{"--retries", "3", "n=$(cat DIR/n 2>/dev/null || echo 0); echo $((n+1)) > DIR/n; echo try $n; [ $n -ge 2 ]", ":::", "x"},
			files: []string{"n"}},
		{flag: "timeout", out: "0\n5\n", args: []string{"--timeout", "0.3", "-k", "echo {}; sleep {}", ":::", "0", "5"}},
		{flag: "halt", out: "0\n4\n", args: []string{"--halt", "now,fail=1", "-j1", "-k", job, ":::", "0", "4", "0"}},
		{flag: "dry-run", out: "echo a\necho b\n", args: []string{"--dry-run", "-k", "echo", "{}", ":::", "a", "b"}},
		{flag: "results", out: "", args: []string{"--results", "DIR/res", "-k", "echo", "{}", ":::", "a", "b"}, files: []string{"res"}},
		{flag: "results", out: "", args: []string{"--results", "DIR/o_{}/", "-k", "echo", "{}", ":::", "a", "b"}, files: []string{"o_a", "o_b"}},
		{flag: "results", out: "", args: []string{"--results", "DIR/r.tsv", "-k", "printf '%s' {}; printf e >&2", ":::", "a", "b"}, files: []string{"r.tsv"}},
		{flag: "files", out: "DIR/res/1/a/stdout\nDIR/res/1/b/stdout\n", args: []string{"--files", "--results", "DIR/res", "-k", "echo", "{}", ":::", "a", "b"}, files: []string{"res"}},
		// The page differs by its times; TestRunReportWithServer checks it.
		{flag: "report", out: "a\n", args: []string{"--report", "DIR/r.html", "-k", "echo", "{}", ":::", "a"}},
		{flag: "bar", out: "a\n", args: []string{"--bar", "-k", "echo", "{}", ":::", "a"}},
		{flag: "eta", out: "a\n", args: []string{"--eta", "-k", "echo", "{}", ":::", "a"}},
		{flag: "progress", out: "a\n", args: []string{"--progress", "-k", "echo", "{}", ":::", "a"}},
		// The job reports each TERM it gets: two, then KILL, where the
		// default sequence would send three. (Its shell's own reports of
		// a killed sleep, which depend on timing, go nowhere.)
		{flag: "term-seq", out: "start\nTERM\nTERM\n", args: []string{"--timeout", "0.3", "--term-seq", "TERM,300,TERM,300,KILL,25",
			`exec 2>/dev/null; trap "echo TERM" TERM; echo start; while :; do sleep 0.02; done # {}`, ":::", "x"}},
		{flag: "arg-file", out: "a\nb\n", prepare: []string{"printf 'a\\nb\\n' > DIR/in # {}", ":::", "x"},
			args: []string{"-a", "DIR/in", "-k", "echo", "{}"}},
		// Several arguments per job and the other input forms (#11 §2):
		// all on the submitting side, so they work with --server as here.
		{flag: "max-args", out: "a b\nc\n", args: []string{"-n", "2", "-k", "echo", ":::", "a", "b", "c"}},
		{flag: "max-replace-args", out: "ba\nc\n", args: []string{"-N", "2", "-k", "echo", "{2}{1}", ":::", "a", "b", "c"}},
		{flag: "max-lines", out: "a b\nc\n", args: []string{"-L", "2", "-k", "echo"}, stdin: "a\nb\nc\n"},
		{flag: "context-replace", out: "xa xb\n", args: []string{"-X", "-j1", "echo", "x{}", ":::", "a", "b"}},
		{flag: "multiple", out: "xa b\n", args: []string{"-m", "-j1", "echo", "x{}", ":::", "a", "b"}},
		{flag: "xargs", out: "a b\n", args: []string{"--xargs", "echo", ":::", "a", "b"}},
		{flag: "max-chars", out: "a b\nc d\n", args: []string{"-s", "10", "-X", "-j1", "-k", "echo", ":::", "a", "b", "c", "d"}},
		{flag: "exit", out: "a\nb\n", args: []string{"-x", "-s", "10", "-k", "echo", ":::", "a", "b"}},
		{flag: "delimiter", out: "[a]\n[b]\n", args: []string{"-d", ",", "-k", "echo", "[{}]"}, stdin: "a,b"},
		{flag: "no-run-if-empty", out: "[a]\n[b]\n", args: []string{"-r", "-k", "echo", "[{}]"}, stdin: "a\n \nb\n"},
		{flag: "eof", out: "a\n", args: []string{"-E", "stop", "-k", "echo"}, stdin: "a\nstop\nb\n"},
		{flag: "header", out: "a\nb\n", args: []string{"--header", ":", "-k", "echo", "{x}", ":::", "x", "a", "b"}},
		{flag: "csv", out: "b,c\n", args: []string{"--csv", "-k", "echo", "{2}"}, stdin: "a,\"b,c\"\n"},
		{flag: "trim", out: "[a]\n", args: []string{"--trim", "lr", "-k", "echo", "[{}]"}, stdin: " a \n"},
		{flag: "shuf", out: "1\n2\n", args: []string{"--shuf", "-k", "echo", "{#}", ":::", "a", "b"}},
		{flag: "verbose", out: "a\n", args: []string{"-t", "echo", ":::", "a"}},
		{flag: "retry-delay", out: "try 2\n", args: []string{"--retries", "3", "--retry-delay", "0.05", "n=$(cat DIR/n 2>/dev/null || echo 0); echo $((n+1)) > DIR/n; echo try $n; [ $n -ge 2 ]", ":::", "x"},
			files: []string{"n"}},
		// Files: on a worker the job runs in a fresh directory of its own,
		// where only what is transferred is; locally it runs here.
		{flag: "transfer", out: "A\nB\n", prepare: mkFiles, chdir: true, args: []string{"--transfer", "-k", "tr a-z A-Z <", ":::", "in1", "in2"}},
		{flag: "transferfile", out: "A\nB\n", prepare: mkFiles, chdir: true,
			args: []string{"--transferfile", "in{}", "-k", "tr a-z A-Z < in{} # {}", ":::", "1", "2"}},
		{flag: "return", out: "", prepare: mkFiles, chdir: true, files: []string{"in1.out", "in2.out"},
			args: []string{"--transfer", "--return", "{}.out", "-k", "tr a-z A-Z < {} > {}.out", ":::", "in1", "in2"}},
		{flag: "cleanup", out: "a\n", prepare: mkFiles, chdir: true, files: []string{"in1", "in1.out"},
			args: []string{"--transfer", "--return", "{}.out", "--cleanup", "-k", "cat {} | tee {}.out", ":::", "in1"}},
		{flag: "basefile", out: "a\nx\n", prepare: mkFiles, chdir: true, args: []string{"--basefile", "in1", "-k", "cat in1; echo", ":::", "x"}},
		{flag: "workdir", out: "DIR/wd\n", prepare: []string{"mkdir DIR/wd # {}", ":::", "x"}, args: []string{"--workdir", "DIR/wd", "-k", "pwd # {}", ":::", "x"}},
		{flag: "tf", out: "A\nB\n", prepare: mkFiles, chdir: true,
			args: []string{"--tf", "in{}", "-k", "tr a-z A-Z < in{} # {}", ":::", "1", "2"}},
		{flag: "bf", out: "a\nx\n", prepare: mkFiles, chdir: true, args: []string{"--bf", "in1", "-k", "cat in1; echo", ":::", "x"}},
		{flag: "wd", out: "DIR/wd\n", prepare: []string{"mkdir DIR/wd # {}", ":::", "x"}, args: []string{"--wd", "DIR/wd", "-k", "pwd # {}", ":::", "x"}},
		{flag: "trc", out: "", prepare: mkFiles, chdir: true, files: []string{"in1.out"},
			args: []string{"--trc", "{}.out", "-k", "tr a-z A-Z < {} > {}.out", ":::", "in1"}},
		{flag: "maxargs", out: "a b\nc\n", args: []string{"--maxargs", "2", "-k", "echo", ":::", "a", "b", "c"}},
		{flag: "maxreplaceargs", out: "ba\nc\n", args: []string{"--maxreplaceargs", "2", "-k", "echo", "{2}{1}", ":::", "a", "b", "c"}},
		{flag: "maxlines", out: "a b\nc\n", args: []string{"--maxlines", "2", "-k", "echo"}, stdin: "a\nb\nc\n"},
		{flag: "maxchars", out: "a b\nc d\n", args: []string{"--maxchars", "10", "-X", "-j1", "-k", "echo", ":::", "a", "b", "c", "d"}},
		{flag: "norunifempty", out: "[a]\n[b]\n", args: []string{"--norunifempty", "-k", "echo", "[{}]"}, stdin: "a\n \nb\n"},
		{flag: "pipe", out: "3\n2\n", args: []string{"--pipe", "-N3", "-k", "wc", "-l"}, stdin: "1\n2\n3\n4\n5\n"},
		{flag: "spreadstdin", out: "3\n2\n", args: []string{"--spreadstdin", "-N3", "-k", "wc", "-l"}, stdin: "1\n2\n3\n4\n5\n"},
		{flag: "block", out: "aaaa,bbbb,\ncccc,dddd,\n", args: []string{"--pipe", "--block", "12", "-k", `tr "\n" ,; echo`}, stdin: "aaaa\nbbbb\ncccc\ndddd\n"},
		{flag: "recend", out: "a;b;\nc;\n", args: []string{"--pipe", "--recend", ";", "-N2", "-k", "cat; echo"}, stdin: "a;b;c;"},
		{flag: "recstart", out: ">a,x,\n>b,\n", args: []string{"--pipe", "--recstart", ">", "-N1", "-k", `tr "\n" ,; echo`}, stdin: ">a\nx\n>b\n"},
		{flag: "regexp", out: "x1,\nA,y2,\n", args: []string{"--pipe", "--regexp", "--recend", "[0-9]\n", "-N1", "-k", `tr "\n" ,; echo`}, stdin: "x1\nA\ny2\n"},
		{flag: "rrs", out: "a,x,\nb,\n", args: []string{"--pipe", "--recstart", ">", "--rrs", "-N1", "-k", `tr "\n" ,; echo`}, stdin: ">a\nx\n>b\n"},
		{flag: "pipepart", out: "4\n2\n", prepare: []string{"seq 6 > DIR/in # {}", ":::", "x"},
			args: []string{"--pipepart", "-a", "DIR/in", "--block", "7", "-k", "wc", "-l"}},
		{flag: "round-robin", args: []string{"--round-robin", "touch", "DIR/ran"}, stdin: "a\n", refused: true},
		{flag: "cat", args: []string{"--cat", "touch", "DIR/ran"}, stdin: "a\n", refused: true},
		{flag: "fifo", args: []string{"--fifo", "touch", "DIR/ran"}, stdin: "a\n", refused: true},
		// startRemote's worker has the tag "remote".
		{flag: "require", out: "a\nb\n", args: []string{"--require", "remote", "-k", "echo", ":::", "a", "b"},
			localErr: "--require needs --server or -S: only crew workers have tags"},
		{flag: "server"}, // the flag that makes the difference
		// -S starts a cluster of its own (run_ssh_test.go runs them).
		{flag: "sshlogin", args: []string{"-S", "host1", "touch", "DIR/ran", ":::", "x"}, refused: true},
		{flag: "sshloginfile", args: []string{"--sshloginfile", "DIR/hosts", "touch", "DIR/ran", ":::", "x"}, refused: true},
		{flag: "slf", args: []string{"--slf", "DIR/hosts", "touch", "DIR/ran", ":::", "x"}, refused: true},
		{flag: "ssh", args: []string{"--ssh", "ssh -p 2222", "touch", "DIR/ran", ":::", "x"}, refused: true},
		{flag: "controlmaster", args: []string{"-M", "touch", "DIR/ran", ":::", "x"}, refused: true},
		{flag: "nonall", args: []string{"--nonall", "touch DIR/ran"}, refused: true},
		{flag: "onall", args: []string{"--onall", "touch", "DIR/ran", ":::", "x"}, refused: true},
		// Only with --server: submit and exit (testdata/runs_*.txtar).
		{flag: "detach"},
		// Replacement strings are expanded by crew run itself; the job's
		// environment travels with the job (testdata/cluster_env.txtar
		// shows it with a worker whose environment lacks the variable).
		{flag: "replace-string", out: "a\nb\n", args: []string{"-I", "@", "-k", "echo", "@", ":::", "a", "b"}},
		{flag: "replace", out: "a\n", args: []string{"--replace=@", "-k", "echo", "@", ":::", "a"}},
		{flag: "extensionreplace", out: "d/a\n", args: []string{"--extensionreplace", "E", "echo", "E", ":::", "d/a.x"}},
		{flag: "er", out: "d/a\n", args: []string{"--er", "E", "echo", "E", ":::", "d/a.x"}},
		{flag: "basenamereplace", out: "a.x\n", args: []string{"--basenamereplace", "B", "echo", "B", ":::", "d/a.x"}},
		{flag: "bnr", out: "a.x\n", args: []string{"--bnr", "B", "echo", "B", ":::", "d/a.x"}},
		{flag: "dirnamereplace", out: "d\n", args: []string{"--dirnamereplace", "D", "echo", "D", ":::", "d/a.x"}},
		{flag: "dnr", out: "d\n", args: []string{"--dnr", "D", "echo", "D", ":::", "d/a.x"}},
		{flag: "basenameextensionreplace", out: "a\n", args: []string{"--basenameextensionreplace", "BE", "echo", "BE", ":::", "d/a.x"}},
		{flag: "bner", out: "a\n", args: []string{"--bner", "BE", "echo", "BE", ":::", "d/a.x"}},
		{flag: "seqreplace", out: "1\n2\n", args: []string{"--seqreplace", "S", "-k", "echo", "S", ":::", "a", "b"}},
		{flag: "slotreplace", out: "1\n", args: []string{"--slotreplace", "L", "-j1", "echo", "L", ":::", "a"}},
		{flag: "plus", out: "d/a b.c d\n", args: []string{"--plus", "echo", "{..}", "{+..}", "{+/}", ":::", "d/a.b.c"}},
		{flag: "env", out: "v1 1 a\nv1 2 b\n", env: []string{"CREW_REMOTE_TEST=v1"},
			args: []string{"--env", "CREW_REMOTE_TEST", "-k", "echo $CREW_REMOTE_TEST $PARALLEL_SEQ", ":::", "a", "b"}},
		{flag: "record-env", env: []string{"PARALLEL_HOME=DIR/ph"}, args: []string{"--record-env"}, files: []string{"ph"}},
	}

	// Every flag of crew run has its row.
	run, _, err := newRootCmd(Streams{}).Find([]string{"run"})
	if err != nil {
		t.Fatal(err)
	}
	run.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" && !slices.ContainsFunc(cases, func(c remoteCase) bool { return c.flag == f.Name }) {
			t.Errorf("crew run --%s has no row: say whether it works with --server", f.Name)
		}
	})

	// The worker makes the fresh work dirs of jobs with files here.
	t.Setenv("TMPDIR", t.TempDir())
	url := startRemote(t)
	for _, c := range cases {
		if c.flag == "server" || c.flag == "detach" {
			continue
		}
		t.Run(c.flag, func(t *testing.T) {
			if c.refused {
				dir := t.TempDir()
				code, _, stderr := crewRun(t, dir, c.stdin, append([]string{"--server", url}, c.args...))
				if code != exitError || !strings.Contains(stderr, flagName(c.flag)+" cannot be used with --server") {
					t.Errorf("with --server: exit %d, stderr %q; want %d and an error naming %s", code, stderr, exitError, flagName(c.flag))
				}
				if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
					t.Errorf("a job ran")
				}
				return
			}
			if c.localErr != "" {
				code, _, stderr := crewRun(t, t.TempDir(), c.stdin, c.args)
				if code != exitError || !strings.Contains(stderr, c.localErr) {
					t.Errorf("without --server: exit %d, stderr %q; want %d and %q", code, stderr, exitError, c.localErr)
				}
				code, stdout, stderr := crewRun(t, t.TempDir(), c.stdin, append([]string{"--server", url}, c.args...))
				if code != 0 || stdout != c.out {
					t.Errorf("with --server: exit %d, stdout %q, stderr %q; want 0 and %q", code, stdout, stderr, c.out)
				}
				return
			}
			local, remote := t.TempDir(), t.TempDir()
			for _, dir := range []string{local, remote} {
				if c.prepare != nil {
					if code, _, stderr := crewRun(t, dir, "", c.prepare); code > 1 {
						t.Fatalf("preparing: exit %d: %s", code, stderr)
					}
				}
			}
			if c.chdir {
				t.Chdir(local)
			}
			setEnv(t, c.env, local)
			lc, lout, lerr := crewRun(t, local, c.stdin, c.args)
			if c.chdir {
				t.Chdir(remote)
			}
			setEnv(t, c.env, remote)
			rc, rout, rerr := crewRun(t, remote, c.stdin, append([]string{"--server", url}, c.args...))
			if lout != c.out {
				t.Errorf("without --server: stdout %q, want %q (stderr %q)", lout, c.out, lerr)
			}
			if lc != rc || lout != rout || lerr != rerr {
				t.Errorf("without --server: exit %d, stdout %q, stderr %q\nwith --server:    exit %d, stdout %q, stderr %q",
					lc, lout, lerr, rc, rout, rerr)
			}
			for _, f := range c.files {
				if l, r := tree(t, local, f), tree(t, remote, f); l != r {
					t.Errorf("%s without --server:\n%s\nwith --server:\n%s", f, l, r)
				}
			}
		})
	}
}

// setEnv sets env's KEY=value pairs for the rest of the test, DIR in a
// value standing for dir.
func setEnv(t *testing.T, env []string, dir string) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, strings.ReplaceAll(v, "DIR", dir))
	}
}

// flagName is how checkRemote names a flag.
func flagName(long string) string {
	if long == "ungroup" {
		return "-u/--ungroup"
	}
	return "--" + long
}

// startRemote starts a broker and a worker in this process, as crew
// broker and crew worker do, and returns the broker's URL.
func startRemote(t *testing.T) string {
	t.Helper()
	b, err := cluster.StartBroker(cluster.BrokerConfig{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	w, err := cluster.NewWorker(cluster.WorkerConfig{
		ConnConfig: cluster.ConnConfig{URL: b.URL()}, Executor: runner.Local{}, Concurrency: 4, Tags: []string{"remote"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	return b.URL()
}

// crewRun runs crew run with args, DIR in them standing for dir, and
// returns its exit status and output with dir written DIR again.
func crewRun(t *testing.T, dir, stdin string, args []string) (code int, stdout, stderr string) {
	t.Helper()
	args = slices.Clone(args)
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "DIR", dir)
	}
	var out, errOut strings.Builder
	code = MainArgs(append([]string{"run"}, args...), Streams{In: strings.NewReader(stdin), Out: &out, Err: &errOut})
	stderr = progressTimes.ReplaceAllString(strings.ReplaceAll(errOut.String(), dir, "DIR"), "T")
	return code, strings.ReplaceAll(out.String(), dir, "DIR"), stderr
}

// progressTimes matches the times in progress lines, which differ between
// any two runs.
var progressTimes = regexp.MustCompile(`[0-9.]+(ms|s|m|h)+`)

// tree returns the file or directory name under dir as text: each file's
// path and content; a joblog's rows in order, without the columns that
// differ between machines and runs (Host, Starttime, JobRuntime); so
// too a --results table in TSV with one line per job.
func tree(t *testing.T, dir, name string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(filepath.Join(dir, name), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		text := string(data)
		if name == "log" || strings.HasSuffix(name, ".tsv") {
			var rows []string
			for line := range strings.Lines(text) {
				col := strings.Split(line, "\t")
				rows = append(rows, strings.Join(append([]string{col[0]}, col[4:]...), "\t"))
			}
			slices.Sort(rows[1:]) // jobs are logged as they end
			text = strings.Join(rows, "")
		}
		rel, _ := filepath.Rel(dir, p)
		b.WriteString(rel + ":\n" + strings.ReplaceAll(text, dir, "DIR") + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestRunReportWithServer: with --server, --report draws a lane per
// worker, named as the worker names itself, where a local run draws a
// lane per job slot.
func TestRunReportWithServer(t *testing.T) {
	url := startRemote(t)
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		lane string
	}{
		{[]string{"--report", "DIR/local.html", "-j2", "exit {}", ":::", "0", "1"}, "one lane per job slot"},
		{[]string{"--server", url, "--report", "DIR/remote.html", "exit {}", ":::", "0", "1"}, "one lane per worker"},
	} {
		if code, _, stderr := crewRun(t, dir, "", c.args); code != 1 {
			t.Fatalf("crew run %q: exit %d, want 1: %s", c.args, code, stderr)
		}
		page, err := os.ReadFile(strings.ReplaceAll(c.args[slices.Index(c.args, "--report")+1], "DIR", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{c.lane, `<th>failed</th><td class="num bad">1</td>`} {
			if !strings.Contains(string(page), want) {
				t.Errorf("%q: the page lacks %q", c.args, want)
			}
		}
	}
}
