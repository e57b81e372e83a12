package runner

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// ErrBadTemplate is returned (wrapped) for a command template that cannot
// be used, such as an empty one.
var ErrBadTemplate = errors.New("runner: bad command template")

// Replacements renames GNU parallel's replacement strings (-I,
// --extensionreplace, --basenamereplace, --dirnamereplace,
// --basenameextensionreplace, --seqreplace, --slotreplace). An empty field
// keeps the default. A new name takes the place of the old one, which is
// then plain text; a new name equal to another replacement string replaces
// that one (-I {.} makes {.} the whole input and leaves no way to write
// {.}), as in GNU parallel. A name that starts with '{' also has a
// positional form: with -I {x}, {2x} is the second argument.
type Replacements struct {
	Input     string // -I: instead of {}
	NoExt     string // --extensionreplace: instead of {.}
	Base      string // --basenamereplace: instead of {/}
	Dir       string // --dirnamereplace: instead of {//}
	BaseNoExt string // --basenameextensionreplace: instead of {/.}
	Seq       string // --seqreplace: instead of {#}
	Slot      string // --slotreplace: instead of {%}
}

// templateOptions say how to read a template.
type templateOptions struct {
	quote   bool // -q: quote each whole word after replacement, values unquoted
	plus    bool // --plus
	context bool // -X: a word holding {} is repeated for each argument
	rename  Replacements
	// noAppend: a template without replacement strings stays as it is
	// (--tagstring); a command gets {} appended, as GNU parallel does.
	noAppend bool
}

// A template is a parsed command: literal text and replacement strings,
// read the way GNU parallel reads them. Parse it once with parseTemplate
// and expand it for every job. A template is immutable and safe for
// concurrent use.
//
// The command words are joined with spaces into one shell command line.
// Each word is cut into tokens: replacement strings, and literal text with
// every blank a token of its own, because -X repeats the run of non-blank
// text around a replacement string, which may be part of a word.
type template struct {
	words []string // as given, for withNames
	opts  templateOptions
	toks  []tok
	// rawValues: the command starts with a replacement string, so the
	// values are not quoted: the input is (part of) the command itself.
	rawValues bool
	repl      bool // at least one replacement string in the words
	appended  bool // {} was appended: the last two tokens
	// needTotal: {##} or {0#} need the number of jobs in advance.
	needTotal bool
	// uniq and choose: {uniq} and {choose_k} skip jobs (see skip).
	uniq, choose bool
}

type tokKind uint8

const (
	litTok   tokKind = iota
	replTok          // a replacement string
	spaceTok         // between two command words: never quoted, splits -X groups
	emptyTok         // an empty command word
)

type tok struct {
	kind tokKind
	lit  string
	p    *repl
}

// parseTemplate parses crew run's command words with GNU parallel's
// replacement strings. quote is -q: the words are then quoted as a whole
// after replacement, so the shell sees them as they were given. Text in
// braces that is no replacement string stays literal, as in GNU parallel.
func parseTemplate(words []string, o templateOptions) (*template, error) {
	if len(words) == 0 {
		return nil, badValue(ErrBadTemplate, "no command")
	}
	keys, err := o.keys()
	if err != nil {
		return nil, err
	}
	t := &template{words: words, opts: o}
	var all []segment
	for i, w := range words {
		if i > 0 {
			t.toks = append(t.toks, tok{kind: spaceTok})
		}
		if w == "" {
			t.toks = append(t.toks, tok{kind: emptyTok})
			continue
		}
		if open, close := strings.Index(w, "{="), strings.LastIndex(w, "=}"); open >= 0 && close > open {
			return nil, badValue(ErrBadTemplate, "%q: perl expressions {= ... =} are not supported; use --plus replacement strings or a shell command", w)
		}
		segs, err := splitWord(w, keys)
		if err != nil {
			return nil, err
		}
		all = append(all, segs...)
		for _, s := range segs {
			if s.p != nil {
				t.toks = append(t.toks, tok{kind: replTok, p: s.p})
				continue
			}
			// Every blank is a token of its own: -X's groups end there.
			for s.lit != "" {
				i := strings.IndexAny(s.lit, wordBlanks)
				switch {
				case i < 0:
					t.toks = append(t.toks, tok{kind: litTok, lit: s.lit})
					s.lit = ""
				case i > 0:
					t.toks = append(t.toks, tok{kind: litTok, lit: s.lit[:i]})
					s.lit = s.lit[i:]
				default:
					t.toks = append(t.toks, tok{kind: litTok, lit: s.lit[:1]})
					s.lit = s.lit[1:]
				}
			}
		}
	}
	for _, s := range all {
		if s.p != nil {
			t.repl = true
			t.needTotal = t.needTotal || s.p.kind == totalRepl || s.p.kind == padSeqRepl
			t.uniq = t.uniq || s.p.skip == skipUniq
			t.choose = t.choose || s.p.skip == skipChoose
		}
	}
	if !t.repl && !o.noAppend {
		// No replacement string: the arguments are appended as one more
		// word, {}.
		t.toks = append(t.toks, tok{kind: spaceTok}, tok{kind: replTok, p: &repl{kind: argRepl}})
		t.appended = true
	}
	// GNU parallel leaves the values unquoted when the first word (up to
	// a blank or '=') holds a replacement string: parallel {} runs each
	// input as a command line; X={} echo does not.
	for _, k := range t.toks {
		if k.kind == replTok {
			t.rawValues = !o.noAppend
			break
		}
		if k.kind != litTok || strings.ContainsAny(k.lit, " \t\n=") {
			break
		}
	}
	return t, nil
}

// wordBlanks are the characters that end an -X group inside a word. (GNU
// parallel's \s; newline and the like end a group too only by splitting
// it, which changes nothing.)
const wordBlanks = " \t\n\r\f\v"

// jobInfo is what a command may refer to besides the job's arguments.
type jobInfo struct {
	seq   int64
	slot  int
	jobs  int   // job slots, for {0%}
	total int64 // jobs in the run, for {##} and {0#}; -1 when unknown
}

// Expand returns the command line for one job: seq is {#}, slot is {%} and
// args are the job's arguments ({1}, {2}, ...). Values are shell-quoted
// unless the template was parsed with quote (-q), which quotes whole words.
func (t *template) Expand(seq int64, slot int, args []string) string {
	return t.expand(jobInfo{seq: seq, slot: slot, jobs: slot, total: -1}, args, true)
}

// An emitter receives an expanded command piece by piece: text, or an
// unquoted space that ends a word (and so a -q quoting group).
type emitter interface {
	text(s string)
	sep()
}

// lineEmitter writes the pieces straight into the command line.
type lineEmitter struct{ b strings.Builder }

func (e *lineEmitter) text(s string) { e.b.WriteString(s) }
func (e *lineEmitter) sep()          { e.b.WriteByte(' ') }

// quoteEmitter is -q's: the pieces between two separators make one
// word, quoted whole; an empty group makes no word, as in GNU parallel.
type quoteEmitter struct {
	b      strings.Builder
	word   strings.Builder
	pieces int
}

func (e *quoteEmitter) text(s string) { e.word.WriteString(s); e.pieces++ }

func (e *quoteEmitter) sep() {
	if e.pieces > 0 {
		if e.b.Len() > 0 {
			e.b.WriteByte(' ')
		}
		e.b.WriteString(quoteArg(e.word.String()))
	}
	e.word.Reset()
	e.pieces = 0
}

// expand is Expand with the job's numbers and the quoting of values
// optional (--tagstring quotes nothing).
func (t *template) expand(j jobInfo, args []string, quoteValues bool) string {
	quoteValues = quoteValues && !t.opts.quote && !t.rawValues
	toks := t.toks
	if len(args) == 0 {
		// A job with no arguments (-n 0): every replacement string is
		// empty, unquoted, and the appended {} is not there at all.
		args, quoteValues = []string{""}, false
		if t.appended {
			toks = toks[:len(toks)-2]
		}
	}
	var e emitter
	var line *lineEmitter
	var quoted *quoteEmitter
	if t.opts.quote {
		quoted = &quoteEmitter{}
		e = quoted
	} else {
		line = &lineEmitter{}
		e = line
	}
	if t.opts.context {
		t.expandContext(e, toks, j, args, quoteValues)
	} else {
		t.expandPlain(e, toks, j, args, quoteValues)
	}
	if quoted != nil {
		quoted.sep()
		return quoted.b.String()
	}
	return line.b.String()
}

// expandPlain replaces each replacement string by its value for every
// argument, the values separated by spaces; a positional one ({2}) or
// one that does not depend on the arguments ({#}) only once.
func (t *template) expandPlain(e emitter, toks []tok, j jobInfo, args []string, q bool) {
	for _, k := range toks {
		switch k.kind {
		case litTok:
			e.text(k.lit)
		case emptyTok:
			e.text("")
		case spaceTok:
			e.sep()
		case replTok:
			for i, a := range args {
				if i > 0 {
					e.sep()
				}
				v, perArg := k.p.value(j, args, a, q)
				e.text(v)
				if !perArg {
					break
				}
			}
		}
	}
}

// expandContext is -X: the run of non-blank text holding a replacement
// string is repeated for every argument. As in GNU parallel, a tab ends
// a group but starts the next one, and a group whose replacement strings
// are all positional (or need no argument) is written once.
func (t *template) expandContext(e emitter, toks []tok, j jobInfo, args []string, q bool) {
	start := 0 // of the group in toks
	flush := func(end int) {
		group := toks[start:end]
		hasRepl := false
		for _, k := range group {
			hasRepl = hasRepl || k.kind == replTok
		}
		if !hasRepl {
			for _, k := range group {
				e.text(k.lit) // litTok or emptyTok ("")
			}
			return
		}
		for i, a := range args {
			if i > 0 {
				e.sep()
			}
			perArg := false
			for _, k := range group {
				if k.kind != replTok {
					e.text(k.lit)
					continue
				}
				v, pa := k.p.value(j, args, a, q)
				perArg = perArg || pa
				e.text(v)
			}
			if !perArg {
				break
			}
		}
	}
	for i, k := range toks {
		switch {
		case k.kind == spaceTok:
			flush(i)
			e.sep()
			start = i + 1
		case k.kind == litTok && k.lit == " ":
			flush(i)
			e.text(" ")
			start = i + 1
		case k.kind == litTok && k.lit == "\t":
			flush(i)
			start = i // the tab starts the next group
		}
	}
	flush(len(toks))
}

// skip reports whether the job with these arguments is skipped: {uniq}
// skips a job two of whose arguments are equal, {choose_k} one whose
// arguments are not in strictly increasing order (so each set of k
// values runs once).
func (t *template) skip(args []string) bool {
	if t.uniq {
		seen := make(map[string]bool, len(args))
		for _, a := range args {
			if seen[a] {
				return true
			}
			seen[a] = true
		}
	}
	if t.choose {
		for i := 1; i < len(args); i++ {
			if args[i-1] >= args[i] {
				return true
			}
		}
	}
	return false
}

// withNames returns the template with {name} (and {name.}, {name/},
// {name//}, {name/.}) standing for the column that --header named name:
// {1} for the first name. GNU parallel does the same by rewriting the
// command before reading it.
func (t *template) withNames(names []string) (*template, error) {
	if len(names) == 0 {
		return t, nil
	}
	words := make([]string, len(t.words))
	copy(words, t.words)
	for i, name := range names {
		if name == "" {
			continue
		}
		id := strconv.Itoa(i + 1)
		for w := range words {
			for _, op := range []string{"", "/", "//", ".", "/."} {
				words[w] = strings.ReplaceAll(words[w], "{"+name+op+"}", "{"+id+op+"}")
			}
		}
	}
	return parseTemplate(words, t.opts)
}

// quoteIf quotes v for the shell when asked.
func quoteIf(v string, quote bool) string {
	if quote {
		return quoteArg(v)
	}
	return v
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

// compileUser compiles a pattern of the user's into a regexp, or says
// which replacement string held it.
func compileUser(pattern, in string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, badValue(ErrBadTemplate, "%s: %v", in, err)
	}
	return re, nil
}
