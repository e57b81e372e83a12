package runner_test

import (
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
