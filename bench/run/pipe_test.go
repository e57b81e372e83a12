package run

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pipeInput writes a file of numbered lines of about mb megabytes under
// dir (PIPE_BENCH_DIR, default the system's temporary directory) and
// returns its path and line count; the caller removes it.
func pipeInput(b *testing.B, mb int) (string, int64) {
	dir := os.Getenv("PIPE_BENCH_DIR")
	f, err := os.CreateTemp(dir, "crew-pipe-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.Remove(f.Name()) })
	w := bufio.NewWriterSize(f, 1<<20)
	var n, size int64
	for size < int64(mb)<<20 {
		n++
		k, _ := w.WriteString(strconv.FormatInt(n, 10))
		w.WriteByte('\n')
		size += int64(k) + 1
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return f.Name(), n
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkPipe moves one file (PIPE_BENCH_MB, default 480 MB, the
// issue's size) through wc -l in blocks of 10M with crew run --pipe (the
// file on standard input, and through cat, a pipe), crew run --pipepart
// and GNU parallel's --pipe and --pipepart, and through `cat FILE | wc -l`
// alone, the floor. Each round runs every command once, in turn; every
// command's output is checked to add up to the file's line count. It
// reports each command's mean wall time (<name>-s) and its ratio to the
// floor (<name>/floor).
func BenchmarkPipe(b *testing.B) {
	if _, err := exec.LookPath("parallel"); err != nil {
		b.Skip("GNU parallel is not installed")
	}
	file, lines := pipeInput(b, envInt("PIPE_BENCH_MB", 480))
	bin := crew(b)
	tools := []tool{
		{"floor", []string{"sh", "-c", `cat "$1" | wc -l`, "sh", file}},
		{"crew-pipe-file", []string{"sh", "-c", `"$0" run --pipe --block 10M wc -l < "$1"`, bin, file}},
		{"crew-pipe-cat", []string{"sh", "-c", `cat "$1" | "$0" run --pipe --block 10M wc -l`, bin, file}},
		{"crew-pipepart", []string{bin, "run", "--pipepart", "-a", file, "--block", "10M", "wc", "-l"}},
		{"parallel-pipe", []string{"sh", "-c", `parallel --will-cite --pipe --block 10M wc -l < "$1"`, "sh", file}},
		{"parallel-pipepart", []string{"parallel", "--will-cite", "--pipepart", "-a", file, "--block", "10M", "wc", "-l"}},
	}
	total := make([]time.Duration, len(tools))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, t := range tools {
			cmd := exec.Command(t.argv[0], t.argv[1:]...)
			start := time.Now()
			out, err := cmd.Output()
			total[j] += time.Since(start)
			if err != nil {
				b.Fatalf("%s: %v", t.name, err)
			}
			var sum int64
			for _, f := range strings.Fields(string(out)) {
				n, _ := strconv.ParseInt(f, 10, 64)
				sum += n
			}
			if sum != lines {
				b.Fatalf("%s counted %d lines, want %d", t.name, sum, lines)
			}
		}
	}
	b.StopTimer()
	for j, t := range tools {
		b.ReportMetric(total[j].Seconds()/float64(b.N), t.name+"-s")
		if j > 0 {
			b.ReportMetric(float64(total[j])/float64(total[0]), t.name+"/floor")
		}
	}
	b.ReportMetric(float64(total[4])/float64(total[2]), "parallel-pipe/crew-pipe-cat")
	b.ReportMetric(float64(total[5])/float64(total[3]), "parallel-pipepart/crew-pipepart")
}

// BenchmarkPipeMemory passes a 2 GB file (PIPE_MEM_MB) through crew run
// --pipe --block 10M -j2 (through cat, spliced; with -N, through crew's
// buffers; from the file) and --pipepart, and reports each run's peak
// resident memory: it stays within jobs x block size plus crew's own
// size, however big the input. /usr/bin/time measures it, since a child
// of this test binary would inherit the binary's own high-water mark.
func BenchmarkPipeMemory(b *testing.B) {
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		b.Skip("needs /usr/bin/time")
	}
	file, lines := pipeInput(b, envInt("PIPE_MEM_MB", 2048))
	bin := crew(b)
	report := filepath.Join(b.TempDir(), "rss")
	cases := []tool{
		{"pipe-cat", []string{"sh", "-c", `cat "$1" | "$0" run -j2 --pipe --block 10M wc -l`, bin, file}},
		// -N counts records, so every block passes through crew's buffers.
		{"pipe-cat-N", []string{"sh", "-c", `cat "$1" | "$0" run -j2 --pipe --block 10M -N 1000000 wc -l`, bin, file}},
		{"pipe-file", []string{"sh", "-c", `"$0" run -j2 --pipe --block 10M wc -l < "$1"`, bin, file}},
		{"pipepart", []string{bin, "run", "-j2", "--pipepart", "-a", file, "--block", "10M", "wc", "-l"}},
		{"version", []string{bin, "version"}}, // crew's own size
	}
	peak := make([]int64, len(cases))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, c := range cases {
			cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", report}, c.argv...)...)
			out, err := cmd.Output()
			if err != nil {
				b.Fatalf("%s: %v", c.name, err)
			}
			if c.name != "version" {
				var sum int64
				for _, f := range strings.Fields(string(out)) {
					n, _ := strconv.ParseInt(f, 10, 64)
					sum += n
				}
				if sum != lines {
					b.Fatalf("%s counted %d lines, want %d", c.name, sum, lines)
				}
			}
			data, err := os.ReadFile(report)
			if err != nil {
				b.Fatal(err)
			}
			var kib int64
			fmt.Sscan(strings.TrimSpace(string(data)), &kib)
			peak[j] = max(peak[j], kib)
		}
	}
	for j, c := range cases {
		b.ReportMetric(float64(peak[j])/1024, c.name+"-maxRSS-MiB")
	}
}
