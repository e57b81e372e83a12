package ipc_test

import (
	"os"
	"testing"

	"crew/internal/testproc"
)

// TestMain lets the benchmark binary run as a helper process: helpers are
// registered with testproc.Register from init functions beside the
// benchmarks that start them.
func TestMain(m *testing.M) {
	testproc.Main()
	os.Exit(m.Run())
}
