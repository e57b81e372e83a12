package runner_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"crew/internal/cli"
	"crew/internal/testproc"
	"crew/runner"
)

func TestMain(m *testing.M) {
	runner.Main()
	// The testproc helper "crew" makes the test binary the crew CLI (see
	// crewCmd).
	testproc.Register("crew", func(args []string) int {
		return cli.MainArgs(args, cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	})
	testproc.Main()
	goleak.VerifyTestMain(m)
}

// markedProcs lists the processes whose environment holds marker, that is
// every process a test's jobs started, however deep.
func markedProcs(t testing.TB, marker string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		if bytes.Contains(env, []byte(marker)) && !isZombie(e.Name()) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func isZombie(pid string) bool {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name.
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
}
