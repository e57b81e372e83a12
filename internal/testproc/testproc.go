// Package testproc re-executes the running test binary as a scripted child
// process, the os/exec TestMain pattern, and is the one place crew's tests
// do so: a test package registers helpers by name, TestMain calls Main,
// and Command (or Argv) starts the binary running one helper.
//
//	func TestMain(m *testing.M) {
//		testproc.Register("hold-lock", holdLock)
//		testproc.Main() // in a helper: runs it and exits
//		os.Exit(m.Run())
//	}
//
//	cmd := testproc.Command("hold-lock", dir)
//
// The helper is chosen by a first argument, -testproc=NAME, rather than by
// the environment, so that a program that starts the binary itself (a proc
// pool's WithCommand, a shell) can start a helper too. The argument has a
// flag's shape on purpose: a test binary whose TestMain forgot Main rejects
// it as an unknown flag instead of running its tests again in the child.
package testproc

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

const flagPrefix = "-testproc="

var helpers = map[string]func(args []string) int{}

// Register adds a helper that Command can start; fn receives the
// arguments given to Command and returns the exit status. Call it before
// Main, from TestMain or a package-level var. Registering a name twice
// panics.
func Register(name string, fn func(args []string) int) {
	if _, dup := helpers[name]; dup {
		panic("testproc: helper " + name + " registered twice")
	}
	helpers[name] = fn
}

// Main runs the helper named by the process's first argument, if any, and
// exits with its status; in a normal test run it returns at once. While
// the helper runs, os.Args no longer holds the -testproc argument, so a
// helper that re-executes itself with os.Args does not start a helper.
//
// In the test process itself, Main also sets GORACE's atexit_sleep_ms to 0
// (unless GORACE already sets it) for the processes the tests start: a
// binary built with -race otherwise sleeps a second on its way out, and
// the tests start hundreds of helpers, workers and jobs.
func Main() {
	if len(os.Args) < 2 || !strings.HasPrefix(os.Args[1], flagPrefix) {
		os.Setenv("GORACE", QuickRaceExit(os.Getenv("GORACE")))
		return
	}
	name := strings.TrimPrefix(os.Args[1], flagPrefix)
	fn := helpers[name]
	if fn == nil {
		fmt.Fprintf(os.Stderr, "testproc: no helper %q\n", name)
		os.Exit(2)
	}
	args := os.Args[2:]
	os.Args = append(os.Args[:1:1], args...)
	os.Exit(fn(args))
}

// QuickRaceExit returns the GORACE value gorace with atexit_sleep_ms=0
// added, unless it sets atexit_sleep_ms already. It is for test harnesses
// that set up their children's environment themselves (testscript).
func QuickRaceExit(gorace string) string {
	if strings.Contains(gorace, "atexit_sleep_ms") {
		return gorace
	}
	return strings.TrimSpace(gorace + " atexit_sleep_ms=0")
}

// Argv returns the program and arguments that run the test binary as
// helper name with args, for a caller that starts the process itself.
func Argv(name string, args ...string) []string {
	return append([]string{executable(), flagPrefix + name}, args...)
}

// Command returns a command that runs the test binary as helper name with
// args. Its environment is this process's; set cmd.Env to add to it.
func Command(name string, args ...string) *exec.Cmd {
	argv := Argv(name, args...)
	return exec.Command(argv[0], argv[1:]...)
}

// executable is the running test binary. os.Executable reads
// /proc/self/exe, which names the binary whatever the working directory;
// os.Args[0] is the fallback should /proc be missing.
func executable() string {
	if exe, err := os.Executable(); err == nil {
		return exe
	}
	return os.Args[0]
}

// OpenFDs returns the number of file descriptors this process has open.
func OpenFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1 // ReadDir's own descriptor
}

// Alive reports whether process pid exists and is not a zombie.
func Alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the parenthesized command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}
