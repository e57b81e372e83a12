package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// scrapeTimeout bounds what one scrape asks the server.
const scrapeTimeout = 2 * time.Second

// brokerMetrics are a Broker's series: the cluster's jobs as the broker
// sees their results stored, and its queue.
type brokerMetrics struct {
	reg    *prometheus.Registry
	jobs   *jobCounters
	nc     *nats.Conn
	sp     *space
	client *Client // the runs' read API, over nc
	kw     jetstream.KeyWatcher
	done   chan struct{}

	// ended counts jobs whose result was stored; started is the most
	// ever seen of ended plus running (see Collect).
	ended   atomic.Int64
	started atomic.Int64
	recent  recentKeys // jobs ended lately, which a registration may still show running
}

// recentKeys remembers the keys of jobs that ended in the last
// recentFor to 2×recentFor: long enough to outlast a worker's
// registration written before the job ended (registerEvery), in two
// generations so it never holds more than that.
type recentKeys struct {
	mu        sync.Mutex
	cur, prev map[string]struct{}
	since     time.Time
}

const recentFor = 5 * time.Second

func (r *recentKeys) add(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); r.cur == nil || now.Sub(r.since) > recentFor {
		r.prev, r.cur, r.since = r.cur, map[string]struct{}{}, now
	}
	r.cur[key] = struct{}{}
}

func (r *recentKeys) has(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, a := r.cur[key]
	_, b := r.prev[key]
	return a || b
}

// observe connects to the broker's own server in-process and starts
// counting the results stored there. It is started by StartBroker when
// the broker serves metrics or the dashboard.
func (b *Broker) observe(cfg BrokerConfig) error {
	nc, err := b.connect(cfg, "crew broker dashboard and metrics")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	sp, err := setup(ctx, nc)
	if err != nil {
		nc.Close()
		return err
	}
	// Only results stored from now on: a restarted broker's counters
	// start at zero, as Prometheus expects of a restarted target.
	kw, err := sp.results.WatchAll(context.Background(), jetstream.UpdatesOnly(), jetstream.IgnoreDeletes())
	if err != nil {
		nc.Close()
		return fmt.Errorf("cluster: broker metrics: watch results: %w", err)
	}
	m := b.metrics
	m.nc, m.sp, m.kw = nc, sp, kw
	m.client = &Client{nc: nc, sp: sp}
	m.done = make(chan struct{})
	go func() {
		defer close(m.done)
		for e := range kw.Updates() {
			if e != nil {
				m.stored(e.Key(), e.Value())
			}
		}
	}()
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "crew_queue_depth",
		Help: "Messages in the job queue that no worker holds (a batch of short jobs is one message).",
	}, m.queueDepth), m)
	return nil
}

// The series a scrape reads from the workers' registrations (Client.Workers).
var (
	workersDesc = prometheus.NewDesc("crew_workers_connected", "Workers that sent a heartbeat lately.", nil, nil)
	slotsDesc   = prometheus.NewDesc("crew_slots", "Job slots of the connected workers, added up.", nil, nil)
	busyDesc    = prometheus.NewDesc("crew_busy_slots", "Slots of the connected workers running a job now.", nil, nil)
	startedDesc = prometheus.NewDesc("crew_jobs_started_total", "Jobs started in the cluster: those ended plus those running, as the workers' registrations show them.", nil, nil)
)

// Describe implements prometheus.Collector.
func (m *brokerMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- workersDesc
	ch <- slotsDesc
	ch <- busyDesc
	ch <- startedDesc
}

// Collect implements prometheus.Collector: one read of the workers'
// registrations per scrape. A job shorter than a worker's registration
// interval may end unseen as running: it counts as started when its
// result is stored, so crew_jobs_started_total never falls behind the
// ended jobs and never goes down.
func (m *brokerMetrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	ws, err := m.client.Workers(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(workersDesc, err)
		return
	}
	slots, busy, running := 0, 0, 0
	for _, w := range ws {
		slots += w.Slots
		busy += w.Busy
		for _, j := range w.Running {
			if !m.recent.has(j.Key) {
				running++
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(workersDesc, prometheus.GaugeValue, float64(len(ws)))
	ch <- prometheus.MustNewConstMetric(slotsDesc, prometheus.GaugeValue, float64(slots))
	ch <- prometheus.MustNewConstMetric(busyDesc, prometheus.GaugeValue, float64(busy))
	ch <- prometheus.MustNewConstMetric(startedDesc, prometheus.CounterValue, float64(m.seenStarted(int64(running))))
}

// seenStarted raises the started count to ended plus running, if higher.
func (m *brokerMetrics) seenStarted(running int64) int64 {
	for {
		old, now := m.started.Load(), m.ended.Load()+running
		if now <= old || m.started.CompareAndSwap(old, now) {
			return max(old, now)
		}
	}
}

func newBrokerMetrics() *brokerMetrics {
	reg := newRegistry()
	return &brokerMetrics{reg: reg, jobs: newJobCounters(reg, "crew_", " in the cluster, counted as their results are stored.", false)}
}

// stored counts one value written to the results bucket: a job's
// result, a batch's results, or (under runsPrefix) a redelivered job
// about to run again.
func (m *brokerMetrics) stored(key string, value []byte) {
	if strings.HasPrefix(key, runsPrefix) {
		m.jobs.retried.Inc()
		return
	}
	var v struct {
		resultMsg
		Results []resultMsg `json:"results"`
		Split   bool        `json:"split"`
	}
	if json.Unmarshal(value, &v) != nil || v.Split {
		return
	}
	if v.Results == nil && isRetry(key, 1) {
		m.jobs.retried.Inc()
	}
	single := v.Results == nil
	if single {
		v.Results = []resultMsg{v.resultMsg}
	}
	for i := range v.Results {
		r := &v.Results[i]
		if r.Moved {
			continue // its result comes under its own key
		}
		if single {
			r.Key = key
		}
		m.recent.add(r.Key)
		m.jobs.ended(r)
		m.ended.Add(1)
		m.seenStarted(0)
		if r.Dead {
			m.jobs.dead.Inc()
		}
	}
}

// queueDepth asks the server how many messages wait for a worker: those
// in the jobs stream (a work queue holds what is not yet done) less those
// that workers hold, through the shared consumer or a tag set's own.
func (m *brokerMetrics) queueDepth() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	info, err := m.sp.jobs.Info(ctx)
	if err != nil {
		return 0
	}
	held := 0
	cl := m.sp.jobs.ListConsumers(ctx)
	for c := range cl.Info() {
		held += c.NumAckPending
	}
	return float64(max(int(info.State.Msgs)-held, 0))
}

// close stops counting and closes the in-process connection.
func (m *brokerMetrics) close() {
	if m.kw == nil {
		return
	}
	_ = m.kw.Stop()
	m.nc.Close()
	<-m.done
	m.kw = nil
}

// MetricsHandler serves the broker's Prometheus metrics, for a program
// that mounts them on an HTTP server of its own. The job counters count
// only while the broker observes its results, which it does when
// BrokerConfig.MetricsAddr or HTTPAddr is set.
func (b *Broker) MetricsHandler() http.Handler { return metricsHandler(b.metrics.reg) }
