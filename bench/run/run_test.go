// Package run benchmarks crew run against xargs and GNU parallel. The
// peers are measured in the same benchmark, round by round, so the ratios
// hold on a noisy machine even when the absolute times do not.
package run

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"crew/bench/internal/crewbin"
)

// crew returns the crew binary to benchmark (see crewbin.Path).
func crew(b testing.TB) string { return crewbin.Path(b) }

func lines(b *testing.B, n int, v func(int) string) string {
	p := filepath.Join(b.TempDir(), "in")
	var sb strings.Builder
	for i := 1; i <= n; i++ {
		sb.WriteString(v(i))
		sb.WriteByte('\n')
	}
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return p
}

type tool struct {
	name string
	argv []string
}

// runRounds times each tool once per round, interleaved, and reports each
// tool's mean wall time and crew's ratio to every peer.
func runRounds(b *testing.B, tools []tool) {
	total := make([]time.Duration, len(tools))
	for _, t := range tools {
		if _, err := exec.LookPath(t.argv[0]); err != nil {
			b.Skipf("%s is not installed", t.argv[0])
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, t := range tools {
			cmd := exec.Command(t.argv[0], t.argv[1:]...)
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%s: %v\n%s", t.name, err, out)
			}
			total[j] += time.Since(start)
		}
	}
	b.StopTimer()
	for j, t := range tools {
		b.ReportMetric(total[j].Seconds()/float64(b.N), t.name+"-s")
		if j > 0 {
			b.ReportMetric(float64(total[0])/float64(total[j]), "crew/"+t.name)
		}
	}
}

// BenchmarkTrue1000 runs 1,000 jobs of true, two at a time.
func BenchmarkTrue1000(b *testing.B) {
	in := lines(b, 1000, func(i int) string { return fmt.Sprint(i) })
	runRounds(b, []tool{
		{"crew", []string{crew(b), "run", "-j2", "true", "::::", in}},
		{"xargs", []string{"xargs", "-a", in, "-P2", "-n1", "true"}},
		{"xargs-sh", []string{"xargs", "-a", in, "-P2", "-I{}", "sh", "-c", "true {}"}},
		{"parallel", []string{"parallel", "--will-cite", "-j2", "true", "::::", in}},
	})
}

// BenchmarkSleep200 runs 200 jobs of sleep 0.01, eight at a time.
func BenchmarkSleep200(b *testing.B) {
	in := lines(b, 200, func(int) string { return "0.01" })
	runRounds(b, []tool{
		{"crew", []string{crew(b), "run", "-j8", "sleep", "::::", in}},
		{"xargs", []string{"xargs", "-a", in, "-P8", "-n1", "sleep"}},
		{"parallel", []string{"parallel", "--will-cite", "-j8", "sleep", "::::", in}},
	})
}

// BenchmarkStream1M feeds 1,000,000 input lines through crew run
// --dry-run and reports the peak resident memory: the input is streamed,
// never held.
func BenchmarkStream1M(b *testing.B) {
	in := lines(b, 1_000_000, func(i int) string { return fmt.Sprintf("input-line-%07d.dat", i) })
	bin := crew(b)
	// /usr/bin/time measures a child forked from a small process; the
	// rusage of a child forked from this test binary would include the
	// binary's own memory.
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		b.Skip("needs /usr/bin/time")
	}
	report := filepath.Join(b.TempDir(), "rss")
	var peak int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command("/usr/bin/time", "-f", "%M", "-o", report,
			bin, "run", "--dry-run", "-k", "gzip", "{}", "::::", in)
		var stderr strings.Builder
		cmd.Stderr = &stderr // stdout goes to /dev/null
		if err := cmd.Run(); err != nil {
			b.Fatalf("%v\n%.500s", err, stderr.String())
		}
		data, err := os.ReadFile(report)
		if err != nil {
			b.Fatal(err)
		}
		var kib int64
		fmt.Sscan(strings.TrimSpace(string(data)), &kib)
		peak = max(peak, kib)
	}
	b.ReportMetric(float64(peak)/1024, "maxRSS-MiB")
}
