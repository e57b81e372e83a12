package clusterbench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// observe stands in, until ctx ends, for a user watching the cluster:
// the dashboard's front page open, and the page of each run that appears
// (each a server-sent events stream, read and decoded as the page does),
// and Prometheus scraping every metrics endpoint once a second. It
// returns how many updates and scrapes it got. (The browser's own drawing
// is left out: it happens on the viewer's machine, not the cluster's.)
func observe(ctx context.Context, b testing.TB, dash string, metrics []string) (updates, scrapes *atomic.Int64, wait func()) {
	updates, scrapes = new(atomic.Int64), new(atomic.Int64)
	var wg sync.WaitGroup
	var stream func(url string, onRun func(string))
	opened := map[string]bool{}
	var mu sync.Mutex
	stream = func(url string, onRun func(string)) {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var msg struct {
				Overview struct {
					Runs []struct {
						ID    string `json:"id"`
						State string `json:"state"`
					} `json:"runs"`
				} `json:"overview"`
				Run json.RawMessage `json:"run"`
			}
			if json.Unmarshal([]byte(data), &msg) != nil {
				b.Errorf("dashboard sent %.100q", data)
				return
			}
			updates.Add(1)
			if onRun == nil {
				continue
			}
			for _, r := range msg.Overview.Runs {
				mu.Lock()
				open := r.State == "running" && !opened[r.ID]
				opened[r.ID] = true
				mu.Unlock()
				if open {
					onRun(r.ID)
				}
			}
		}
	}
	wg.Go(func() {
		stream(dash+"api/events", func(id string) {
			wg.Go(func() { stream(dash+"api/events?run="+id, nil) })
		})
	})
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			for _, u := range metrics {
				req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					scrapes.Add(1)
				}
			}
			select {
			case <-t.C:
			case <-ctx.Done():
				return
			}
		}
	})
	return updates, scrapes, wg.Wait
}

// cpuTime returns the CPU time process pid has used (user and system),
// from /proc/PID/stat.
func cpuTime(b testing.TB, pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

// BenchmarkDashboardCost is the cost measure: 10,000 no-op jobs
// (`true`) through the cluster as a user runs them (`crew broker --http
// --metrics-addr`, two `crew worker -j1 --metrics-addr`, `crew run
// --server`), with nobody watching and with the dashboard open (the front
// page and the run's page, live) and the broker's and workers' metrics
// scraped every second. Rounds alternate the two; the ratio is of the
// medians. Target: at most 5 % slower watched.
func BenchmarkDashboardCost(b *testing.B) {
	n := 10000
	if s := os.Getenv("CREW_BENCH_JOBS"); s != "" {
		fmt.Sscan(s, &n)
	}
	addr, httpAddr := freeAddr(b), freeAddr(b)
	metrics := []string{"http://" + freeAddr(b) + "/metrics"}
	broker := daemon(b, true, "broker", "--listen", addr, "--store", b.TempDir(), "--http", httpAddr,
		"--metrics-addr", strings.TrimSuffix(strings.TrimPrefix(metrics[0], "http://"), "/metrics"))
	url := "nats://" + addr
	for range 2 {
		m := freeAddr(b)
		daemon(b, false, "worker", "--server", url, "-j1", "--metrics-addr", m)
		metrics = append(metrics, "http://"+m+"/metrics")
	}
	dash := "http://" + httpAddr + "/"
	in := filepath.Join(b.TempDir(), "in")
	var sb strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintln(&sb, i)
	}
	if err := os.WriteFile(in, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	var cpuOff, cpuOn time.Duration // the broker's CPU time, added up
	run := func(watched bool) time.Duration {
		cpu0 := cpuTime(b, broker.Process.Pid)
		var updates, scrapes *atomic.Int64
		wait := func() {}
		ctx, stop := context.WithCancel(context.Background())
		if watched {
			updates, scrapes, wait = observe(ctx, b, dash, metrics)
		}
		cmd := exec.Command(crew(b), "run", "--server", url, "true", "::::", in)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		d := time.Since(start)
		stop()
		wait()
		if err != nil {
			b.Fatalf("crew run: %v\n%s", err, out)
		}
		if cpu := cpuTime(b, broker.Process.Pid) - cpu0; watched {
			cpuOn += cpu
		} else {
			cpuOff += cpu
		}
		if watched && (updates.Load() < int64(d/time.Second) || scrapes.Load() < int64(d/time.Second)) {
			b.Fatalf("watched for %v: only %d dashboard updates and %d scrapes", d, updates.Load(), scrapes.Load())
		}
		return d
	}
	// Warm up: the workers connect and the page cache fills.
	run(false)
	cpuOff = 0
	var off, on []time.Duration
	i := 0
	for b.Loop() {
		// Alternate which goes first, so a drift of the machine's speed
		// during the benchmark weighs on both.
		if i%2 == 0 {
			off = append(off, run(false))
			on = append(on, run(true))
		} else {
			on = append(on, run(true))
			off = append(off, run(false))
		}
		i++
	}
	slices.Sort(off)
	slices.Sort(on)
	o, w := off[len(off)/2], on[len(on)/2]
	b.ReportMetric(o.Seconds(), "unwatched-s")
	b.ReportMetric(w.Seconds(), "watched-s")
	b.ReportMetric(w.Seconds()/o.Seconds(), "watched/unwatched")
	b.ReportMetric(cpuOff.Seconds()/float64(len(off)), "broker-cpu-unwatched-s")
	b.ReportMetric(cpuOn.Seconds()/float64(len(on)), "broker-cpu-watched-s")
	b.ReportMetric(0, "ns/op")
	b.Logf("unwatched %v, watched %v (all rounds: %v | %v)", o, w, off, on)
}
