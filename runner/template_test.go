package runner_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"crew/runner"
)

func TestExpand(t *testing.T) {
	tests := []struct {
		words []string
		quote bool
		args  []string
		want  string
	}{
		{[]string{"echo"}, false, []string{"a b"}, "echo 'a b'"},
		{[]string{"echo", "{}"}, false, []string{"it's"}, `echo "it's"`},
		{[]string{"echo {} {}"}, false, []string{"x"}, "echo x x"},
		{[]string{"mv", "{}", "{.}.bak"}, false, []string{"d/a.txt"}, "mv d/a.txt d/a.bak"},
		{[]string{"echo", "{/}", "{//}", "{/.}"}, false, []string{"/x/y.z"}, "echo y.z /x y"},
		{[]string{"echo", "{2}", "{1}"}, false, []string{"a", "b"}, "echo b a"},
		{[]string{"echo", "{-1}"}, false, []string{"a", "b"}, "echo b"},
		{[]string{"echo", "{3}"}, false, []string{"a"}, "echo "},
		{[]string{"echo", "{#}", "{%}"}, false, []string{"a"}, "echo 7 2"},
		{[]string{"echo", "{", "{x}", "{1"}, false, []string{"a"}, "echo { {x} {1 a"},
		{[]string{"echo", "{} x"}, true, []string{"a b"}, "echo 'a b x'"},
		{[]string{"echo"}, false, []string{"a", "b c"}, "echo a 'b c'"},
		{[]string{"echo", "{}"}, false, []string{"\xff'"}, `echo '` + "\xff" + `'\'''`},
		{[]string{"echo", "{1.}"}, false, []string{".bashrc"}, "echo ''"},
	}
	for _, tt := range tests {
		tmpl, err := runner.ParseTemplate(tt.words, tt.quote)
		if err != nil {
			t.Fatal(err)
		}
		if got := tmpl.Expand(7, 2, tt.args); got != tt.want {
			t.Errorf("%q -q=%v with %q: got %q, want %q", tt.words, tt.quote, tt.args, got, tt.want)
		}
	}
	if _, err := runner.ParseTemplate(nil, false); err == nil {
		t.Error("an empty template parsed")
	}
}

func TestSimpleArgv(t *testing.T) {
	tests := []struct {
		cmd  string
		want []string // nil: must go through the shell
	}{
		{"true", []string{"true"}},
		{"gzip -9 'a b.log'", []string{"gzip", "-9", "a b.log"}},
		{`cat "x y" z`, []string{"cat", "x y", "z"}},
		{"sort --key=2 f", []string{"sort", "--key=2", "f"}},
		{"echo hi", []string{"echo", "hi"}},
		{`echo 'a\tb'`, nil},
		{"echo -n x", nil},
		{"exit 3", nil},
		{"cd /tmp", nil},
		{"echo $HOME", nil},
		{"ls *.go", nil},
		{"a | b", nil},
		{"a; b", nil},
		{"a > f", nil},
		{"X=1 env", nil},
		{"a && b", nil},
		{"cat ~/f", nil},
		{"if true; then :; fi", nil},
		{"sleep 1 &", nil},
		{"echo `id`", nil},
		{"cat \"$x\"", nil},
		{"", nil},
		{"'unterminated", nil},
	}
	for _, tt := range tests {
		got, ok := runner.SimpleArgv(tt.cmd)
		if ok != (tt.want != nil) || !cmp.Equal(got, tt.want) {
			t.Errorf("SimpleArgv(%q) = %q, %v; want %q", tt.cmd, got, ok, tt.want)
		}
	}
}

func TestParseHalt(t *testing.T) {
	tests := []struct {
		in   string
		want runner.Halt
		bad  bool
	}{
		{"never", runner.Halt{}, false},
		{"now,fail=1", runner.Halt{When: runner.HaltNow, On: runner.HaltOnFail, Count: 1}, false},
		{"soon,fail=10%", runner.Halt{When: runner.HaltSoon, On: runner.HaltOnFail, Percent: 10}, false},
		{"now,success=2", runner.Halt{When: runner.HaltNow, On: runner.HaltOnSuccess, Count: 2}, false},
		{"soon,done=3", runner.Halt{When: runner.HaltSoon, On: runner.HaltOnDone, Count: 3}, false},
		{"2", runner.Halt{When: runner.HaltNow, Count: 1}, false},
		{"1", runner.Halt{When: runner.HaltSoon, Count: 1}, false},
		{"now", runner.Halt{}, true},
		{"later,fail=1", runner.Halt{}, true},
		{"now,fail=0", runner.Halt{}, true},
		{"now,fail=x", runner.Halt{}, true},
		{"now,fail=101%", runner.Halt{}, true},
		{"now,oops=1", runner.Halt{}, true},
		{"", runner.Halt{}, true},
	}
	for _, tt := range tests {
		got, err := runner.ParseHalt(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseHalt(%q) = %+v, %v; want %+v, bad=%v", tt.in, got, err, tt.want, tt.bad)
		}
	}
}

func TestParseJobs(t *testing.T) {
	tests := []struct {
		in   string
		want int
		bad  bool
	}{
		{"4", 4, false},
		{"50%", 4, false},
		{"200%", 16, false},
		{"+1", 9, false},
		{"-1", 7, false},
		{"-20", 1, false},
		{"1%", 1, false},
		{"x", 0, true},
		{"", 0, true},
		{"%", 0, true},
		{"-5%", 0, true},
		{"9999999999", 0, true},
	}
	for _, tt := range tests {
		got, err := runner.ParseJobs(tt.in, 8)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseJobs(%q, 8) = %d, %v; want %d, bad=%v", tt.in, got, err, tt.want, tt.bad)
		}
	}
	if n, err := runner.ParseJobs("0", 8); err != nil || n < 8 || n > runner.MaxJobs {
		t.Errorf("ParseJobs(0) = %d, %v; want a bound in [8, %d]", n, err, runner.MaxJobs)
	}
}

// TestExpandOptions checks what the compatibility cases cannot see
// through a shell: the exact command line for -I and the renames, --plus,
// -X, -q and jobs with no argument.
func TestExpandOptions(t *testing.T) {
	plus := runner.TemplateOptions{Plus: true}
	ctx := runner.TemplateOptions{Context: true}
	tests := []struct {
		name  string
		words []string
		o     runner.TemplateOptions
		args  []string
		want  string
	}{
		{"I", []string{"echo", ",,", "{}"}, runner.TemplateOptions{Rename: runner.Replacements{Input: ",,"}}, []string{"a b"}, "echo 'a b' {}"},
		{"I braced positional", []string{"echo", "{x}", "{2x}", "{-1 x}"}, runner.TemplateOptions{Rename: runner.Replacements{Input: "{x}"}}, []string{"a", "b"}, "echo a b b b"},
		{"I literal, not a pattern", []string{"echo", "a.c", "abc"}, runner.TemplateOptions{Rename: runner.Replacements{Input: "a.c"}}, []string{"V"}, "echo V abc"},
		{"renames", []string{"S", "L", "B", "D", "BE", "E"}, runner.TemplateOptions{Rename: runner.Replacements{
			Seq: "S", Slot: "L", Base: "B", Dir: "D", BaseNoExt: "BE", NoExt: "E"}}, []string{"x/y.z"}, "7 2 y.z x y x/y"},
		{"no replacement appends", []string{"echo", "{x}"}, runner.TemplateOptions{}, []string{"a", "b c"}, "echo {x} a 'b c'"},
		{"several arguments", []string{"echo", "pre{}post", "{.}"}, runner.TemplateOptions{}, []string{"a.x", "b"}, "echo prea.x bpost a b"},
		{"seq once", []string{"echo", "{#}{%}"}, runner.TemplateOptions{}, []string{"a", "b"}, "echo 72"},
		{"X", []string{"echo", "pre{}post", "{1}"}, ctx, []string{"a", "b c"}, "echo preapost pre'b c'post a"},
		{"X blanks in a word", []string{"echo", "x p{}q y"}, ctx, []string{"a", "b"}, "echo x paq pbq y"},
		{"X fixed once", []string{"echo", "p{#}"}, ctx, []string{"a", "b"}, "echo p7"},
		{"q", []string{"echo", "a;b {}"}, runner.TemplateOptions{Quote: true}, []string{"x y"}, "echo 'a;b x y'"},
		{"q several", []string{"echo", "p{}"}, runner.TemplateOptions{Quote: true}, []string{"a", "b"}, "echo pa b"},
		{"command is input", []string{"{}", "x"}, runner.TemplateOptions{}, []string{"echo a;b"}, "echo a;b x"},
		{"assignment first", []string{"X={}", "x"}, runner.TemplateOptions{}, []string{"a b"}, "X='a b' x"},
		{"no arguments", []string{"echo", "x{}y"}, runner.TemplateOptions{}, nil, "echo xy"},
		{"no arguments appended", []string{"echo", "hi"}, runner.TemplateOptions{}, nil, "echo hi"},
		{"plus path", []string{"{+/}", "{+.}", "{..}", "{+..}", "{/..}"}, plus, []string{"d/a.b.c"}, "d c d/a b.c a"},
		{"plus counts", []string{"e", "{##}", "{0#}", "{0%}"}, plus, []string{"a"}, "e 10 07 02"},
		{"plus vars unquoted", []string{"e", "{slot}", "{host}"}, plus, []string{"a"}, "e ${PARALLEL_JOBSLOT} ${PARALLEL_SSHHOST}"},
		{"plus default", []string{"e", "{:-none}", "{1:-none}"}, plus, []string{"0", "x"}, "e none x none"},
		{"plus regexp", []string{"e", "{/a+/X}", "{//a/}", "{%%a.*}", "{#ba*}", "{#b*}"}, plus, []string{"baab"}, "e bXb bb b aab baab"},
		{"plus before positional", []string{"e", "{2..}", "{-1/...}"}, plus, []string{"a", "b.c.d"}, "e b b.c.d"},
		{"plus case", []string{"e", "{^b}", "{,,A}"}, plus, []string{"bAA\xc3\x89"}, "e BAA\xc3\x89 baa\xc3\x89"},
		{"plus off", []string{"e", "{..}"}, runner.TemplateOptions{}, []string{"a.b.c"}, "e {..} a.b.c"},
		{"tagstring appends nothing", []string{"T"}, runner.TemplateOptions{NoAppend: true}, []string{"a"}, "T"},
	}
	for _, tt := range tests {
		tp, err := runner.ParseTemplateWith(tt.words, tt.o)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := runner.ExpandJob(tp, 7, 2, 12, 10, tt.args); got != tt.want {
			t.Errorf("%s: %q with %q: got %q, want %q", tt.name, tt.words, tt.args, got, tt.want)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	for _, words := range [][]string{
		{"echo", "{= s/a/b/ =}"},
		{"echo", "{/(?<=a)b/c}"},
		{"echo", "{%a\\1}"},
	} {
		_, err := runner.ParseTemplateWith(words, runner.TemplateOptions{Plus: true})
		if !errors.Is(err, runner.ErrBadTemplate) {
			t.Errorf("%q: got %v, want ErrBadTemplate", words, err)
		}
	}
}

func TestSkip(t *testing.T) {
	uniq, _ := runner.ParseTemplateWith([]string{"echo", "{uniq}"}, runner.TemplateOptions{Plus: true})
	choose, _ := runner.ParseTemplateWith([]string{"echo", "{choose_k}"}, runner.TemplateOptions{Plus: true})
	tests := []struct {
		args                   []string
		skipUniq, skipChoosing bool
	}{
		{[]string{"a", "b"}, false, false},
		{[]string{"b", "a"}, false, true},
		{[]string{"a", "a"}, true, true},
		{[]string{"a", "b", "a"}, true, true},
		{[]string{"a"}, false, false},
	}
	for _, tt := range tests {
		if got := runner.Skip(uniq, tt.args); got != tt.skipUniq {
			t.Errorf("{uniq} %q: skip %v", tt.args, got)
		}
		if got := runner.Skip(choose, tt.args); got != tt.skipChoosing {
			t.Errorf("{choose_k} %q: skip %v", tt.args, got)
		}
	}
}

func TestWithNames(t *testing.T) {
	tp, err := runner.ParseTemplate([]string{"echo", "{b}", "{a.}", "{b//}", "{c}"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if tp, err = runner.WithNames(tp, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	if got, want := tp.Expand(1, 1, []string{"x.y", "p/q"}), "echo p/q x p {c}"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// BenchmarkExpand is the cost of one job's command line for a typical
// template, on the path every job takes.
func BenchmarkExpand(b *testing.B) {
	tp, err := runner.ParseTemplate([]string{"gzip", "-9", "{}", ">", "{.}.gz"}, false)
	if err != nil {
		b.Fatal(err)
	}
	args := []string{"logs/access.log"}
	b.ReportAllocs()
	for b.Loop() {
		tp.Expand(1, 1, args)
	}
}
