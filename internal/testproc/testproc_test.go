package testproc_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"crew/internal/testproc"
)

func TestMain(m *testing.M) {
	// echo prints its arguments and what os.Args holds, and exits with the
	// status its first argument names.
	testproc.Register("echo", func(args []string) int {
		fmt.Printf("args=%q os.Args[1:]=%q\n", args, os.Args[1:])
		code, _ := strconv.Atoi(args[0])
		return code
	})
	testproc.Register("gorace", func([]string) int {
		fmt.Print(os.Getenv("GORACE"))
		return 0
	})
	testproc.Main()
	os.Exit(m.Run())
}

func TestCommandRunsHelper(t *testing.T) {
	out, err := testproc.Command("echo", "3", "a b", "").Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("helper exited with %v, want status 3", err)
	}
	// The helper sees its own arguments, and so does os.Args: a helper that
	// re-executes itself must not start a helper again.
	want := `args=["3" "a b" ""] os.Args[1:]=["3" "a b" ""]` + "\n"
	if string(out) != want {
		t.Errorf("helper printed %q, want %q", out, want)
	}
}

// Argv is what a caller that starts the process itself (proc.WithCommand)
// uses; it must start the same helper.
func TestArgv(t *testing.T) {
	argv := testproc.Argv("echo", "0")
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil || !strings.HasPrefix(string(out), `args=["0"]`) {
		t.Fatalf("Argv's command: %q, %v", out, err)
	}
}

func TestUnknownHelper(t *testing.T) {
	out, err := testproc.Command("nope").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), `testproc: no helper "nope"`) {
		t.Fatalf("unknown helper: %q, %v; want status 2 and a message", out, err)
	}
}

func TestQuickRaceExit(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "atexit_sleep_ms=0"},
		{"halt_on_error=1", "halt_on_error=1 atexit_sleep_ms=0"},
		{"atexit_sleep_ms=50", "atexit_sleep_ms=50"},
	} {
		if got := testproc.QuickRaceExit(c.in); got != c.want {
			t.Errorf("QuickRaceExit(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestChildrenExitQuickly: the helpers a test starts get
// atexit_sleep_ms=0, so a -race build does not sleep a second at exit.
func TestChildrenExitQuickly(t *testing.T) {
	out, err := testproc.Command("gorace").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "atexit_sleep_ms=0") {
		t.Errorf("helper's GORACE = %q, want atexit_sleep_ms=0 in it", out)
	}
}
