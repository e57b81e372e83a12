package lab_test

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"crew/internal/lab"
)

func TestParseParams(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want map[string]string
		bad  bool
	}{
		{in: nil, want: map[string]string{}},
		{in: []string{"n=10", "gil.rounds=5"}, want: map[string]string{"n": "10", "gil.rounds": "5"}},
		{in: []string{"n=1", "n=2"}, want: map[string]string{"n": "2"}},
		{in: []string{"switch=5ms=x"}, want: map[string]string{"switch": "5ms=x"}},
		{in: []string{"n"}, bad: true},
		{in: []string{"=3"}, bad: true},
		{in: []string{"a b=3"}, bad: true},
		{in: []string{".n=3"}, bad: true},
	} {
		got, err := lab.ParseParams(c.in)
		if c.bad {
			if err == nil || !strings.HasPrefix(err.Error(), "lab: ") {
				t.Errorf("ParseParams(%q) = %v, %v; want a lab: error", c.in, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseParams(%q): %v", c.in, err)
			continue
		}
		if d := cmp.Diff(c.want, got); d != "" {
			t.Errorf("ParseParams(%q) (-want +got):\n%s", c.in, d)
		}
	}
}

// FuzzParseParams checks that any accepted setting round-trips: its key and
// value come back exactly, and rejected ones say why.
func FuzzParseParams(f *testing.F) {
	for _, s := range []string{"n=10", "gil.switch=5ms", "=", "a", "x.=1", "k==v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := lab.ParseParams([]string{s})
		if err != nil {
			return
		}
		k, v, _ := strings.Cut(s, "=")
		if len(m) != 1 || m[k] != v {
			t.Fatalf("ParseParams(%q) = %v", s, m)
		}
	})
}

func TestCheckParams(t *testing.T) {
	for _, c := range []struct {
		name     string
		settings map[string]string
		names    []string
		want     string // substring of the error; "" for none
	}{
		{"none", nil, nil, ""},
		{"qualified", map[string]string{"gil.rounds": "5", "gil.switch": "1ms"}, []string{"gil"}, ""},
		{"plain key one experiment has", map[string]string{"rounds": "5"}, []string{"gil", "queue"}, ""},
		{"all experiments", map[string]string{"spawn.processes": "3"}, nil, ""},
		{"typo in key", map[string]string{"gil.swich": "1ms"}, []string{"gil"}, `"gil.swich": gil has no such parameter (known: gil.n, gil.rounds, gil.switch`},
		{"unknown plain key", map[string]string{"nosuch": "1"}, []string{"queue"}, `"nosuch": no selected experiment has this parameter (known: queue.workers, queue.items, queue.work)`},
		{"plain key of an unselected experiment", map[string]string{"switch": "1ms"}, []string{"queue"}, "no selected experiment"},
		{"experiment not selected", map[string]string{"gil.rounds": "abc"}, []string{"queue"}, `"gil.rounds": experiment gil is not selected`},
		{"no such experiment", map[string]string{"gli.rounds": "3"}, nil, `no experiment "gli"`},
		{"bad int", map[string]string{"gil.rounds": "abc"}, []string{"gil"}, "want a positive integer"},
		{"zero int", map[string]string{"rounds": "0"}, []string{"gil"}, "want a positive integer"},
		{"bad duration", map[string]string{"gil.switch": "5"}, []string{"gil"}, "want a positive duration"},
		{"plain key, wrong kind for one of two", map[string]string{"work": "3"}, []string{"queue", "crash"}, `value "3" for queue`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := lab.CheckParams(c.settings, c.names...)
			if c.want == "" {
				if err != nil {
					t.Fatalf("CheckParams: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, lab.ErrParam) {
				t.Fatalf("CheckParams = %v; want an ErrParam containing %q", err, c.want)
			}
			if strings.Count(err.Error(), "lab: ") != 1 {
				t.Errorf("error %q should carry one lab: prefix", err)
			}
		})
	}
	if err := lab.CheckParams(nil, "nosuch"); !errors.Is(err, lab.ErrUnknown) {
		t.Errorf("CheckParams for an unknown experiment = %v, want ErrUnknown", err)
	}
}

// TestRunChecksParamsFirst shows that a bad setting stops Run before any
// experiment starts: nothing is written to Progress.
func TestRunChecksParamsFirst(t *testing.T) {
	var progress strings.Builder
	cfg := lab.Config{Params: map[string]string{"queue.wokers": "2"}, Progress: &progress}
	rep, err := lab.Run(t.Context(), cfg, "queue")
	if !errors.Is(err, lab.ErrParam) || rep != nil {
		t.Fatalf("Run = %v, %v; want ErrParam and no report", rep, err)
	}
	if progress.Len() != 0 {
		t.Errorf("something ran before the check: %q", progress.String())
	}
}

// TestDeclaredParams keeps every experiment's Params in step with its code:
// the keys each experiment file reads through p.Int and p.Duration (found in
// the source, so a new read cannot be forgotten) must be exactly the
// declared ones, with the same kind.
func TestDeclaredParams(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	read := map[string][]lab.Param{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		exp := ""
		var keys []lab.Param
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, _ := strconv.Unquote(lit.Value)
			switch fn := call.Fun.(type) {
			case *ast.Ident:
				if fn.Name == "newParams" {
					exp = s
				}
			case *ast.SelectorExpr:
				switch fn.Sel.Name {
				case "Int":
					keys = append(keys, lab.Param{Key: s, Kind: lab.ParamInt})
				case "Duration":
					keys = append(keys, lab.Param{Key: s, Kind: lab.ParamDuration})
				}
			}
			return true
		})
		if exp != "" {
			read[exp] = append(read[exp], keys...)
		}
	}
	if len(read) < 8 {
		t.Fatalf("found parameter reads for only %d experiments: %v", len(read), read)
	}
	for _, e := range lab.Experiments() {
		got := slices.Clone(e.Params)
		want := slices.Compact(slices.SortedFunc(slices.Values(read[e.Name]), cmpParam))
		slices.SortFunc(got, cmpParam)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: declared Params differ from the keys its code reads (-read +declared):\n%s", e.Name, d)
		}
	}
}

func cmpParam(a, b lab.Param) int { return strings.Compare(a.Key, b.Key) }
