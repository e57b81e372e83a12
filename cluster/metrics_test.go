package cluster_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"crew/cluster"
	"crew/internal/wait"
	"crew/runner"
)

// scrape reads the Prometheus metrics at url: each series without
// labels by name, a histogram by its name plus "_count".
func scrape(url, token string) (map[string]float64, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[name] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[name] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[name+"_count"] = float64(m.GetHistogram().GetSampleCount())
				out[name+"_sum"] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out, nil
}

// joblogCounts counts a GNU parallel joblog's jobs that exited 0 and
// those that did not.
func joblogCounts(t *testing.T, path string) (ok, failed int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) < 9 {
			t.Fatalf("joblog line %q", sc.Text())
		}
		if fields[6] == "0" && fields[7] == "0" {
			ok++
		} else {
			failed++
		}
	}
	return ok, failed
}

// TestMetricsDuringRun scrapes the broker's and two worker processes'
// metrics while a real run goes on, and checks the counters against the
// run's joblog: every job that succeeded, every failed attempt
// (--retries 2 runs each failing job twice), every retry, and the busy
// slots seen while jobs ran.
func TestMetricsDuringRun(t *testing.T) {
	brokerMetrics := "127.0.0.1:" + strconv.Itoa(freePort(t))
	b, err := cluster.StartBroker(cluster.BrokerConfig{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), MetricsAddr: brokerMetrics})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close) // after the workers and the executor, which t.Cleanup stops first
	if got, want := b.MetricsURL(), "http://"+brokerMetrics+"/metrics"; got != want {
		t.Errorf("MetricsURL %q, want %q", got, want)
	}
	var workerURLs []string
	for range 2 {
		addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
		p := startWorker(t, b.URL(), 2, "CREW_CLUSTER_TEST_METRICS="+addr)
		p.waitStderr(t, "serving metrics", 10*time.Second)
		workerURLs = append(workerURLs, "http://"+addr+"/metrics")
	}

	const n, retries = 30, 2
	joblog := filepath.Join(t.TempDir(), "joblog")
	e := newExecutor(t, b.URL())
	var inputs []string
	for i := 1; i <= n; i++ {
		inputs = append(inputs, strconv.Itoa(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Scrape every 20 ms while the run goes on, as a fast Prometheus would.
	done := make(chan struct{})
	var scrapes sync.WaitGroup
	var maxBusy, maxHeld float64
	var scrapeErr error
	scrapes.Go(func() {
		for {
			busy, held := 0.0, 0.0
			for _, u := range workerURLs {
				m, err := scrape(u, "")
				if err != nil {
					scrapeErr = err
					return
				}
				busy += m["crew_worker_busy_slots"]
				held += m["crew_worker_jobs_held"]
			}
			bm, err := scrape(b.MetricsURL(), "")
			if err != nil {
				scrapeErr = err
				return
			}
			if bm["crew_busy_slots"] > 4 {
				scrapeErr = fmt.Errorf("broker sees %v busy slots of 4", bm["crew_busy_slots"])
				return
			}
			maxBusy, maxHeld = max(maxBusy, busy), max(maxHeld, held)
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	sum, err := runner.Run(ctx, runner.Config{
		Command:  []string{"sleep 0.1; test $(({} % 7)) -ne 0"},
		Inputs:   []runner.Input{{Values: inputs}},
		Jobs:     8,
		Executor: e,
		JobLog:   joblog,
		Retries:  retries,
	})
	close(done)
	scrapes.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if scrapeErr != nil {
		t.Fatalf("scrape during the run: %v", scrapeErr)
	}
	ok, failed := joblogCounts(t, joblog)
	if ok+failed != n || failed != n/7 || sum.Failed != int64(failed) {
		t.Fatalf("joblog: %d ok, %d failed; summary %+v; want %d jobs, %d failed", ok, failed, sum, n, n/7)
	}
	// Each failing job ran retries times; each of those runs ended failed.
	want := map[string]float64{
		"jobs_started_total":       float64(ok + failed*retries),
		"jobs_succeeded_total":     float64(ok),
		"jobs_failed_total":        float64(failed * retries),
		"jobs_retried_total":       float64(failed * (retries - 1)),
		"jobs_dead_lettered_total": 0,
		"job_run_seconds_count":    float64(ok + failed*retries),
	}
	// The workers' own counts, added up.
	total := map[string]float64{}
	for _, u := range workerURLs {
		m, err := scrape(u, "")
		if err != nil {
			t.Fatal(err)
		}
		for k := range want {
			total[k] += m["crew_worker_"+k]
		}
		total["job_run_seconds_sum"] += m["crew_worker_job_run_seconds_sum"]
		if m["crew_worker_busy_slots"] != 0 || m["crew_worker_slots"] != 2 {
			t.Errorf("%s after the run: busy %v of %v slots, want 0 of 2", u, m["crew_worker_busy_slots"], m["crew_worker_slots"])
		}
		if m["crew_worker_jobs_started_total"] == 0 {
			t.Errorf("%s started no job: both workers should have had some", u)
		}
	}
	for k, v := range want {
		if total[k] != v {
			t.Errorf("workers' crew_worker_%s adds up to %v, want %v (joblog: %d ok, %d failed)", k, total[k], v, ok, failed)
		}
	}
	if maxBusy < 1 || maxBusy > 4 || maxHeld < maxBusy {
		t.Errorf("busy slots seen during the run: at most %v (held %v), want 1 to 4", maxBusy, maxHeld)
	}
	if total["job_run_seconds_sum"] < 0.1*float64(ok+failed*retries) {
		t.Errorf("run time sum %v s, want at least 0.1 s per job", total["job_run_seconds_sum"])
	}

	// The broker counts results as they are stored; the last may come a
	// moment after the run saw it.
	var bm map[string]float64
	wait.For(t, "the broker to count every result", func() bool {
		bm, err = scrape(b.MetricsURL(), "")
		return err == nil && bm["crew_job_run_seconds_count"] >= want["job_run_seconds_count"]
	})
	for _, k := range []string{"jobs_started_total", "jobs_succeeded_total", "jobs_failed_total", "jobs_retried_total", "jobs_dead_lettered_total", "job_run_seconds_count"} {
		if bm["crew_"+k] != want[k] {
			t.Errorf("broker's crew_%s = %v, want %v", k, bm["crew_"+k], want[k])
		}
	}
	if bm["crew_workers_connected"] != 2 || bm["crew_slots"] != 4 {
		t.Errorf("broker sees %v workers with %v slots, want 2 with 4", bm["crew_workers_connected"], bm["crew_slots"])
	}
	if bm["crew_queue_depth"] != 0 {
		t.Errorf("queue depth %v after the run, want 0", bm["crew_queue_depth"])
	}
}

// TestMetricsAddrInUse: a metrics address someone else listens on is a
// clear error, from the broker at start and from the worker's Run.
func TestMetricsAddrInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().String()
	_, err = cluster.StartBroker(cluster.BrokerConfig{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), MetricsAddr: taken})
	if !errors.Is(err, cluster.ErrAddrInUse) || !strings.Contains(err.Error(), taken) {
		t.Errorf("broker on a taken metrics address: %v, want ErrAddrInUse naming %s", err, taken)
	}
	w, err := cluster.NewWorker(cluster.WorkerConfig{
		ConnConfig: cluster.ConnConfig{URL: "nats://127.0.0.1:1"}, Executor: runner.Local{},
		Metrics: cluster.HTTPConfig{Addr: taken}, Logger: discardLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.Run(ctx); !errors.Is(err, cluster.ErrAddrInUse) {
		t.Errorf("worker on a taken metrics address: Run %v, want ErrAddrInUse", err)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestMetricsQueueDepth: jobs that no worker holds show in the broker's
// crew_queue_depth, and leave it when a worker takes them.
func TestMetricsQueueDepth(t *testing.T) {
	b, err := cluster.StartBroker(cluster.BrokerConfig{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), MetricsAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	e := newExecutor(t, b.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan []outcome, 1)
	go func() {
		done <- execAll(ctx, e, []*runner.Job{{Seq: 1, Command: "true"}, {Seq: 2, Command: "true"}, {Seq: 3, Command: "true"}})
	}()
	depth := func() float64 {
		m, err := scrape(b.MetricsURL(), "")
		if err != nil {
			t.Fatal(err)
		}
		return m["crew_queue_depth"]
	}
	wait.For(t, "three queued jobs in crew_queue_depth", func() bool { return depth() == 3 })
	startWorker(t, b.URL(), 2)
	for _, o := range <-done {
		if o.res.Err != nil || o.res.Exit != 0 {
			t.Errorf("job %d: %+v", o.res.Seq, o.res)
		}
	}
	// A worker acks a job just after storing its result.
	wait.For(t, "crew_queue_depth back to 0 once the jobs ran", func() bool { return depth() == 0 })
}
