//go:build race

package proc_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestMemoryLimitWithoutRace runs TestCrash's memory-limit case in a build
// of these tests without -race, where the limit can apply, so that a
// -race run (as in CI) still checks that a worker allocating past
// WithMemoryLimit dies alone.
func TestMemoryLimitWithoutRace(t *testing.T) {
	if testing.Short() {
		t.Skip("builds this package's tests without -race")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the tests with")
	}
	bin := filepath.Join(t.TempDir(), "proc.test")
	if out, err := exec.Command(gobin, "test", "-c", "-o", bin, "crew/proc").CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "-test.run", "^TestCrash$/^alloc$", "-test.count=1", "-test.v").CombinedOutput()
	if err != nil {
		t.Fatalf("memory-limit case failed: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestCrash/alloc")) {
		t.Fatalf("the memory-limit case did not run:\n%s", out)
	}
}
