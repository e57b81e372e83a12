// Package crewbin builds the crew command for benchmarks that run it as
// a user would.
package crewbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	once sync.Once
	path string
	err  error
)

// Path returns the crew binary named by $CREW_BIN or, without it, one
// built from the root module once per test binary. The calling test must
// run two directories below the repository's root, as bench/<name> does.
func Path(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("CREW_BIN"); p != "" {
		return p
	}
	once.Do(func() {
		dir, e := os.MkdirTemp("", "crew-bench-")
		if e != nil {
			err = e
			return
		}
		path = filepath.Join(dir, "crew")
		cmd := exec.Command("go", "build", "-o", path, "./cmd/crew")
		cmd.Dir = "../.."
		if out, e := cmd.CombinedOutput(); e != nil {
			err = fmt.Errorf("building crew: %v\n%s", e, out)
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	return path
}
