package runner_test

import (
	"testing"

	"crew/runner"
)

// TestResultsQuoting: fields are quoted as GNU parallel 20221122 quotes
// them in --results tables (answers taken from its own output).
func TestResultsQuoting(t *testing.T) {
	cases := []struct {
		field    string
		csv, tsv string
		json     string
	}{
		{"a", "a", "a", `"a"`},
		{"", "", "", `""`},
		{"a b", `"a b"`, `"a b"`, `"a b"`},
		{"a\tb", "\"a\tb\"", "\"a\tb\"", `"a\u0009b"`},
		{"c,d", `"c,d"`, "c,d", `"c,d"`},
		{`b,"c`, `"b,""c"`, `"b,""c"`, `"b,\"c"`},
		{"x\ry", "\"x\ry\"", "\"x\ry\"", `"x\u000dy"`},
		{"x\n", "\"x\n\"", "\"x\n\"", `"x\u000a"`},
		{"x\x01", "x\x01", "x\x01", `"x\u0001"`},
		{"x\x7f", "x\x7f", "x\x7f", "\"x\x7f\""},
		{"é", "é", "é", `"é"`},
		{`a\b`, `a\b`, `a\b`, `"a\\b"`},
		{"a;b=c$'", "a;b=c$'", "a;b=c$'", `"a;b=c$'"`},
	}
	for _, c := range cases {
		if got := runner.TableField(c.field, ','); got != c.csv {
			t.Errorf("csv %q: got %q, want %q", c.field, got, c.csv)
		}
		if got := runner.TableField(c.field, '\t'); got != c.tsv {
			t.Errorf("tsv %q: got %q, want %q", c.field, got, c.tsv)
		}
		if got := runner.JSONString(c.field); got != c.json {
			t.Errorf("json %q: got %q, want %q", c.field, got, c.json)
		}
	}
}
