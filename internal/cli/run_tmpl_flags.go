package cli

import (
	"errors"
	"os"

	"github.com/spf13/pflag"

	"crew/runner"
)

// tmplOptions are crew run's flags for replacement strings and the job's
// environment: -I and its kin, --plus, --env, --record-env.
type tmplOptions struct {
	rename    runner.Replacements
	plus      bool
	env       []string // --env as given
	recordEnv bool
	// jobEnv is what --env selected from crew's environment.
	jobEnv []string
}

// renameFlags are the flags that rename a replacement string: the long
// names and GNU parallel's short ones for the same thing.
func renameFlags(o *tmplOptions) []struct {
	names []string
	dst   *string
	of    string
} {
	r := &o.rename
	return []struct {
		names []string
		dst   *string
		of    string
	}{
		{[]string{"replace-string"}, &r.Input, "{}"},
		{[]string{"extensionreplace", "er"}, &r.NoExt, "{.}"},
		{[]string{"basenamereplace", "bnr"}, &r.Base, "{/}"},
		{[]string{"dirnamereplace", "dnr"}, &r.Dir, "{//}"},
		{[]string{"basenameextensionreplace", "bner"}, &r.BaseNoExt, "{/.}"},
		{[]string{"seqreplace"}, &r.Seq, "{#}"},
		{[]string{"slotreplace"}, &r.Slot, "{%}"},
	}
}

// define binds the flags.
func (o *tmplOptions) define(f *pflag.FlagSet) {
	for _, rf := range renameFlags(o) {
		for i, n := range rf.names {
			usage := "use `STR` instead of " + rf.of + " in the command"
			if i > 0 {
				usage = "same as --" + rf.names[0]
			}
			short := ""
			if n == "replace-string" {
				short = "I" // GNU parallel's -I has no long name
			}
			f.StringVarP(rf.dst, n, short, "", usage)
		}
	}
	f.StringVarP(&o.rename.Input, "replace", "i", "", "deprecated form of -I (-i alone means -I {})")
	f.Lookup("replace").NoOptDefVal = "{}"
	f.BoolVar(&o.plus, "plus", false, "more replacement strings: {..} {...} {+/} {+.} {+..} {/..} {##} {0#} {0%} {slot} {host}\n"+
		"{:-str} {:n} {:n:m} {#re} {##re} {%re} {%%re} {/re/str} {//re/str} {/#re/str} {/%re/str}\n"+
		"{^re} {^^re} {,re} {,,re} {uniq} {choose_k} (patterns are Go regular expressions)")
	f.StringArrayVar(&o.env, "env", nil, "give the jobs this variable of crew's environment, also on cluster workers\n"+
		"(NAME, NAME1,NAME2, a bash function exported with export -f, or _ for all but those --record-env listed)")
	f.BoolVar(&o.recordEnv, "record-env", false, "write the names of the variables set now to $PARALLEL_HOME/ignored_vars\n"+
		"(default ~/.parallel/ignored_vars, shared with GNU parallel), for --env _ to leave out, and exit")
}

// parse checks the flags and reads --env's variables.
func (o *tmplOptions) parse(f *pflag.FlagSet) error {
	for _, rf := range renameFlags(o) {
		for _, n := range rf.names {
			if fl := f.Lookup(n); fl.Changed && fl.Value.String() == "" {
				name := "--" + n
				if fl.Shorthand != "" {
					name = "-" + fl.Shorthand
				}
				return errors.New(name + " must not be empty (GNU parallel would loop forever)")
			}
		}
	}
	if fl := f.Lookup("replace"); fl.Changed && o.rename.Input == "" {
		return errors.New("-i/--replace must not be empty")
	}
	if len(o.env) > 0 {
		var err error
		if o.jobEnv, err = runner.SelectEnv(o.env, os.Environ(), runner.IgnoredVarsFile()); err != nil {
			return plain("", err)
		}
	}
	return nil
}

// applyTemplate sets the replacement strings and the job environment of
// c. -X repeats the words around {}, and so do -N, and -L without -m or
// --xargs, as in GNU parallel (-n and -s do not).
func (o *runOptions) applyTemplate(c *runner.Config) {
	c.Replace = o.rename
	c.Plus = o.plus
	c.Env = o.jobEnv
	in := &o.inputOptions
	c.ContextReplace = in.context || in.replaceArgs || in.maxLines >= 0 && !in.multi && !in.xargs
}

// recordEnv is crew run --record-env.
func recordEnv() error {
	if err := runner.RecordEnv(runner.IgnoredVarsFile(), os.Environ()); err != nil {
		return plain("", err)
	}
	return nil
}
