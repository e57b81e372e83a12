package cli

import (
	"regexp"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"crew/runner"
)

// TestRunFlags checks what crew run's flags and arguments parse into.
func TestRunFlags(t *testing.T) {
	ncpu := runtime.NumCPU()
	// GNU parallel's --term-seq, crew run's default.
	termSeq := []runner.TermStep{
		{Signal: syscall.SIGTERM, Wait: 200 * time.Millisecond},
		{Signal: syscall.SIGTERM, Wait: 100 * time.Millisecond},
		{Signal: syscall.SIGTERM, Wait: 50 * time.Millisecond},
		{Signal: syscall.SIGKILL, Wait: 25 * time.Millisecond},
	}
	for _, c := range []struct {
		args []string
		want func(o *runOptions) // changes from the defaults
	}{
		{[]string{"echo", ":::", "a", "b"}, func(o *runOptions) {}},
		{[]string{"echo"}, func(o *runOptions) { o.inputs = nil }},
		{[]string{}, func(o *runOptions) { o.command, o.inputs = []string{}, nil }},
		// Flags end at the command: its own flags are its words.
		{[]string{"echo", "-k", "--timeout", "5", ":::", "a", "b"}, func(o *runOptions) {
			o.command = []string{"echo", "-k", "--timeout", "5"}
		}},
		{[]string{"-j", "3", "echo", ":::", "a", "b"}, func(o *runOptions) { o.jobs = 3 }},
		{[]string{"-j3", "echo", ":::", "a", "b"}, func(o *runOptions) { o.jobs = 3 }},
		{[]string{"-j", "+2", "echo", ":::", "a", "b"}, func(o *runOptions) { o.jobs = ncpu + 2 }},
		{[]string{"-j", "200%", "echo", ":::", "a", "b"}, func(o *runOptions) { o.jobs = 2 * ncpu }},
		{[]string{"--server", "nats://h:4222", "echo", ":::", "a", "b"}, func(o *runOptions) {
			o.server, o.jobs = "nats://h:4222", defaultInFlight
		}},
		{[]string{"--server", "nats://h:4222", "-j", "4", "echo", ":::", "a", "b"}, func(o *runOptions) {
			o.server, o.jobs = "nats://h:4222", 4
		}},
		{[]string{"-0", "-q", "--colsep", ",+", "--load", "2.5", "--memfree", "1G", "echo", ":::", "a", "b"}, func(o *runOptions) {
			o.null, o.quote, o.colSep, o.load, o.memFree = true, true, regexp.MustCompile(",+"), 2.5, 1<<30
		}},
		{[]string{"-u", "echo", ":::", "a", "b"}, func(o *runOptions) { o.output = runner.Ungroup }},
		{[]string{"--line-buffer", "echo", ":::", "a", "b"}, func(o *runOptions) { o.output = runner.LineBuffer }},
		{[]string{"--line-buffer", "--ungroup", "echo", ":::", "a", "b"}, func(o *runOptions) { o.output = runner.Ungroup }},
		{[]string{"--group", "-k", "--tag", "--tagstring", "{#}", "echo", ":::", "a", "b"}, func(o *runOptions) {
			o.keepOrder, o.tag, o.tagString = true, true, "{#}"
		}},
		{[]string{"--joblog", "j.tsv", "--resume-failed", "--retries", "3", "--results", "out", "--dry-run", "echo", ":::", "a", "b"}, func(o *runOptions) {
			o.joblog, o.resumeFailed, o.retries, o.results, o.dryRun = "j.tsv", true, 3, "out", true
		}},
		// Durations: a bare number is seconds, anything else a Go duration.
		{[]string{"--timeout", "60", "--delay", "0.25", "echo", ":::", "a", "b"}, func(o *runOptions) {
			o.timeout, o.delay = time.Minute, 250*time.Millisecond
		}},
		{[]string{"--timeout", "1m30s", "--delay", "200ms", "echo", ":::", "a", "b"}, func(o *runOptions) {
			o.timeout, o.delay = 90*time.Second, 200*time.Millisecond
		}},
		{[]string{"--timeout", "150%", "echo", ":::", "a", "b"}, func(o *runOptions) { o.timeoutPercent = 150 }},
		{[]string{"--timeout", "0", "echo", ":::", "a", "b"}, func(o *runOptions) {}},
		{[]string{"--halt", "now,fail=1", "echo", ":::", "a", "b"}, func(o *runOptions) {
			o.halt = runner.Halt{When: runner.HaltNow, On: runner.HaltOnFail, Count: 1}
		}},
		{[]string{"--halt", "soon,success=10%", "echo", ":::", "a", "b"}, func(o *runOptions) {
			o.halt = runner.Halt{When: runner.HaltSoon, On: runner.HaltOnSuccess, Percent: 10}
		}},
		{[]string{"--bar", "echo", ":::", "a", "b"}, func(o *runOptions) { o.progress, o.records.bar = true, true }},
		{[]string{"--eta", "echo", ":::", "a", "b"}, func(o *runOptions) { o.progress, o.eta = true, true }},
		{[]string{"--joblog", "+j.tsv", "--retry-failed", "--files", "--report", "r.html", "echo", ":::", "a", "b"}, func(o *runOptions) {
			o.joblog, o.records = "j.tsv", recordFlags{joblogAppend: true, retryFailed: true, files: true, report: "r.html"}
		}},
		{[]string{"--term-seq", "INT,10,9,0", "echo", ":::", "a", "b"}, func(o *runOptions) {
			o.termSeq = []runner.TermStep{{Signal: syscall.SIGINT, Wait: 10 * time.Millisecond}, {Signal: syscall.SIGKILL}}
		}},
		// -n, -N and -L imply -X unless -m or --xargs is given; -s does not.
		{[]string{"-n", "2", "echo", ":::", "a", "b"}, func(o *runOptions) { o.maxArgs, o.multiple = 2, runner.MultipleContext }},
		{[]string{"-N1k", "-m", "echo", ":::", "a", "b"}, func(o *runOptions) {
			o.maxArgs, o.replaceArgs, o.multi, o.multiple, o.spread = 1000, true, true, runner.MultipleReplace, true
		}},
		{[]string{"-L", "0", "--xargs", "echo", ":::", "a", "b"}, func(o *runOptions) {
			o.maxLines, o.xargs, o.multiple = 0, true, runner.MultipleReplace
		}},
		{[]string{"-s", "1K", "-x", "echo", ":::", "a", "b"}, func(o *runOptions) {
			o.maxChars, o.exitTooBig = 1024, true
		}},
		{[]string{"-X", "--header", ":", "-d", `\t`, "-r", "-E", "END", "--csv", "--trim", "rl", "--shuf", "-t", "echo", ":::", "a", "b"}, func(o *runOptions) {
			o.context, o.spread, o.multiple, o.header, o.hasHeader, o.delimiter, o.hasDelimiter = true, true, runner.MultipleContext, ":", true, "\t", true
			o.noRunIfEmpty, o.eof, o.csv, o.trim, o.shuf, o.verbose = true, "END", true, runner.TrimBoth, true, true
		}},
		// Files and retries (#14): --transfer is --transferfile {} first;
		// --trc adds --transfer, its --return and --cleanup.
		{[]string{"--retry-delay", "1.5", "--transferfile", "x/./{}", "--transfer", "--return", "{}.out", "--trc", "{}.z",
			"--basefile", "b", "--workdir", "...", "echo", ":::", "a", "b"}, func(o *runOptions) {
			o.retryDelay = 1500 * time.Millisecond
			o.transferFiles, o.returnFiles = []string{"{}", "x/./{}"}, []string{"{}.out", "{}.z"}
			o.baseFiles, o.workDir, o.cleanup = []string{"b"}, "...", true
		}},
		{[]string{"--require", "gpu,bigmem", "--require", "gpu", "echo", ":::", "a", "b"}, func(o *runOptions) {
			o.require = []string{"bigmem", "gpu"}
		}},
		// -a files come first, then the groups in order.
		{[]string{"-a", "f1", "--arg-file", "-", "echo", ":::", "a", "b", "::::+", "f2", "f3", ":::", "c"}, func(o *runOptions) {
			o.inputs = []runInput{
				{file: "f1", isFile: true}, {file: "-", isFile: true},
				{values: []string{"a", "b"}},
				{file: "f2", isFile: true, linked: true}, {file: "f3", isFile: true},
				{values: []string{"c"}},
			}
		}},
	} {
		want := runOptions{
			command:      []string{"echo"},
			inputs:       []runInput{{values: []string{"a", "b"}}},
			jobs:         ncpu,
			output:       runner.Group,
			termSeq:      termSeq,
			inputOptions: inputOptions{maxArgs: -1, maxLines: -1},
		}
		c.want(&want)
		got, err := parseCmd(t, newRunCmd, c.args...)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if diff := cmp.Diff(want, *got,
			cmp.AllowUnexported(runOptions{}, runInput{}, inputOptions{}, recordFlags{}, sshOptions{}, filesOptions{}, pipeOptions{}, tmplOptions{}),
			cmpopts.IgnoreFields(runOptions{}, "streams", "serverOptions"),
			cmpopts.EquateEmpty(),
			cmp.Comparer(func(a, b *regexp.Regexp) bool {
				return a == nil && b == nil || a != nil && b != nil && a.String() == b.String()
			}),
		); diff != "" {
			t.Errorf("%q: options differ (-want +got):\n%s", c.args, diff)
		}
	}
}

// TestRunFlagErrors checks that malformed values are refused before
// anything runs, each with an error naming what is wrong.
func TestRunFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--frobnicate", "echo"}, "unknown flag: --frobnicate"},
		{[]string{"-j", "many", "echo"}, `bad -j value: "many"`},
		{[]string{"-j", "", "echo"}, `bad -j value: ""`},
		{[]string{"--halt", "sometimes", "echo"}, `bad --halt value: "sometimes"`},
		{[]string{"--halt", "now,fail=0", "echo"}, `bad --halt value`},
		{[]string{"--memfree", "1X", "echo"}, `--memfree: bad size: "1X"`},
		{[]string{"--timeout", "soon", "echo"}, `bad value "soon" (want seconds, a duration like 1m30s, or N% of the median run time)`},
		{[]string{"--timeout", "-5", "echo"}, `bad value "-5"`},
		{[]string{"--timeout", "x%", "echo"}, `bad value "x%"`},
		{[]string{"--delay", "soon", "echo"}, `bad duration "soon"`},
		{[]string{"--delay", "-1", "echo"}, "--delay must not be negative"},
		{[]string{"--resume", "echo"}, "need --joblog"},
		{[]string{"--retries", "-1", "echo"}, "--retries must not be negative"},
		{[]string{"--colsep", "[", "echo"}, "--colsep: "},
		{[]string{"--term-seq", "TERM", "echo"}, "want SIGNAL,MS pairs"},
		{[]string{"--term-seq", "NOPE,10", "echo"}, "bad step NOPE,10"},
		{[]string{"--term-seq", "TERM,-1", "echo"}, "bad step TERM,-1"},
		{[]string{"--retry-delay", "-1", "echo"}, "--retry-delay must not be negative"},
		{[]string{"--retry-delay", "soon", "echo"}, `bad duration "soon"`},
		{[]string{"--transferfile", "", "echo"}, "--transferfile wants a file name"},
		{[]string{"--return", "", "echo"}, "--return wants a file name"},
		{[]string{"--basefile", "", "echo"}, "--basefile wants a file name"},
		{[]string{"--require", "gpu,", "echo"}, `--require: bad tag "" in "gpu,": a tag must not be empty`},
		{[]string{"--require", "", "echo"}, `--require: bad tag "" in "": a tag must not be empty`},
	} {
		_, err := parseCmd(t, newRunCmd, c.args...)
		wantErr(t, c.args, err, c.want)
	}
}

// TestSplitRunArgs checks how the arguments split into the command and the
// input groups, empty groups included (GNU parallel's rules).
func TestSplitRunArgs(t *testing.T) {
	for _, c := range []struct {
		args    []string
		command []string
		inputs  []runInput
	}{
		{[]string{"echo", "x"}, []string{"echo", "x"}, nil},
		{[]string{"echo", ":::", "a", ":::+", "b"}, []string{"echo"}, []runInput{{values: []string{"a"}}, {values: []string{"b"}, linked: true}}},
		// A lone separator at the very end reads standard input.
		{[]string{"echo", ":::"}, []string{"echo"}, nil},
		// An empty ::: group is an input with no values; an empty :::: none.
		{[]string{"echo", ":::", ":::", "a"}, []string{"echo"}, []runInput{{values: []string{}}, {values: []string{"a"}}}},
		{[]string{"echo", "::::", ":::", "a"}, []string{"echo"}, []runInput{{values: []string{"a"}}}},
		{[]string{":::", "echo a", "echo b"}, []string{}, []runInput{{values: []string{"echo a", "echo b"}}}},
	} {
		command, inputs := splitRunArgs(c.args)
		if diff := cmp.Diff(c.command, command, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%q: command (-want +got):\n%s", c.args, diff)
		}
		if diff := cmp.Diff(c.inputs, inputs, cmp.AllowUnexported(runInput{}), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%q: inputs (-want +got):\n%s", c.args, diff)
		}
	}
}
