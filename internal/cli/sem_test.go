package cli

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestSemFlags checks what crew sem's flags and arguments parse into.
func TestSemFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want semOptions
	}{
		{[]string{"--", "echo", "hi"}, semOptions{id: "default", jobs: 1, command: []string{"echo", "hi"}}},
		{[]string{"echo", "hi"}, semOptions{id: "default", jobs: 1, command: []string{"echo", "hi"}}},
		{[]string{"--id", "x", "-j", "3", "--timeout", "1.5", "--lock-dir", "/l", "--", "ls"},
			semOptions{id: "x", jobs: 3, timeout: 1500 * time.Millisecond, lockDir: "/l", command: []string{"ls"}}},
		// Flags after the command are the command's own, even without "--".
		{[]string{"-j2", "ls", "-j", "5"}, semOptions{id: "default", jobs: 2, command: []string{"ls", "-j", "5"}}},
	} {
		got, err := parseCmd(t, newSemCmd, c.args...)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if diff := cmp.Diff(c.want, *got, cmp.AllowUnexported(semOptions{}), cmpopts.IgnoreFields(semOptions{}, "streams")); diff != "" {
			t.Errorf("%q: options differ (-want +got):\n%s", c.args, diff)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, "sem: no command given; usage: crew sem"},
		{[]string{"--id", "x"}, "sem: no command given"},
		{[]string{"-j", "0", "--", "ls"}, "-j must be at least 1, got 0"},
		{[]string{"--timeout", "-1", "--", "ls"}, "--timeout must not be negative"},
		{[]string{"--timeout", "soon", "--", "ls"}, `bad duration "soon"`},
	} {
		_, err := parseCmd(t, newSemCmd, c.args...)
		wantErr(t, c.args, err, c.want)
	}
}
