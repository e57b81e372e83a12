package runner_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"crew/runner"
)

// FuzzUnescape checks the -d escape parser: it never fails on what it
// accepts, text without a backslash is itself, and every byte written as
// an octal or hexadecimal escape comes back as that byte.
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{`\n`, `\t\r`, `\0`, `\101\x41`, `\x`, `\q\`, `\\`, `\777`, "a,b", `\1234`, `\xfff`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := runner.Unescape(s)
		if err != nil {
			if !errors.Is(err, runner.ErrBadDelimiter) {
				t.Fatalf("Unescape(%q): %v is not ErrBadDelimiter", s, err)
			}
			return
		}
		if u == "" {
			t.Fatalf("Unescape(%q) is empty", s)
		}
		if !strings.Contains(s, `\`) && u != s {
			t.Fatalf("Unescape(%q) = %q", s, u)
		}
		var oct, hex strings.Builder
		for i := 0; i < len(s); i++ {
			fmt.Fprintf(&oct, `\%03o`, s[i])
			fmt.Fprintf(&hex, `\x%02x`, s[i])
		}
		if s == "" {
			return
		}
		for _, e := range []string{oct.String(), hex.String()} {
			if back, err := runner.Unescape(e); err != nil || back != s {
				t.Fatalf("Unescape(%q) = %q, %v; want %q", e, back, err, s)
			}
		}
	})
}

// FuzzCSVHeader writes records with encoding/csv and reads them back as
// crew run --csv --header : does: the names and the fields come back as
// written. Arbitrary input must give records or an error, never a panic
// or a hang.
func FuzzCSVHeader(f *testing.F) {
	f.Add("name", "a,b", "x\"y", "line\nbreak", byte(','))
	f.Add("", "", " ", "\"", byte(';'))
	f.Add("h\r\n", "\r", "é", "a\tb", byte('\t'))
	f.Fuzz(func(t *testing.T, h, a, b, c string, comma byte) {
		// Arbitrary bytes as input: records or an error.
		for _, in := range []string{h + "\n" + a + "\n" + b, a + c} {
			runner.ReadRecords(runner.Config{Inputs: stdin(in), CSV: true, Header: ptr(":")})
			runner.ReadRecords(runner.Config{Inputs: values(in, b), CSV: true})
		}
		if comma == '"' || comma == '\r' || comma == '\n' || comma >= 0x80 || comma == 0 {
			return
		}
		for _, s := range []string{h, a, b, c} {
			// encoding/csv turns \r\n inside a quoted field into \n, and a
			// record holding a NUL byte cannot be an argument.
			if strings.Contains(s, "\r") || strings.IndexByte(s, 0) >= 0 {
				return
			}
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.Comma = rune(comma)
		w.Write([]string{h, a})
		w.Write([]string{b, c})
		w.Flush()
		cfg := runner.Config{Inputs: stdin(buf.String()), CSV: true, Header: ptr(":")}
		if comma != ',' {
			cfg.ColSep = regexpQuote(comma)
		}
		names, recs, err := runner.ReadRecords(cfg)
		if err != nil {
			t.Fatalf("%q: %v", buf.String(), err)
		}
		if !equal(names, []string{h, a}) || len(recs) != 1 || !equal(recs[0], []string{b, c}) {
			t.Fatalf("%q: names %q, records %q", buf.String(), names, recs)
		}
	})
}

func regexpQuote(b byte) *regexp.Regexp { return regexp.MustCompile(regexp.QuoteMeta(string(b))) }

// FuzzDelimiter reads arbitrary input split at an arbitrary -d
// delimiter: the records are what strings.Split gives, less an empty
// last piece (a final delimiter ends a record, it does not start one).
func FuzzDelimiter(f *testing.F) {
	f.Add("a,b,c", ",")
	f.Add("aaa", "aa")
	f.Add("1ab2abab", "ab")
	f.Add("x\ny\n", "\n")
	f.Fuzz(func(t *testing.T, in, delim string) {
		if delim == "" || strings.IndexByte(in, 0) >= 0 {
			return
		}
		_, recs, err := runner.ReadRecords(runner.Config{Inputs: stdin(in), Delimiter: &delim})
		if err != nil {
			t.Fatalf("%q split at %q: %v", in, delim, err)
		}
		want := strings.Split(in, delim)
		if want[len(want)-1] == "" {
			want = want[:len(want)-1]
		}
		got := make([]string, len(recs))
		for i, r := range recs {
			got[i] = r[0]
		}
		if !equal(got, want) {
			t.Fatalf("%q split at %q: %q, want %q", in, delim, got, want)
		}
	})
}
