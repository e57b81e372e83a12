package runner

import (
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// shellBuiltins are the commands that /bin/sh runs itself: exec'ing a
// program of the same name could behave differently (dash's echo expands
// backslashes, coreutils' does not) or not exist at all (cd, exit).
var shellBuiltins = map[string]bool{
	".": true, ":": true, "alias": true, "bg": true, "break": true, "cd": true,
	"command": true, "continue": true, "eval": true, "exec": true, "exit": true,
	"export": true, "fc": true, "fg": true, "getopts": true, "hash": true,
	"jobs": true, "kill": true, "local": true, "printf": true, "pwd": true,
	"read": true, "readonly": true, "return": true, "set": true, "shift": true,
	"test": true, "[": true, "times": true, "trap": true, "type": true,
	"ulimit": true, "umask": true, "unalias": true, "unset": true, "wait": true,
}

// simpleArgv returns the argument vector of command when it is a simple
// command that a shell would run as exec(argv) with no expansion,
// redirection or builtin behaviour of its own; otherwise ok is false and
// the command must run through "sh -c". Running such commands directly
// saves a shell per job, which is most of the cost of a short job.
func simpleArgv(command string) (argv []string, ok bool) {
	f, err := syntax.NewParser(syntax.Variant(syntax.LangPOSIX)).Parse(strings.NewReader(command), "")
	if err != nil || len(f.Stmts) != 1 || len(f.Last) > 0 {
		return nil, false
	}
	st := f.Stmts[0]
	if st.Negated || st.Background || st.Coprocess || len(st.Redirs) > 0 || len(st.Comments) > 0 {
		return nil, false
	}
	call, isCall := st.Cmd.(*syntax.CallExpr)
	if !isCall || len(call.Assigns) > 0 || len(call.Args) == 0 {
		return nil, false
	}
	argv = make([]string, 0, len(call.Args))
	for i, w := range call.Args {
		v, ok := literalWord(w, i == 0)
		if !ok {
			return nil, false
		}
		argv = append(argv, v)
	}
	switch name := argv[0]; {
	case name == "true" || name == "false":
		// Same behaviour as builtin or program, whatever the arguments.
	case name == "echo":
		// dash's echo expands backslashes and knows only -n.
		for _, a := range argv[1:] {
			if strings.ContainsRune(a, '\\') || strings.HasPrefix(a, "-") {
				return nil, false
			}
		}
	case shellBuiltins[name], name == "":
		return nil, false
	}
	return argv, true
}

// literalWord returns the value of a word made only of literal text and
// quotes, or false if the shell would expand anything in it.
func literalWord(w *syntax.Word, first bool) (string, bool) {
	var b strings.Builder
	for i, wp := range w.Parts {
		switch p := wp.(type) {
		case *syntax.Lit:
			v := p.Value
			// Globs, brace and tilde expansion, escapes; '=' in a command
			// name hints at an assignment the parser did not take as one.
			if strings.ContainsAny(v, "*?[{\\") || (i == 0 && strings.HasPrefix(v, "~")) ||
				(first && strings.ContainsRune(v, '=')) {
				return "", false
			}
			if first && i == 0 && syntax.IsKeyword(v) {
				return "", false
			}
			b.WriteString(v)
		case *syntax.SglQuoted:
			if p.Dollar {
				return "", false
			}
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			if p.Dollar {
				return "", false
			}
			for _, ip := range p.Parts {
				l, ok := ip.(*syntax.Lit)
				if !ok || strings.ContainsAny(l.Value, "\\$`") {
					return "", false
				}
				b.WriteString(l.Value)
			}
		default:
			return "", false
		}
	}
	return b.String(), true
}
