package runner_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"crew/runner"
)

func TestSelectEnv(t *testing.T) {
	environ := []string{"HOME=/h", "A=1", "B=2=3", "BASH_FUNC_f%%=() { echo; }", "_=/usr/bin/crew", "C="}
	ignored := filepath.Join(t.TempDir(), "ignored_vars")
	if err := runner.RecordEnv(ignored, []string{"HOME=/x", "A=0"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		names []string
		want  []string
	}{
		{[]string{"A"}, []string{"A=1"}},
		{[]string{"A,B", "C"}, []string{"A=1", "B=2=3", "C="}},
		{[]string{"f"}, []string{"BASH_FUNC_f%%=() { echo; }"}},
		{[]string{"MISSING"}, nil},
		{[]string{"_"}, []string{"B=2=3", "BASH_FUNC_f%%=() { echo; }", "C="}},
		{[]string{"_", "A"}, []string{"A=1", "B=2=3", "BASH_FUNC_f%%=() { echo; }", "C="}},
	}
	for _, tt := range tests {
		got, err := runner.SelectEnv(tt.names, environ, ignored)
		if err != nil || !cmp.Equal(got, tt.want) {
			t.Errorf("SelectEnv(%q) = %q, %v; want %q", tt.names, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "a b", "A=1", "A,,B"} {
		if _, err := runner.SelectEnv([]string{bad}, environ, ignored); !errors.Is(err, runner.ErrBadEnv) {
			t.Errorf("SelectEnv(%q): got %v, want ErrBadEnv", bad, err)
		}
	}
	if _, err := runner.SelectEnv([]string{"_"}, environ, filepath.Join(t.TempDir(), "none")); !errors.Is(err, runner.ErrNoIgnoredVars) {
		t.Errorf("--env _ without the file: got %v, want ErrNoIgnoredVars", err)
	}
}

func TestSetJobEnv(t *testing.T) {
	env := []string{"PARALLEL_SEQ=1", "PARALLEL_JOBSLOT=7"}
	got := runner.SetJobEnv(env, runner.EnvJobSlot, "2")
	if want := []string{"PARALLEL_SEQ=1", "PARALLEL_JOBSLOT=2"}; !cmp.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if env[1] != "PARALLEL_JOBSLOT=7" {
		t.Errorf("the job's own list changed: %q", env)
	}
	if got := runner.SetJobEnv(env, "X", "y"); len(got) != 3 || got[2] != "X=y" || len(env) != 2 {
		t.Errorf("adding: got %q from %q", got, env)
	}
}

// TestJobEnvLocal: a local job sees its number, its slot, crew's pid and
// Config.Env, which wins over crew's own environment.
func TestJobEnvLocal(t *testing.T) {
	t.Setenv("CREW_ENV_TEST", "inherited")
	var out lockedBuffer
	_, err := runner.Run(t.Context(), runner.Config{
		Command:   []string{`echo "$PARALLEL_SEQ $PARALLEL_JOBSLOT $PARALLEL_PID $PARALLEL_SSHLOGIN $CREW_ENV_TEST"`},
		Inputs:    []runner.Input{{Values: []string{"a", "b"}}},
		Jobs:      1,
		KeepOrder: true,
		Executor:  runner.Local{},
		Env:       []string{"CREW_ENV_TEST=given"},
		Stdout:    &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("1 1 %d : given a\n2 1 %d : given b\n", os.Getpid(), os.Getpid())
	if got := out.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
