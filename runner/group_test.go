package runner_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"crew/runner"
)

// dryRun runs c with --dry-run and returns the command lines it prints.
func dryRun(t *testing.T, c runner.Config) (string, error) {
	t.Helper()
	var out bytes.Buffer
	c.DryRun, c.Stdout, c.Executor = true, &out, runner.Local{}
	if c.Jobs == 0 {
		c.Jobs = 1
	}
	_, err := runner.Run(context.Background(), c)
	return out.String(), err
}

func values(v ...string) []runner.Input { return []runner.Input{{Values: v}} }

func stdin(s string) []runner.Input {
	return []runner.Input{{Reader: strings.NewReader(s), Name: "stdin"}}
}

func ptr(s string) *string { return &s }

// TestGrouping: how records become jobs with -n, -N, -L, -X, -m, --xargs
// and -s, including GNU parallel's spreading of a short input over the
// job slots.
func TestGrouping(t *testing.T) {
	ten := values("1", "2", "3", "4", "5", "6", "7", "8", "9", "10")
	for _, c := range []struct {
		name string
		cfg  runner.Config
		want string
	}{
		{"one per job", runner.Config{Command: []string{"echo"}, Inputs: values("a", "b")}, "echo a\necho b\n"},
		{"-n2", runner.Config{Command: []string{"echo"}, Inputs: values("a", "b", "c"), MaxArgs: 2, Multiple: runner.MultipleContext},
			"echo a b\necho c\n"},
		{"-N2 flat positions", runner.Config{Command: []string{"echo", "{3}{1}"}, Inputs: []runner.Input{{Values: []string{"a", "b"}}, {Values: []string{"1", "2"}}},
			MaxArgs: 2, Multiple: runner.MultipleContext}, "echo aa\necho bb\n"},
		{"-n0", runner.Config{Command: []string{"echo", "x{}y"}, Inputs: values("a", "b"), ZeroArgs: true}, "echo xy\necho xy\n"},
		{"-L2", runner.Config{Command: []string{"echo"}, Inputs: stdin("a\nb\nc\n"), MaxLines: 2, Multiple: runner.MultipleContext},
			"echo a b\necho c\n"},
		{"-L1 continued", runner.Config{Command: []string{"echo"}, Inputs: stdin("a \nb\nc\n"), MaxLines: 1, Multiple: runner.MultipleContext},
			"echo 'a b'\necho c\n"},
		{"-X -j3 spreads", runner.Config{Command: []string{"echo"}, Inputs: ten, Jobs: 3, Multiple: runner.MultipleContext, Spread: true},
			"echo 1 2 3 4\necho 5 6 7 8\necho 9 10\n"},
		{"-m -n2 spreads the last", runner.Config{Command: []string{"echo"}, Inputs: ten, Jobs: 3, MaxArgs: 2, Multiple: runner.MultipleReplace, Spread: true},
			"echo 1 2\necho 3 4\necho 5 6\necho 7 8\necho 9\necho 10\n"},
		{"--xargs fills", runner.Config{Command: []string{"echo"}, Inputs: ten, Jobs: 3, Multiple: runner.MultipleReplace},
			"echo 1 2 3 4 5 6 7 8 9 10\n"},
		{"-n implies no spread", runner.Config{Command: []string{"echo"}, Inputs: ten, Jobs: 3, MaxArgs: 100, Multiple: runner.MultipleContext},
			"echo 1 2 3 4 5 6 7 8 9 10\n"},
		{"-s fills", runner.Config{Command: []string{"echo"}, Inputs: values("a", "b", "c", "d", "e"), MaxChars: 11, Multiple: runner.MultipleContext},
			"echo a b c\necho d e\n"},
		{"-s exact", runner.Config{Command: []string{"echo"}, Inputs: values("a", "b", "c"), MaxChars: 9, Multiple: runner.MultipleContext},
			"echo a b\necho c\n"},
		{"-s counts quoting", runner.Config{Command: []string{"echo"}, Inputs: values("a b", "c"), MaxChars: 12, Multiple: runner.MultipleContext},
			"echo 'a b'\necho c\n"},
		{"-s long values", runner.Config{Command: []string{"echo"}, Inputs: values("aaaa", "b", "cccc", "d"), MaxChars: 12, Multiple: runner.MultipleReplace},
			"echo aaaa b\necho cccc d\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := dryRun(t, c.cfg)
			if err != nil || got != c.want {
				t.Errorf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

// TestTooLong: a record that cannot fit stops the run with one
// CommandTooLongError, before any exec could fail with E2BIG.
func TestTooLong(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  runner.Config
		out  string
	}{
		{"-s", runner.Config{Command: []string{"echo"}, Inputs: values("a"), MaxChars: 6}, ""},
		{"-X -s", runner.Config{Command: []string{"echo"}, Inputs: values("a", "bbbb"), MaxChars: 8, Multiple: runner.MultipleContext}, "echo a\n"},
		{"system limit", runner.Config{Command: []string{"echo"}, Inputs: values("a", strings.Repeat("x", runner.MaxCommandLine()))}, "echo a\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := dryRun(t, c.cfg)
			var tl *runner.CommandTooLongError
			if !errors.As(err, &tl) || !errors.Is(err, runner.ErrTooLong) || got != c.out {
				t.Fatalf("got %q, %v; want %q and a CommandTooLongError", got, err, c.out)
			}
			if tl.Len <= tl.Limit || tl.Job != 2 && c.out != "" {
				t.Errorf("error %+v", tl)
			}
		})
	}
	// Run for real: the job before runs, the one that cannot fit does
	// not, and nothing reaches exec.
	var out, errb bytes.Buffer
	sum, err := runner.Run(context.Background(), runner.Config{
		Command: []string{"echo"}, Inputs: values("a", strings.Repeat("x", 200_000), "c"), Jobs: 1,
		Executor: runner.Local{}, Stdout: &out, Stderr: &errb,
	})
	if !errors.Is(err, runner.ErrTooLong) || out.String() != "a\n" || sum.Started != 1 || strings.Contains(errb.String(), "too long") {
		t.Errorf("got %v, stdout %q, stderr %q, %d started", err, out.String(), errb.String(), sum.Started)
	}
}

// TestMaxCommandLine: the limit is below one argument's (128 KiB with 4
// KiB pages) and leaves room for the environment.
func TestMaxCommandLine(t *testing.T) {
	n := runner.MaxCommandLine()
	if n < 100_000 || n >= 32*4096*4 {
		t.Errorf("MaxCommandLine() = %d", n)
	}
	t.Setenv("CREW_TEST_BIG", strings.Repeat("x", 4<<20))
	if m := runner.MaxCommandLine(); m >= n {
		t.Errorf("with 4 MiB more environment, MaxCommandLine() = %d, was %d", m, n)
	}
}

// TestReading: -d, -r, -E, --trim, --csv and --header as the input is
// read.
func TestReading(t *testing.T) {
	for _, c := range []struct {
		name  string
		cfg   runner.Config
		names []string
		want  [][]string
		err   error
	}{
		{"-d", runner.Config{Inputs: stdin("a,b\n,c"), Delimiter: ptr(",")}, nil, [][]string{{"a"}, {"b\n"}, {"c"}}, nil},
		{"-d two bytes", runner.Config{Inputs: stdin("aXYbXXYc"), Delimiter: ptr("XY")}, nil, [][]string{{"a"}, {"bX"}, {"c"}}, nil},
		{"-0", runner.Config{Inputs: stdin("a\nb\x00c"), Null: true}, nil, [][]string{{"a\nb"}, {"c"}}, nil},
		{"-r", runner.Config{Inputs: stdin("a\n \t\n\nb"), NoRunIfEmpty: true}, nil, [][]string{{"a"}, {"b"}}, nil},
		{"-E", runner.Config{Inputs: stdin("a\nEND\nb\n"), EOF: "END"}, nil, [][]string{{"a"}}, nil},
		{"-E values", runner.Config{Inputs: values("a", "END", "b"), EOF: "END"}, nil, [][]string{{"a"}}, nil},
		{"--trim r", runner.Config{Inputs: values(" a \t"), Trim: runner.TrimRight}, nil, [][]string{{" a"}}, nil},
		{"--colsep", runner.Config{Inputs: values(" a , b"), ColSep: regexp.MustCompile(",")}, nil, [][]string{{"a", "b"}}, nil},
		{"--colsep --trim n", runner.Config{Inputs: values(" a ,b"), ColSep: regexp.MustCompile(","), Trim: runner.TrimNone}, nil, [][]string{{" a ", "b"}}, nil},
		{"--csv", runner.Config{Inputs: stdin("\"a,\"\"b\"\"\",c\n\"d\ne\",f\n\n"), CSV: true}, nil,
			[][]string{{`a,"b"`, "c"}, {"d\ne", "f"}, {""}}, nil},
		{"--csv ;", runner.Config{Inputs: stdin("a;b,c\n"), CSV: true, ColSep: regexp.MustCompile(";")}, nil, [][]string{{"a", "b,c"}}, nil},
		{"--csv unclosed", runner.Config{Inputs: stdin("a\n\"b,c\nd\n"), CSV: true}, nil, [][]string{{"a"}}, runner.ErrCSV},
		{"--csv bare quote", runner.Config{Inputs: stdin("a\"b\n"), CSV: true}, nil, nil, runner.ErrCSV},
		{"--header values", runner.Config{Inputs: []runner.Input{{Values: []string{"x", "1"}}, {Values: []string{"y", "2", "3"}}}, Header: ptr(":")},
			[]string{"x", "y"}, [][]string{{"1", "2"}, {"1", "3"}}, nil},
		{"--header tabs", runner.Config{Inputs: stdin("x\ty\n1\t2\n"), Header: ptr(":")}, []string{"x", "y"}, [][]string{{"1", "2"}}, nil},
		{"--header csv", runner.Config{Inputs: stdin("x,\"y,z\"\n1,2\n"), Header: ptr(":"), CSV: true}, []string{"x", "y,z"}, [][]string{{"1", "2"}}, nil},
		{"--header 0", runner.Config{Inputs: []runner.Input{{Reader: strings.NewReader("1\n"), Name: "f/g"}, {Values: []string{"a"}}}, Header: ptr("0")},
			[]string{"f/g", ""}, [][]string{{"1", "a"}}, nil},
		{"--header only", runner.Config{Inputs: stdin("x\n"), Header: ptr(":")}, []string{"x"}, nil, nil},
		{"NUL", runner.Config{Inputs: stdin("a\x00b\n")}, nil, nil, runner.ErrNulByte},
	} {
		t.Run(c.name, func(t *testing.T) {
			names, recs, err := runner.ReadRecords(c.cfg)
			if !errors.Is(err, c.err) || err != nil && c.err == nil {
				t.Fatalf("error %v, want %v", err, c.err)
			}
			if !equal(names, c.names) || len(recs) != len(c.want) {
				t.Fatalf("names %q, records %q; want %q, %q", names, recs, c.names, c.want)
			}
			for i := range recs {
				if !equal(recs[i], c.want[i]) {
					t.Errorf("records %q, want %q", recs, c.want)
				}
			}
		})
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}

// TestParsers: the values of -n/-N/-L/-s, --trim and -d.
func TestParsers(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		err  bool
	}{
		{"0", 0, false}, {"12", 12, false}, {"1k", 1000, false}, {"1K", 1024, false}, {"2m", 2_000_000, false},
		{"1M", 1 << 20, false}, {"", 0, true}, {"-1", 0, true}, {"x", 0, true}, {"1.5", 0, true}, {"9P", 0, true},
	} {
		n, err := runner.ParseCount(c.in)
		if n != c.want || (err != nil) != c.err || err != nil && !errors.Is(err, runner.ErrBadCount) {
			t.Errorf("ParseCount(%q) = %d, %v", c.in, n, err)
		}
	}
	for in, want := range map[string]runner.Trim{"": runner.TrimDefault, "n": runner.TrimNone, "l": runner.TrimLeft, "r": runner.TrimRight, "lr": runner.TrimBoth, "rl": runner.TrimBoth} {
		if got, err := runner.ParseTrim(in); got != want || err != nil {
			t.Errorf("ParseTrim(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := runner.ParseTrim("x"); !errors.Is(err, runner.ErrBadTrim) {
		t.Errorf("ParseTrim(x): %v", err)
	}
	for _, c := range []struct{ in, want string }{
		{`,`, ","}, {`\n`, "\n"}, {`\t`, "\t"}, {`\r\n`, "\r\n"}, {`\0`, "\x00"}, {`\000`, "\x00"}, {`\101`, "A"},
		{`\1010`, "A0"}, {`\x41`, "A"}, {`\x4a1`, "J1"}, {`\x`, `\x`}, {`\q`, `\q`}, {`\\`, `\`}, {`a\`, `a\`}, {`\a\b\f\v`, "\a\b\f\v"},
	} {
		if got, err := runner.Unescape(c.in); got != c.want || err != nil {
			t.Errorf("Unescape(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", `\777`, `\400`} {
		if _, err := runner.Unescape(in); !errors.Is(err, runner.ErrBadDelimiter) {
			t.Errorf("Unescape(%q): %v, want ErrBadDelimiter", in, err)
		}
	}
}

// BenchmarkFill measures filling command lines with --xargs: 100,000
// short records into lines of the system's length, as `seq 100000 |
// crew run --xargs echo` does (printed with --dry-run, run nowhere).
func BenchmarkFill(b *testing.B) {
	vals := make([]string, 100_000)
	for i := range vals {
		vals[i] = strconv.Itoa(i)
	}
	for b.Loop() {
		_, err := runner.Run(context.Background(), runner.Config{
			Command: []string{"echo"}, Inputs: values(vals...), Jobs: 1, Multiple: runner.MultipleReplace,
			DryRun: true, Stdout: io.Discard, Executor: runner.Local{},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// Two records per job, as crew run -N2 does, and a CSV input whose first
// record names the columns (--csv --header :).
func ExampleConfig_maxArgs() {
	runner.Run(context.Background(), runner.Config{
		Command:  []string{"echo", "{2}", "then", "{1}"},
		Inputs:   []runner.Input{{Values: []string{"a", "b", "c", "d"}}},
		MaxArgs:  2,
		Multiple: runner.MultipleContext,
		Jobs:     1,
		Executor: runner.Local{},
		Stdout:   os.Stdout,
	})
	header := ":"
	runner.Run(context.Background(), runner.Config{
		Command:  []string{"echo", "{1}:", "{2}"},
		Inputs:   []runner.Input{{Reader: strings.NewReader("name,city\n\"Smith, Jo\",Oslo\n")}},
		CSV:      true,
		Header:   &header,
		Jobs:     1,
		Executor: runner.Local{},
		Stdout:   os.Stdout,
	})
	// Output:
	// b then a
	// d then c
	// Smith, Jo: Oslo
}
