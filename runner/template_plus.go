package runner

import (
	"regexp"
	"strconv"
	"strings"
)

// The operations of the replacement strings on a value, and --plus's
// table. Patterns given by the user ({%re}, {/re/str}, ...) are Go regular
// expressions (RE2), where GNU parallel's are Perl's: the common syntax is
// the same; backreferences and look-around are refused with an error.

// basename is GNU parallel's {/}: everything after the last slash.
func basename(v string) string {
	if i := strings.LastIndexByte(v, '/'); i >= 0 {
		return v[i+1:]
	}
	return v
}

// dirname is GNU parallel's {//}, Perl's File::Basename dirname: trailing
// slashes do not count, a name without a slash is in ".", and "/" is its
// own directory.
func dirname(v string) string {
	dir, base := fileparse(v)
	dir = stripSlashes(dir)
	if base == "" {
		dir, _ = fileparse(dir)
		dir = stripSlashes(dir)
	}
	return dir
}

// fileparse splits v after its last slash; with no slash the directory is "./".
func fileparse(v string) (dir, base string) {
	if i := strings.LastIndexByte(v, '/'); i >= 0 {
		return v[:i+1], v[i+1:]
	}
	return "./", v
}

// stripSlashes removes trailing slashes but leaves the first character.
func stripSlashes(v string) string {
	for len(v) > 1 && v[len(v)-1] == '/' {
		v = v[:len(v)-1]
	}
	return v
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

var (
	reLastSlash = regexp.MustCompile(`/[^/]*$`)
	reToDot     = regexp.MustCompile(`.*\.`)
	reExt2      = regexp.MustCompile(`.*\.([^/.]*\.[^/.]*)$`)
	reExt3      = regexp.MustCompile(`.*\.([^/.]*\.[^/.]*\.[^/.]*)$`)
	reNoExt2    = regexp.MustCompile(`\.[^/.]*\.[^/.]*$`)
	reNoExt3    = regexp.MustCompile(`\.[^/.]*\.[^/.]*\.[^/.]*$`)
)

// subFirst replaces the first match of re in v with what with makes of
// the match's submatch indexes, and says whether there was one.
func subFirst(re *regexp.Regexp, v string, with func(m []int) string) (string, bool) {
	m := re.FindStringSubmatchIndex(v)
	if m == nil {
		return v, false
	}
	return v[:m[0]] + with(m) + v[m[1]:], true
}

// subAll replaces every match of re in v with what with makes of it.
func subAll(re *regexp.Regexp, v string, with func(m []int) string) string {
	ms := re.FindAllStringSubmatchIndex(v, -1)
	if ms == nil {
		return v
	}
	var b strings.Builder
	at := 0
	for _, m := range ms {
		b.WriteString(v[at:m[0]])
		b.WriteString(with(m))
		at = m[1]
	}
	b.WriteString(v[at:])
	return b.String()
}

func group(v string, m []int, g int) string {
	if 2*g+1 >= len(m) || m[2*g] < 0 {
		return ""
	}
	return v[m[2*g]:m[2*g+1]]
}

// removeOr removes the first match of re, keeping group g of it (-1:
// nothing), or gives "" when re does not match: GNU parallel's
// s:re:$g: || s:.*$::.
func removeOr(re *regexp.Regexp, g int) func(string) string {
	return func(v string) string {
		r, ok := subFirst(re, v, func(m []int) string {
			if g < 0 {
				return ""
			}
			return group(v, m, g)
		})
		if !ok {
			return ""
		}
		return r
	}
}

// remove removes the first match of re.
func remove(re *regexp.Regexp) func(string) string {
	return func(v string) string {
		r, _ := subFirst(re, v, func([]int) string { return "" })
		return r
	}
}

// ungreedy makes a pattern's * and + quantifiers lazy, outside bracket
// expressions and escapes, as GNU parallel does for {#re} and {%re}
// (shortest prefix, shortest suffix).
func ungreedy(re string) string {
	var b strings.Builder
	class, escape, found := false, false, false
	for i := 0; i < len(re); i++ {
		c := re[i]
		if found {
			if c != '?' {
				b.WriteByte('?')
			}
			found = false
		}
		b.WriteByte(c)
		switch {
		case escape:
			escape = false
		case c == '\\':
			escape = true
		case c == '[':
			class = true
		case class:
			class = c != ']'
		case c == '*' || c == '+' || c == '}':
			found = true
		}
	}
	if found {
		b.WriteByte('?')
	}
	return b.String()
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

// userRe compiles a replacement string's pattern, made of the user's
// pattern and GNU parallel's frame around it (as text, as GNU parallel
// builds it: a '|' in the user's pattern binds loosest).
func userRe(pattern, in string) (*regexp.Regexp, error) {
	return compileUser(pattern, "replacement string "+in)
}

// regexOp builds a replacement string of --plus from its pattern groups.
func regexOp(name string, build func(g []string) (func(string) string, error)) *key {
	return newKey(name, false, func(g []string) (*repl, error) {
		fn, err := build(g)
		if err != nil {
			return nil, err
		}
		return &repl{kind: argRepl, fn: fn}, nil
	})
}

// plusKeyList is --plus's table, by GNU parallel's names.
func plusKeyList() []*key {
	ks := []*key{
		newKey("{+/}", false, argOp(removeOr(reLastSlash, -1))),
		newKey("{+.}", false, argOp(removeOr(reToDot, -1))),
		newKey("{+..}", false, argOp(removeOr(reExt2, 1))),
		newKey("{+...}", false, argOp(removeOr(reExt3, 1))),
		newKey("{..}", false, argOp(remove(reNoExt2))),
		newKey("{...}", false, argOp(remove(reNoExt3))),
		newKey("{/..}", false, argOp(func(v string) string { return remove(reNoExt2)(basename(v)) })),
		newKey("{/...}", false, argOp(func(v string) string { return remove(reNoExt3)(basename(v)) })),
		newKey("{uniq}", false, literalBuild(repl{kind: argRepl, skip: skipUniq})),
		newKey("{choose_k}", false, literalBuild(repl{kind: argRepl, skip: skipChoose})),
		newKey("{##}", true, literalBuild(repl{kind: totalRepl})),
		newKey("{0#}", true, literalBuild(repl{kind: padSeqRepl})),
		newKey("{0%}", true, literalBuild(repl{kind: padSlotRepl})),
		newKey("{slot}", true, literalBuild(repl{kind: varRepl, lit: "${PARALLEL_JOBSLOT}"})),
		newKey("{host}", true, literalBuild(repl{kind: varRepl, lit: "${PARALLEL_SSHHOST}"})),
		newKey("{sshlogin}", true, literalBuild(repl{kind: varRepl, lit: "${PARALLEL_SSHLOGIN}"})),
		newKey("{hgrp}", true, literalBuild(repl{kind: varRepl, lit: "${PARALLEL_HOSTGROUPS}"})),
		newKey("{agrp}", true, literalBuild(repl{kind: varRepl, lit: "${PARALLEL_ARGHOSTGROUPS}"})),

		// Bash's parameter expansions.
		regexOp(`{:-([^}]+?)}`, func(g []string) (func(string) string, error) {
			// Perl's ||=: an empty value and "0" are false.
			return func(v string) string {
				if v == "" || v == "0" {
					return g[0]
				}
				return v
			}, nil
		}),
		regexOp(`{:(\d+?)}`, func(g []string) (func(string) string, error) {
			n, err := strconv.Atoi(g[0])
			return func(v string) string {
				if err != nil || n > len(v) {
					return ""
				}
				return v[n:]
			}, nil
		}),
		regexOp(`{:(\d+?):(\d+?)}`, func(g []string) (func(string) string, error) {
			p, err1 := strconv.Atoi(g[0])
			l, err2 := strconv.Atoi(g[1])
			return func(v string) string {
				if err1 != nil || err2 != nil || p > len(v) {
					return ""
				}
				return v[p:min(len(v), p+min(l, len(v)))]
			}, nil
		}),
		regexOp(`{#([^#}][^}]*?)}`, func(g []string) (func(string) string, error) {
			re, err := userRe("^"+ungreedy(g[0])+"(.*)", "{#"+g[0]+"}")
			return func(v string) string {
				r, _ := subFirst(re, v, func(m []int) string { return group(v, m, 1) })
				return r
			}, err
		}),
		regexOp(`{##([^#}][^}]*?)}`, func(g []string) (func(string) string, error) {
			re, err := userRe("^"+g[0], "{##"+g[0]+"}")
			return func(v string) string { return remove(re)(v) }, err
		}),
		regexOp(`{%([^}]+?)}`, func(g []string) (func(string) string, error) {
			re, err := userRe("(.*)"+ungreedy(g[0])+"$", "{%"+g[0]+"}")
			return func(v string) string {
				r, _ := subFirst(re, v, func(m []int) string { return group(v, m, 1) })
				return r
			}, err
		}),
		regexOp(`{%%([^}]+?)}`, func(g []string) (func(string) string, error) {
			re, err := userRe(g[0]+"$", "{%%"+g[0]+"}")
			return func(v string) string { return remove(re)(v) }, err
		}),
		substitution(`{/([^#%}/]+?)/([^}]*?)}`, "{/", "", "", false),
		substitution(`{/#([^}]+?)/([^}]*?)}`, "{/#", "^", "", true),
		substitution(`{/%([^}]+?)/([^}]*?)}`, "{/%", "", "$", true),
		substitution(`{//([^}]+?)/([^}]*?)}`, "{//", "", "", true),
		caseChange(`{^([^}]+?)}`, "{^", "^", false, asciiUpper),
		caseChange(`{^^([^}]+?)}`, "{^^", "", true, asciiUpper),
		caseChange(`{,([^}]+?)}`, "{,", "^", false, asciiLower),
		caseChange(`{,,([^}]+?)}`, "{,,", "", true, asciiLower),
	}
	return ks
}

// substitution is {/re/str} and its kin: replace the first (or every)
// match of re, framed by before and after, with str taken literally.
func substitution(name, short, before, after string, every bool) *key {
	return regexOp(name, func(g []string) (func(string) string, error) {
		re, err := userRe(before+g[0]+after, short+g[0]+"/"+g[1]+"}")
		with := func([]int) string { return g[1] }
		return func(v string) string {
			if every {
				return subAll(re, v, with)
			}
			r, _ := subFirst(re, v, with)
			return r
		}, err
	})
}

// caseChange is {^re} and its kin: the first (or every) match of re,
// framed by before, changed to upper or lower case (ASCII letters only,
// as Perl's uc and lc treat undecoded input).
func caseChange(name, short, before string, every bool, change func(string) string) *key {
	return regexOp(name, func(g []string) (func(string) string, error) {
		re, err := userRe(before+"("+g[0]+")", short+g[0]+"}")
		with := func(v string) func(m []int) string {
			return func(m []int) string { return change(v[m[0]:m[1]]) }
		}
		return func(v string) string {
			if every {
				return subAll(re, v, with(v))
			}
			r, _ := subFirst(re, v, with(v))
			return r
		}, err
	})
}
