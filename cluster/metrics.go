package cluster

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Prometheus metrics. A Worker counts the jobs it runs under crew_worker_*;
// a Broker counts the whole cluster's under crew_*, so adding up a
// broker's and its workers' series never counts a job twice. Each Worker
// and Broker has a registry of its own (several in one process do not
// collide), served at /metrics on its metrics address and by its
// MetricsHandler.
//
// Counting a job costs a few atomic adds and one histogram observation
// (tens of nanoseconds); a scrape costs what encoding the series costs,
// plus, on a broker, one look at the jobs stream.

// runtimeBuckets are the run-time histogram's upper bounds in seconds:
// from 1 ms (a no-op job) to about 4.5 hours, each 4 times the last.
var runtimeBuckets = prometheus.ExponentialBuckets(0.001, 4, 12)

// jobCounters are the counts a worker and a broker both keep, under their
// own prefixes.
type jobCounters struct {
	started, succeeded, failed, retried, dead prometheus.Counter
	runtime                                   prometheus.Histogram
}

// newJobCounters registers the counters under prefix; withStarted false
// leaves crew_jobs_started_total to a collector of the caller's.
func newJobCounters(reg *prometheus.Registry, prefix, whose string, withStarted bool) *jobCounters {
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: prefix + name, Help: help + whose})
		reg.MustRegister(c)
		return c
	}
	c := &jobCounters{
		started:   prometheus.NewCounter(prometheus.CounterOpts{Name: prefix + "jobs_started_total", Help: "Jobs started" + whose}),
		succeeded: counter("jobs_succeeded_total", "Jobs that ended with exit status 0"),
		failed:    counter("jobs_failed_total", "Jobs that ended otherwise: a non-zero exit, a signal, a timeout, a cancel, or no start"),
		retried:   counter("jobs_retried_total", "Jobs started again: a later attempt (--retries), or a redelivery (after a lost worker, or of a prefetched job handed back, which may not have run before)"),
		dead:      counter("jobs_dead_lettered_total", "Jobs moved to the dead letters after their last run"),
		runtime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: prefix + "job_run_seconds", Help: "Run time of ended jobs, in seconds" + whose,
			Buckets: runtimeBuckets,
		}),
	}
	reg.MustRegister(c.runtime)
	if withStarted {
		reg.MustRegister(c.started)
	}
	return c
}

// ended counts a job's end.
func (c *jobCounters) ended(r *resultMsg) {
	if r.Exit == 0 && r.Err == "" && r.Signal == 0 && !r.TimedOut {
		c.succeeded.Inc()
	} else {
		c.failed.Inc()
	}
	c.runtime.Observe(r.Runtime.Seconds())
}

// newRegistry returns a registry with the process's and Go runtime's
// standard series, which every scrape target is expected to have.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// metricsHandler serves reg in Prometheus's text (or OpenMetrics) format.
func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// workerMetrics are a Worker's series.
type workerMetrics struct {
	reg  *prometheus.Registry
	jobs *jobCounters
	busy prometheus.Gauge
}

func newWorkerMetrics(w *Worker) *workerMetrics {
	reg := newRegistry()
	m := &workerMetrics{
		reg:  reg,
		jobs: newJobCounters(reg, "crew_worker_", " by this worker.", true),
		busy: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "crew_worker_busy_slots", Help: "Slots running a job now.",
		}),
	}
	reg.MustRegister(m.busy,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "crew_worker_slots", Help: "Jobs this worker runs at once (crew worker -j).",
		}, func() float64 { return float64(w.slots) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "crew_worker_jobs_held", Help: "Jobs this worker holds: running, or prefetched and waiting for a slot.",
		}, func() float64 { return float64(w.held.Load()) }),
	)
	return m
}

// MetricsHandler serves the worker's Prometheus metrics, for a program
// that mounts them on an HTTP server of its own (WorkerConfig.Metrics
// serves them on an address of their own).
func (w *Worker) MetricsHandler() http.Handler { return metricsHandler(w.metrics.reg) }

// isRetry reports a job that runs again: a later attempt (the last token
// of its key, see the protocol) or a redelivery.
func isRetry(key string, delivered uint64) bool {
	if delivered > 1 {
		return true
	}
	i := strings.LastIndexByte(key, '.')
	n, err := strconv.Atoi(key[i+1:])
	return err == nil && n > 1
}

// jobStarted counts a job a slot starts.
func (m *workerMetrics) jobStarted(e *entry, i int) {
	m.jobs.started.Inc()
	m.busy.Inc()
	if isRetry(e.jobs[i].Key, e.delivered) {
		m.jobs.retried.Inc()
	}
}

// jobEnded counts a started job's end.
func (m *workerMetrics) jobEnded(r *resultMsg) {
	m.busy.Dec()
	m.jobs.ended(r)
}

// metricsMux serves the worker's metrics at /metrics, as Prometheus
// expects, and nothing else.
func (w *Worker) metricsMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", w.MetricsHandler())
	return mux
}
