package clusterbench

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"crew/bench/internal/crewbin"
)

// crew returns the crew binary to benchmark (see crewbin.Path).
func crew(b testing.TB) string { return crewbin.Path(b) }

// daemon starts a long-running crew process, waits for its first line of
// output when it prints one to stdout (the broker's URL, once it is
// ready), and stops it when b ends.
func daemon(b testing.TB, ready bool, args ...string) *exec.Cmd {
	b.Helper()
	cmd := exec.Command(crew(b), args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	if ready {
		if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
			b.Fatalf("crew %v: %v", args, err)
		}
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return cmd
}

func freeAddr(b testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// BenchmarkTrueCLI is the comparison as a user meets it, every
// part its own process: `crew broker`, two `crew worker -j1`, and
// `crew run --server` of 1,000 × true, against `crew run -j2` of the same
// on this machine alone. Rounds alternate the two; the ratio is of the
// medians.
func BenchmarkTrueCLI(b *testing.B) {
	const n = 1000
	addr := freeAddr(b)
	url := "nats://" + addr
	daemon(b, true, "broker", "--listen", addr, "--store", b.TempDir())
	for range 2 {
		daemon(b, false, "worker", "--server", url, "-j1")
	}
	in := filepath.Join(b.TempDir(), "in")
	var sb strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintln(&sb, i)
	}
	if err := os.WriteFile(in, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	run := func(args ...string) time.Duration {
		cmd := exec.Command(crew(b), append(append([]string{"run"}, args...), "true", "::::", in)...)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("crew run %v: %v\n%s", args, err, out)
		}
		return time.Since(start)
	}
	// Warm up: the workers connect and the page cache fills.
	run("--server", url)
	run("-j2")
	var local, cluster []time.Duration
	for b.Loop() {
		local = append(local, run("-j2"))
		cluster = append(cluster, run("--server", url))
	}
	slices.Sort(local)
	slices.Sort(cluster)
	l, c := local[len(local)/2], cluster[len(cluster)/2]
	b.ReportMetric(l.Seconds(), "local-s")
	b.ReportMetric(c.Seconds(), "cluster-s")
	b.ReportMetric(c.Seconds()/l.Seconds(), "cluster/local")
	b.ReportMetric(0, "ns/op")
}
