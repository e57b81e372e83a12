package runner

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The job's environment. Every job sees, as in GNU parallel:
//
//	PARALLEL_SEQ      its sequence number, {#}
//	PARALLEL_JOBSLOT  its job slot, {%} (on a cluster worker: the
//	                  worker's own slot, 1 to its -j)
//	PARALLEL_PID      the process id of crew run (kill -HUP $PARALLEL_PID
//	                  starts no more jobs)
//	PARALLEL_SSHLOGIN ":" for this machine (on a worker: its host name)
//	PARALLEL_SSHHOST  the same
//
// on top of Config.Env, the variables --env names, which travel with the
// job to cluster workers. A job on this machine inherits crew's whole
// environment anyway; a job on a worker gets the worker's, plus these.
// GNU parallel does not set $PARALLEL for jobs (it is its own options
// variable, passed on like any other variable); neither does crew.

// Names of the variables every job gets.
const (
	EnvSeq      = "PARALLEL_SEQ"
	EnvJobSlot  = "PARALLEL_JOBSLOT"
	EnvPID      = "PARALLEL_PID"
	EnvSSHLogin = "PARALLEL_SSHLOGIN"
	EnvSSHHost  = "PARALLEL_SSHHOST"
)

// ErrNoIgnoredVars is returned (wrapped) for --env _ when the file of
// variables to leave out, which --record-env writes, does not exist.
var ErrNoIgnoredVars = errors.New("runner: --env _ needs the list of variables to leave out (run 'crew run --record-env' or 'parallel --record-env' in a clean environment first)")

// IgnoredVarsFile is where --record-env writes the names of the variables
// --env _ leaves out: $PARALLEL_HOME/ignored_vars, by default
// ~/.parallel/ignored_vars, the very file GNU parallel --record-env
// writes, one name a line; so the two tools share it.
func IgnoredVarsFile() string {
	home := os.Getenv("PARALLEL_HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			h = "."
		}
		home = filepath.Join(h, ".parallel")
	}
	return filepath.Join(home, "ignored_vars")
}

// RecordEnv writes the names of the variables in environ (KEY=value
// pairs, as os.Environ gives) into file, one a line, for --env _ to
// leave out; it creates file's directory if need be.
func RecordEnv(file string, environ []string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return usageErr("--record-env", err)
	}
	var b strings.Builder
	for _, kv := range environ {
		if name, _, ok := strings.Cut(kv, "="); ok && name != "" {
			b.WriteString(name + "\n")
		}
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		return usageErr("--record-env", err)
	}
	return nil
}

// SelectEnv returns the KEY=value pairs of environ that --env names asks
// for, in environ's order. Each of names is a variable's name, several
// separated by commas, or "_": every variable but those listed in
// ignoredFile (see RecordEnv). A shell function exported by bash (export
// -f f) comes with its name as BASH_FUNC_f%%. A name not in environ is
// left out, as GNU parallel leaves it out.
func SelectEnv(names, environ []string, ignoredFile string) ([]string, error) {
	want := map[string]bool{}
	all := false
	for _, n := range names {
		for _, name := range strings.Split(n, ",") {
			switch {
			case name == "_":
				all = true
			case name == "" || strings.ContainsAny(name, "= \t\n"):
				return nil, badValue(ErrBadEnv, "%q is not a variable name", n)
			default:
				want[name] = true
				want["BASH_FUNC_"+name+"%%"] = true
				want["BASH_FUNC_"+name+"()"] = true
			}
		}
	}
	var ignored map[string]bool
	if all {
		var err error
		if ignored, err = readIgnored(ignoredFile); err != nil {
			return nil, err
		}
	}
	var env []string
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			continue
		}
		if want[name] || all && !ignored[name] && name != "_" {
			env = append(env, kv)
		}
	}
	return env, nil
}

// ErrBadEnv is returned (wrapped) for an --env value that names no
// variable.
var ErrBadEnv = errors.New("runner: bad --env")

func readIgnored(file string) (map[string]bool, error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, badValue(ErrNoIgnoredVars, "%s is missing", file)
	}
	if err != nil {
		return nil, usageErr("--env _", err)
	}
	defer f.Close()
	ignored := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		ignored[strings.TrimSuffix(sc.Text(), "\r")] = true
	}
	if err := sc.Err(); err != nil {
		return nil, usageErr("--env _: "+file, err)
	}
	return ignored, nil
}

// jobEnv returns the environment additions of job seq in slot: extra
// (Config.Env) and the PARALLEL_ variables, which come last so that they
// win over an inherited one of the same name.
func jobEnv(extra []string, seq int64, slot int) []string {
	env := make([]string, 0, len(extra)+5)
	env = append(env, extra...)
	return append(env,
		EnvSeq+"="+strconv.FormatInt(seq, 10),
		EnvJobSlot+"="+strconv.Itoa(slot),
		EnvPID+"="+pid,
		EnvSSHLogin+"=:",
		EnvSSHHost+"=:",
	)
}

var pid = strconv.Itoa(os.Getpid())

// SetJobEnv sets (replaces or adds) the variable name to value in env, a
// job's KEY=value list, and returns the list. A cluster worker uses it to
// give a job its own slot and host name.
func SetJobEnv(env []string, name, value string) []string {
	kv := name + "=" + value
	i := slices.IndexFunc(env, func(e string) bool { return strings.HasPrefix(e, name+"=") })
	if i >= 0 {
		env = slices.Clone(env)
		env[i] = kv
		return env
	}
	return append(slices.Clip(env), kv)
}
