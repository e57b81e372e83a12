package runner

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// ErrBadTemplate is returned (wrapped) for a command template that cannot
// be used, such as an empty one.
var ErrBadTemplate = errors.New("runner: bad command template")

// A template is a parsed command: literal text and replacement strings.
// Parse it once with parseTemplate and Expand it for every input. A
// template is immutable and safe for concurrent use.
type template struct {
	// words holds each command word as a sequence of parts; GNU parallel
	// joins the words with spaces into one shell command line.
	words [][]part
	quote bool // -q: quote each whole word after replacement
	repl  bool // at least one replacement string; otherwise args are appended
}

type partKind uint8

const (
	litPart  partKind = iota
	argPart           // {}, {.}, {/}, {//}, {/.} and their {n...} forms
	seqPart           // {#}
	slotPart          // {%}
)

type part struct {
	kind  partKind
	lit   string
	group int    // 0: all arguments; n > 0: the nth; n < 0: from the end
	op    string // "", ".", "/", "//", "/."
}

// parseTemplate parses the command words of crew run. quote is -q: the
// words are then quoted as a whole after replacement, so the shell sees
// them as they were given. A '{' that does not start a known replacement
// string stays literal, as in GNU parallel.
func parseTemplate(words []string, quote bool) (*template, error) {
	if len(words) == 0 {
		return nil, badValue(ErrBadTemplate, "no command")
	}
	t := &template{quote: quote}
	for _, w := range words {
		ps := parseWord(w)
		for _, p := range ps {
			if p.kind != litPart {
				t.repl = true
			}
		}
		t.words = append(t.words, ps)
	}
	return t, nil
}

func parseWord(w string) []part {
	var ps []part
	var lit strings.Builder
	for i := 0; i < len(w); {
		if w[i] == '{' {
			if j := strings.IndexByte(w[i+1:], '}'); j >= 0 {
				if p, ok := parseRepl(w[i+1 : i+1+j]); ok {
					if lit.Len() > 0 {
						ps = append(ps, part{kind: litPart, lit: lit.String()})
						lit.Reset()
					}
					ps = append(ps, p)
					i += j + 2
					continue
				}
			}
		}
		lit.WriteByte(w[i])
		i++
	}
	if lit.Len() > 0 {
		ps = append(ps, part{kind: litPart, lit: lit.String()})
	}
	return ps
}

// parseRepl recognises the inside of {...}.
func parseRepl(s string) (part, bool) {
	switch s {
	case "#":
		return part{kind: seqPart}, true
	case "%":
		return part{kind: slotPart}, true
	}
	digits := 0
	if strings.HasPrefix(s, "-") {
		digits = 1
	}
	for digits < len(s) && s[digits] >= '0' && s[digits] <= '9' {
		digits++
	}
	group := 0
	if digits > 0 {
		n, err := strconv.Atoi(s[:digits])
		if err != nil || n == 0 || n > 1<<20 || n < -(1<<20) {
			return part{}, false
		}
		group = n
	}
	switch op := s[digits:]; op {
	case "", ".", "/", "//", "/.":
		return part{kind: argPart, group: group, op: op}, true
	}
	return part{}, false
}

// Expand returns the command line for one job: seq is {#}, slot is {%} and
// args are the job's arguments ({1}, {2}, ...). Values are shell-quoted
// unless the template was parsed with quote (-q), which quotes whole words.
func (t *template) Expand(seq int64, slot int, args []string) string {
	return t.expand(seq, slot, args, true)
}

// expand is Expand with the quoting of values optional (--tagstring).
func (t *template) expand(seq int64, slot int, args []string, quoteValues bool) string {
	var b strings.Builder
	for i, w := range t.words {
		if i > 0 {
			b.WriteByte(' ')
		}
		if t.quote {
			var raw strings.Builder
			for _, p := range w {
				t.writePart(&raw, p, seq, slot, args, false)
			}
			b.WriteString(quoteArg(raw.String()))
			continue
		}
		for _, p := range w {
			t.writePart(&b, p, seq, slot, args, quoteValues)
		}
	}
	if !t.repl && quoteValues {
		for _, a := range args {
			b.WriteByte(' ')
			b.WriteString(quoteArg(a))
		}
	}
	return b.String()
}

func (t *template) writePart(b *strings.Builder, p part, seq int64, slot int, args []string, quote bool) {
	switch p.kind {
	case litPart:
		b.WriteString(p.lit)
	case seqPart:
		b.WriteString(strconv.FormatInt(seq, 10))
	case slotPart:
		b.WriteString(strconv.Itoa(slot))
	case argPart:
		if p.group == 0 {
			for i, a := range args {
				if i > 0 {
					b.WriteByte(' ')
				}
				writeValue(b, transform(a, p.op), quote)
			}
			return
		}
		i := p.group - 1
		if p.group < 0 {
			i = len(args) + p.group
		}
		v := ""
		if i >= 0 && i < len(args) {
			v = args[i]
		}
		writeValue(b, transform(v, p.op), quote)
	}
}

func writeValue(b *strings.Builder, v string, quote bool) {
	if quote {
		v = quoteArg(v)
	}
	b.WriteString(v)
}

// transform applies a replacement string's operation to a value.
func transform(v, op string) string {
	switch op {
	case ".":
		return noExt(v)
	case "/":
		return basename(v)
	case "//":
		return dirname(v)
	case "/.":
		return noExt(basename(v))
	}
	return v
}

// basename is GNU parallel's {/}: everything after the last slash.
func basename(v string) string {
	if i := strings.LastIndexByte(v, '/'); i >= 0 {
		return v[i+1:]
	}
	return v
}

// dirname is GNU parallel's {//}: "." without a slash, "/" for a top-level name.
func dirname(v string) string {
	i := strings.LastIndexByte(v, '/')
	switch {
	case i < 0:
		return "."
	case i == 0:
		return "/"
	}
	return v[:i]
}

// noExt is GNU parallel's {.}: the value without the extension of its last
// path element.
func noExt(v string) string {
	i := strings.LastIndexByte(v, '.')
	if i < 0 || strings.IndexByte(v[i:], '/') >= 0 {
		return v
	}
	return v[:i]
}

// quoteArg quotes s for a POSIX shell so that the shell passes it on as
// one word, unchanged. It uses mvdan.cc/sh's quoting and falls back to
// plain single quotes for bytes it will not quote for POSIX sh (invalid
// UTF-8, control characters), which single quotes carry unchanged. A NUL
// byte cannot be passed to a program at all; callers reject it earlier.
func quoteArg(s string) string {
	q, err := syntax.Quote(s, syntax.LangPOSIX)
	if err == nil {
		return q
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// validArg reports why v cannot be a command argument, or nil.
func validArg(v string) error {
	if i := strings.IndexByte(v, 0); i >= 0 {
		return fmt.Errorf("contains a NUL byte at offset %d", i)
	}
	return nil
}
