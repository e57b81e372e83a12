package lab_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"crew/lab"
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
