package runner_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"crew/runner"
)

// FuzzPipeSplit cuts arbitrary data with arbitrary --recend, --recstart
// (literal or --regexp), -N and --block, and checks what must hold
// whatever GNU parallel's rounds do: the blocks put together are the
// data, none is empty, every block but the last ends where a record ends
// and the next starts, -N blocks hold exactly N records, and a file on
// standard input is cut exactly as a stream.
func FuzzPipeSplit(f *testing.F) {
	f.Add([]byte("a\nb\nc\nd\n"), "\\n", "", false, uint8(0), uint16(3))
	f.Add([]byte(">a\nx\n>b\ny\n>c\n"), "", ">", false, uint8(2), uint16(4))
	f.Add([]byte("x\n>a\n>b\nc>\n>d"), "\\n", ">", false, uint8(1), uint16(5))
	f.Add([]byte("x1\nA\ny2\nB\n"), "[0-9]\\n", "", true, uint8(1), uint16(2))
	f.Add([]byte("aa\nS1\nbb\nS2\ncc\n"), "", "S[0-9]", true, uint8(2), uint16(64))
	f.Add([]byte("abcdef"), "", "", false, uint8(0), uint16(2))
	f.Fuzz(func(t *testing.T, data []byte, recEnd, recStart string, isRegexp bool, records uint8, block uint16) {
		p := runner.Pipe{RecEnd: &recEnd, RecStart: recStart, Regexp: isRegexp, BlockSize: int64(block%512) + 1}
		c := runner.Config{MaxArgs: int(records % 5)}
		blocks, _, err := runner.PipeBlocks(t.TempDir(), data, p, c, false)
		if err != nil {
			if isRegexp {
				return // not a regular expression
			}
			t.Fatal(err)
		}
		if got := bytes.Join(blocks, nil); !bytes.Equal(got, data) {
			t.Fatalf("blocks %q put together are not the data %q", blocks, data)
		}
		if isRegexp {
			return // the literal checks below do not apply
		}
		end, start := unescape(recEnd), unescape(recStart)
		at := 0
		for i, b := range blocks {
			if len(b) == 0 {
				t.Fatalf("block %d of %q is empty", i, blocks)
			}
			at += len(b)
			if i == len(blocks)-1 {
				break
			}
			if !bytes.HasSuffix(data[:at], []byte(end)) || !bytes.HasPrefix(data[at:], []byte(start)) {
				t.Fatalf("block %d of %q does not end between records", i, blocks)
			}
			// Separators that overlap themselves ("00" in "000") are
			// counted within a round's buffer, as GNU parallel counts
			// them, which need not agree with a count over all the data.
			if n := c.MaxArgs; n > 0 && (end != "" || start != "") && !overlaps(end+start) {
				if got := splits(data, at-len(b), at, end, start); got != n {
					t.Fatalf("block %d of %q holds %d records, want %d", i, blocks, got, n)
				}
			}
		}
		if c.MaxArgs == 0 {
			fromFile, viaFile, err := runner.PipeBlocks(t.TempDir(), data, p, c, true)
			if err != nil {
				t.Fatal(err)
			}
			if !viaFile {
				t.Fatal("a regular file with a literal separator was not cut as a file")
			}
			if !equalBlocks(fromFile, blocks) {
				t.Fatalf("from a file: %q; from a stream: %q", fromFile, blocks)
			}
		}
	})
}

// splits counts the record borders of data after from, up to to.
func splits(data []byte, from, to int, end, start string) int {
	k := 0
	for p := from + 1; p <= to; p++ {
		if p >= len(end) && bytes.HasSuffix(data[:p], []byte(end)) && bytes.HasPrefix(data[p:], []byte(start)) {
			k++
		}
	}
	return k
}

// overlaps reports whether a proper prefix of s is also its suffix.
func overlaps(s string) bool {
	for k := 1; k < len(s); k++ {
		if s[:k] == s[len(s)-k:] {
			return true
		}
	}
	return false
}

func equalBlocks(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// unescape is GNU parallel's reading of a literal --recend/--recstart.
func unescape(s string) string {
	r := map[byte]byte{'0': 0, 'r': '\r', 'n': '\n', 't': '\t', '\'': '\'', '"': '"', '\\': '\\'}
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			if c, ok := r[s[i+1]]; ok {
				b = append(b, c)
				i++
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

// FuzzRemoveRecSep checks --rrs with literal separators, matched as
// bytes, against the same separators quoted for --regexp, matched by
// package regexp: two readings of GNU parallel's three substitutions. A
// --regexp pattern either compiles or is refused, never a panic.
func FuzzRemoveRecSep(f *testing.F) {
	f.Add([]byte(">a\nx\n>b\ny\n"), "", ">", false)
	f.Add([]byte("a;b;c;\n"), ";", "", false)
	f.Add([]byte("a\nb\n"), "\n", "", false)
	f.Add([]byte("x1y2x3y"), "y", "x", true)
	f.Add([]byte("abc"), "(", "", true)
	f.Fuzz(func(t *testing.T, block []byte, end, start string, isRegexp bool) {
		got, err := runner.RemoveRecSep(bytes.Clone(block), end, start, isRegexp)
		if isRegexp {
			return // compiled or refused, without a panic
		}
		if err != nil {
			t.Fatalf("literal %q %q: %v", end, start, err)
		}
		// Package regexp reads UTF-8: compare where both can.
		if !utf8.ValidString(end) || !utf8.ValidString(start) || strings.ContainsRune(end+start, utf8.RuneError) || !utf8.Valid(block) {
			return
		}
		want, err := runner.RemoveRecSep(bytes.Clone(block), regexp.QuoteMeta(end), regexp.QuoteMeta(start), true)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("--rrs of %q with --recend %q --recstart %q: %q as bytes, %q as a regexp", block, end, start, got, want)
		}
	})
}
