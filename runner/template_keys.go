package runner

import (
	"cmp"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The replacement strings, as GNU parallel reads them: a table of keys,
// each literal text ({/}) or literal text around a pattern with groups
// ({:-([^}]+?)} is {:-str}). A word is read key by key, the longest key
// first, each key replacing every match in the text the longer keys left
// literal; then its positional form ({2/}, {-1:-str}) likewise. So {..}
// is read before {.}, and text that no key matches stays as it is.

type replKind uint8

const (
	argRepl     replKind = iota // an argument's value, through fn
	seqRepl                     // {#}
	slotRepl                    // {%}
	totalRepl                   // {##}: the number of jobs
	padSeqRepl                  // {0#}: {#} zero-padded to the width of {##}
	padSlotRepl                 // {0%}: {%} zero-padded to the width of -j
	varRepl                     // shell text, never quoted ({slot} is ${PARALLEL_JOBSLOT})
)

type skipKind uint8

const (
	skipNone skipKind = iota
	skipUniq
	skipChoose
)

// A repl is one replacement string of a template.
type repl struct {
	kind replKind
	fn   func(string) string // argRepl: the operation on the value; nil keeps it
	lit  string              // varRepl's text
	skip skipKind
	// positional: {n...}. pos counts from 1, from the end when negative;
	// 0 is never in range (GNU parallel's {00}). bad marks a position
	// too large to be any argument's.
	positional bool
	pos        int
	bad        bool
}

// value returns p's value for argument a of args, quoted when q, and
// whether it is one per argument: a positional replacement string or one
// that needs no argument ({#}) is written once where {} is written for
// each argument.
func (p *repl) value(j jobInfo, args []string, a string, q bool) (string, bool) {
	perArg := p.kind == argRepl && !p.positional
	if !perArg {
		// GNU parallel gives the strings that need no argument position
		// 1, so {#} is written once; its {2#} is position 21.
		i := p.pos - 1
		if p.pos <= 0 {
			i = len(args) + p.pos
		}
		if p.bad || i < 0 || i >= len(args) {
			return "", false
		}
		a = args[i]
	}
	var v string
	switch p.kind {
	case argRepl:
		v = a
		if p.fn != nil {
			v = p.fn(a)
		}
	case seqRepl:
		v = strconv.FormatInt(j.seq, 10)
	case slotRepl:
		v = strconv.Itoa(j.slot)
	case totalRepl:
		v = strconv.FormatInt(j.total, 10)
	case padSeqRepl:
		v = zeroPad(j.seq, j.total)
	case padSlotRepl:
		v = zeroPad(int64(j.slot), int64(j.jobs))
	case varRepl:
		return p.lit, perArg
	}
	return quoteIf(v, q), perArg
}

// zeroPad writes n with leading zeros to as many digits as of.
func zeroPad(n, of int64) string {
	s := strconv.FormatInt(n, 10)
	w := len(strconv.FormatInt(max(of, 1), 10))
	if len(s) < w {
		s = strings.Repeat("0", w-len(s)) + s
	}
	return s
}

// A key is one replacement string's text, as GNU parallel names it.
type key struct {
	name  string
	plain *regexp.Regexp // the key in the text
	pos   *regexp.Regexp // its positional form, when name starts with '{'
	fixed bool           // needs no argument; see repl.value
	// build makes the replacement from the pattern's groups.
	build func(groups []string) (*repl, error)
}

func literalBuild(r repl) func([]string) (*repl, error) {
	return func([]string) (*repl, error) { p := r; return &p, nil }
}

func argOp(fn func(string) string) func([]string) (*repl, error) {
	return literalBuild(repl{kind: argRepl, fn: fn})
}

// newKey compiles a key. Its name is read as GNU parallel reads --rpl
// names: literal text, then optionally a group pattern from the first '('
// to the last ')', then literal text.
func newKey(name string, fixed bool, build func([]string) (*repl, error)) *key {
	prefix, grp, postfix := name, "", ""
	if i := strings.IndexByte(name, '('); i >= 0 {
		if j := strings.LastIndexByte(name, ')'); j > i {
			prefix, grp, postfix = name[:i], name[i:j+1], name[j+1:]
		}
	}
	k := &key{name: name, fixed: fixed, build: build}
	k.plain = regexp.MustCompile(regexp.QuoteMeta(prefix) + grp + regexp.QuoteMeta(postfix))
	if rest, ok := strings.CutPrefix(prefix, "{"); ok {
		k.pos = regexp.MustCompile(`\{(-?\d+)\s*` + regexp.QuoteMeta(rest) + grp + regexp.QuoteMeta(postfix))
	}
	return k
}

var (
	keysOnce sync.Once
	baseKeys map[string]*key // GNU parallel's seven
	plusKeys map[string]*key // --plus's
)

func initKeys() {
	baseKeys = map[string]*key{}
	for _, k := range []*key{
		newKey("{}", false, argOp(nil)),
		newKey("{.}", false, argOp(noExt)),
		newKey("{/}", false, argOp(basename)),
		newKey("{//}", false, argOp(dirname)),
		newKey("{/.}", false, argOp(func(v string) string { return noExt(basename(v)) })),
		newKey("{#}", true, literalBuild(repl{kind: seqRepl})),
		newKey("{%}", true, literalBuild(repl{kind: slotRepl})),
	} {
		baseKeys[k.name] = k
	}
	plusKeys = map[string]*key{}
	for _, k := range plusKeyList() {
		plusKeys[k.name] = k
	}
}

// keys returns the replacement strings o knows, longest first, as GNU
// parallel reads them (ties, which GNU parallel leaves to chance, by
// name).
func (o templateOptions) keys() ([]*key, error) {
	keysOnce.Do(initKeys)
	m := map[string]*key{}
	if o.plus {
		for n, k := range plusKeys {
			m[n] = k
		}
	}
	for n, k := range baseKeys {
		m[n] = k
	}
	// The renames in GNU parallel's order: each takes the place of the
	// old name, and of any key already called by the new one.
	r := o.rename
	for _, rn := range []struct{ old, new string }{
		{"{}", r.Input}, {"{.}", r.NoExt}, {"{/}", r.Base}, {"{//}", r.Dir},
		{"{#}", r.Seq}, {"{%}", r.Slot}, {"{/.}", r.BaseNoExt},
	} {
		k, ok := m[rn.old]
		if rn.new == "" || rn.new == rn.old || !ok {
			continue
		}
		nk := newKeyLiteral(rn.new, k)
		delete(m, rn.old)
		m[rn.new] = nk
	}
	ks := make([]*key, 0, len(m))
	for _, k := range m {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b *key) int {
		if c := cmp.Compare(len(b.name), len(a.name)); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	return ks, nil
}

// newKeyLiteral is k under a new name, taken literally (-I's text is not
// a pattern).
func newKeyLiteral(name string, k *key) *key {
	nk := &key{name: name, fixed: k.fixed, build: k.build}
	nk.plain = regexp.MustCompile(regexp.QuoteMeta(name))
	if rest, ok := strings.CutPrefix(name, "{"); ok {
		nk.pos = regexp.MustCompile(`\{(-?\d+)\s*` + regexp.QuoteMeta(rest))
	}
	return nk
}

// A segment is a piece of a word: literal text, or a replacement string.
type segment struct {
	lit string
	p   *repl
}

// splitWord reads the replacement strings in w, key by key.
func splitWord(w string, keys []*key) ([]segment, error) {
	segs := []segment{{lit: w}}
	for _, k := range keys {
		var err error
		if segs, err = k.split(segs, false); err != nil {
			return nil, err
		}
		if k.pos != nil {
			if segs, err = k.split(segs, true); err != nil {
				return nil, err
			}
		}
	}
	return segs, nil
}

// split replaces the matches of k (or of its positional form) in the
// literal segments.
func (k *key) split(segs []segment, positional bool) ([]segment, error) {
	re := k.plain
	if positional {
		re = k.pos
	}
	var res []segment
	for _, s := range segs {
		if s.p != nil || s.lit == "" {
			res = append(res, s)
			continue
		}
		ms := re.FindAllStringSubmatchIndex(s.lit, -1)
		if ms == nil {
			res = append(res, s)
			continue
		}
		at := 0
		for _, m := range ms {
			groups := make([]string, 0, len(m)/2-1)
			for g := 2; g < len(m); g += 2 {
				if m[g] >= 0 {
					groups = append(groups, s.lit[m[g]:m[g+1]])
				} else {
					groups = append(groups, "")
				}
			}
			var digits string
			if positional {
				digits, groups = groups[0], groups[1:]
			}
			p, err := k.build(groups)
			if err != nil {
				return nil, err
			}
			if positional {
				setPosition(p, digits, k.fixed)
			} else if k.fixed {
				p.pos = 1
			}
			if m[0] > at {
				res = append(res, segment{lit: s.lit[at:m[0]]})
			}
			res = append(res, segment{p: p})
			at = m[1]
		}
		if at < len(s.lit) {
			res = append(res, segment{lit: s.lit[at:]})
		}
	}
	return res, nil
}

// setPosition reads a positional replacement string's number as GNU
// parallel does: {0} is no position at all (all the arguments), {00} and
// {-0} one that is never in range, {01} the first; a string that needs no
// argument gets the digits followed by its own 1 ({2#} is position 21).
func setPosition(p *repl, digits string, fixed bool) {
	if fixed {
		digits += "1"
	} else if digits == "0" {
		return
	}
	n, err := strconv.Atoi(digits)
	p.positional, p.pos, p.bad = true, n, err != nil
}
