package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"crew/internal/cli"
	"crew/internal/testproc"
)

func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(m, map[string]func() int{
		"crew": cli.Main,
	}))
}

// TestScripts drives the real crew binary through testdata/*.txtar.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			// crew here is this test binary; under -race each run would
			// sleep a second on its way out.
			env.Setenv("GORACE", testproc.QuickRaceExit(os.Getenv("GORACE")))
			return nil
		},
	})
}
