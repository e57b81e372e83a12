package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"crew/internal/cli"
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
	})
}
