// Package testproc re-executes the running test binary as a scripted child
// process, the os/exec TestMain pattern: a test registers helpers by name,
// TestMain calls Main, and Command starts the binary running one helper.
package testproc

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

const envHelper = "CREW_TESTPROC_HELPER"

var helpers = map[string]func(args []string) int{}

// Register adds a helper that Command can start. Call it before Main,
// usually from TestMain or a package-level var.
func Register(name string, fn func(args []string) int) {
	helpers[name] = fn
}

// Main runs the helper named in the environment, if any, and exits with
// its status; in a normal test run it returns at once.
func Main() {
	name, ok := os.LookupEnv(envHelper)
	if !ok {
		return
	}
	os.Unsetenv(envHelper)
	fn := helpers[name]
	if fn == nil {
		fmt.Fprintf(os.Stderr, "testproc: no helper %q\n", name)
		os.Exit(2)
	}
	os.Exit(fn(os.Args[1:]))
}

// Command returns a command that runs the test binary as helper name with
// args.
func Command(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), envHelper+"="+name)
	return cmd
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
