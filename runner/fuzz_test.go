package runner_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"crew/runner"
)

// FuzzTemplate parses arbitrary templates and checks, for the simple
// template "cat {}", that quoting round-trips through a shell parser:
// whatever the value, the shell would hand it to cat unchanged.
func FuzzTemplate(f *testing.F) {
	f.Add("echo {} {.} {/} {//} {/.}", "a/b.c")
	f.Add("{1} {2.} {-1//} {#} {%}", "it's")
	f.Add("{ {{}} {1 {x} }", "$HOME `id` *")
	f.Add("{-0} {99999999999} {1//.}", "\xff\n'\"\\")
	f.Fuzz(func(t *testing.T, tmpl, arg string) {
		tp, err := runner.ParseTemplate(strings.Fields(tmpl), false)
		if err == nil {
			tp.Expand(1, 1, []string{arg, arg})
		}
		if strings.IndexByte(arg, 0) >= 0 {
			return
		}
		cat, _ := runner.ParseTemplate([]string{"cat", "{}"}, false)
		cmd := cat.Expand(1, 1, []string{arg})
		if argv, ok := runner.SimpleArgv(cmd); ok && (len(argv) != 2 || argv[1] != arg) {
			t.Errorf("value %q: command %q parses as %q", arg, cmd, argv)
		}
	})
}

// FuzzParseHalt checks that a parsed --halt value is usable by Run.
func FuzzParseHalt(f *testing.F) {
	for _, s := range []string{"now,fail=1", "soon,success=10%", "2", "never", "now,done=0.5%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := runner.ParseHalt(s)
		if err != nil {
			return
		}
		_, err = runner.Run(context.Background(), runner.Config{Command: []string{"true"}, Jobs: 1, Executor: runner.Local{}, Halt: h, DryRun: true})
		if err != nil {
			t.Errorf("ParseHalt(%q) = %+v, which Run rejects: %v", s, h, err)
		}
	})
}

// FuzzParseJobs checks that every accepted -j value is a usable count.
func FuzzParseJobs(f *testing.F) {
	for _, s := range []string{"4", "0", "50%", "+1", "-1", "1e3%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := runner.ParseJobs(s, 4)
		if err == nil && (n < 1 || n > 1e6) {
			t.Errorf("ParseJobs(%q) = %d", s, n)
		}
	})
}

// FuzzInput feeds arbitrary input through the input reader in dry-run
// mode: every record must become exactly one command, or the run must
// fail with an error naming it; never a silently dropped record.
func FuzzInput(f *testing.F) {
	f.Add([]byte("a\nb\n"), false)
	f.Add([]byte("a\x00b"), true)
	f.Add([]byte("a\x00b\n"), false)
	f.Add([]byte("\n\n\xff\n"), false)
	f.Fuzz(func(t *testing.T, in []byte, null bool) {
		var out bytes.Buffer
		sep := byte('\n')
		if null {
			sep = 0
		}
		_, err := runner.Run(context.Background(), runner.Config{
			Command: []string{"{#}"}, Jobs: 1, Executor: runner.Local{}, DryRun: true, Null: null,
			Inputs: []runner.Input{{Reader: bytes.NewReader(in), Name: "in"}},
			Stdout: &out,
		})
		records := bytes.Count(in, []byte{sep})
		if len(in) > 0 && in[len(in)-1] != sep {
			records++
		}
		if err != nil {
			if !null && bytes.IndexByte(in, 0) >= 0 {
				return // a NUL in a line is refused, loudly
			}
			t.Fatalf("run failed: %v", err)
		}
		// Each command is its job number alone on a line.
		if got := strings.Count(out.String(), "\n"); got != records {
			t.Errorf("%d records gave %d commands: %q", records, got, out.String())
		}
	})
}

// FuzzInputGroups crosses ":::" groups cut from arbitrary bytes, some of
// them empty: as in GNU parallel an empty group counts as one empty value,
// unless every group is empty, when nothing runs.
func FuzzInputGroups(f *testing.F) {
	f.Add("a b|c")
	f.Add("a||")
	f.Add("|")
	f.Add("||x y z|")
	f.Fuzz(func(t *testing.T, spec string) {
		var inputs []runner.Input
		want, allEmpty := 1, true
		for _, g := range strings.Split(spec, "|") {
			vals := strings.Fields(g)
			inputs = append(inputs, runner.Input{Values: vals})
			want *= max(len(vals), 1)
			allEmpty = allEmpty && len(vals) == 0
			if want > 1000 {
				return
			}
		}
		if allEmpty {
			want = 0
		}
		var out bytes.Buffer
		_, err := runner.Run(context.Background(), runner.Config{
			Command: []string{"{#}"}, Jobs: 1, Executor: runner.Local{}, DryRun: true, Inputs: inputs, Stdout: &out,
		})
		if err != nil {
			if strings.ContainsRune(spec, 0) {
				return // a NUL cannot be an argument, and says so
			}
			t.Fatalf("run failed: %v", err)
		}
		if got := strings.Count(out.String(), "\n"); got != want {
			t.Errorf("groups %q gave %d commands, want %d", spec, got, want)
		}
	})
}

// FuzzPlusTemplate reads arbitrary templates with --plus, -X and a custom
// -I, and expands them for odd values: reading never panics, an error is
// a UsageError, expanding is a pure function of the job, and text with
// no brace passes through unchanged with the values appended.
func FuzzPlusTemplate(f *testing.F) {
	f.Add("echo {+/} {+.} {..} {/...} {##} {0#} {0%}", "a/b.c.d", uint8(1))
	f.Add("{:-x} {:2} {:1:3} {#a*} {##a*} {%b+} {%%b+}", "aabb", uint8(3))
	f.Add("{/a/b} {//a/} {/#a/b} {/%a/b} {^a} {^^[a-c]} {,A} {,,A}", "bAnana", uint8(1))
	f.Add("x{}y {1} {-2..} {2/a|b/c} {uniq} {choose_k} {slot} {host}", "", uint8(2))
	f.Add("{(} {[} {/(/x} {#\\} {%*}", "((", uint8(1))
	f.Add("@ {} @. {1@}", "v", uint8(4))
	f.Fuzz(func(t *testing.T, tmpl, arg string, flags uint8) {
		words := strings.Fields(tmpl)
		if len(words) == 0 {
			return
		}
		o := runner.TemplateOptions{Plus: flags&1 != 0, Context: flags&2 != 0, Quote: flags&8 != 0}
		if flags&4 != 0 {
			o.Rename.Input = "@"
		}
		tp, err := runner.ParseTemplateWith(words, o)
		if err != nil {
			var ue *runner.UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("%q: error %v is not a UsageError", tmpl, err)
			}
			return
		}
		args := []string{arg, arg + "/x.y"}
		a := runner.ExpandJob(tp, 3, 2, 4, 10, args)
		if b := runner.ExpandJob(tp, 3, 2, 4, 10, args); a != b {
			t.Fatalf("%q: two expansions differ: %q, %q", tmpl, a, b)
		}
		runner.Skip(tp, args)
		runner.ExpandJob(tp, 1, 1, 1, 1, nil)
		if !strings.ContainsAny(tmpl, "{@") && !o.Quote && strings.IndexByte(arg, 0) < 0 {
			want := strings.Join(words, " ") + " " + runner.QuoteArg(arg) + " " + runner.QuoteArg(arg+"/x.y")
			if a != want {
				t.Fatalf("%q with %q: got %q, want %q", tmpl, args, a, want)
			}
		}
	})
}
