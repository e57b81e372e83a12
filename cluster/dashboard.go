package cluster

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// The dashboard's page, script and style, served from the binary: the
// page works offline and loads nothing from elsewhere.
//
//go:embed dashboard
var dashboardFiles embed.FS

// DashboardInterval is how often the dashboard sends open pages the
// state of the runs, the workers and the queue. The broker reads that
// state once per interval however many pages are open, and not at all
// while none is.
const DashboardInterval = time.Second

// dashboard serves the broker's web page and its data: the runs, the
// workers and the queue through the runs' read API (Client), pushed to
// open pages as server-sent events.
type dashboard struct {
	client   *Client
	queue    func() float64
	interval time.Duration
	ctx      context.Context // ends with the broker

	pokes chan struct{} // wakes the poller before its tick

	mu      sync.Mutex
	subs    map[*dashSub]struct{}
	polling bool
	polls   sync.WaitGroup // the poller, while a page is open
}

func newDashboard(ctx context.Context, c *Client, queue func() float64) *dashboard {
	return &dashboard{client: c, queue: queue, interval: DashboardInterval, ctx: ctx, pokes: make(chan struct{}, 1)}
}

// dashSub is one open page: the run it shows, if any, and the latest
// update not yet written to it (older ones are dropped, not queued).
type dashSub struct {
	run    string
	update chan []byte
}

// overview is what every page shows.
type overview struct {
	Time    time.Time    `json:"time"`
	Runs    []RunInfo    `json:"runs"`
	Workers []WorkerInfo `json:"workers"`
	// Queue is the number of messages waiting for a worker (a batch of
	// short jobs is one).
	Queue float64 `json:"queue"`
}

// What a run's page gets of a large run: its first jobs for the table,
// and its latest started ones for the timeline (a timeline of more bars
// than it has pixels shows nothing more, and costs every second).
const (
	dashboardRows = 500
	dashboardBars = 1000
)

// runDetail is what a run's page shows besides the overview.
type runDetail struct {
	Run *RunInfo `json:"run,omitempty"`
	// Jobs are the run's first jobs by sequence number, at most
	// dashboardRows; JobCount is how many it has.
	Jobs     []JobInfo `json:"jobs"`
	JobCount int       `json:"job_count"`
	// Timeline holds the jobs that started, at most dashboardBars of
	// them, the latest.
	Timeline []JobInfo `json:"timeline"`
	// Error says why the run cannot be shown (unknown, or deleted).
	Error string `json:"error,omitempty"`
}

// handler returns the dashboard's routes. metrics, when non-nil, is
// served at /metrics too.
func (d *dashboard) handler(metrics http.Handler) http.Handler {
	static, _ := fs.Sub(dashboardFiles, "dashboard")
	files := http.FileServerFS(static)
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", files)
	mux.Handle("GET /static/", http.StripPrefix("/static/", files))
	mux.HandleFunc("GET /api/overview", d.serveOverview)
	mux.HandleFunc("GET /api/runs/{id}", d.serveRun)
	mux.HandleFunc("GET /api/events", d.serveEvents)
	mux.HandleFunc("POST /api/runs/{id}/cancel", d.serveCancel)
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	return secureHeaders(mux)
}

// secureHeaders keeps the page from being framed (a cancel button under
// someone else's page), from running any script but its own, and from
// telling other sites where it was.
func secureHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

func (d *dashboard) readOverview(ctx context.Context) (*overview, error) {
	runs, err := d.client.Runs(ctx)
	if err != nil {
		return nil, err
	}
	workers, err := d.client.Workers(ctx)
	if err != nil {
		return nil, err
	}
	return &overview{Time: time.Now().UTC(), Runs: runs, Workers: workers, Queue: d.queue()}, nil
}

// readRun reads one run and its jobs. A run that is unknown or being
// deleted (its record or its plan gone half-way) is an answer, not a
// failure: Error says so. ov, when it holds the run, saves reading the
// run's results once more for its counts.
func (d *dashboard) readRun(ctx context.Context, id string, ov *overview) (*runDetail, int) {
	var info *RunInfo
	if ov != nil {
		for i := range ov.Runs {
			if ov.Runs[i].ID == id {
				info = &ov.Runs[i]
			}
		}
	}
	var err error
	if info == nil {
		var ri RunInfo
		if ri, err = d.client.Run(ctx, id); err == nil {
			info = &ri
		}
	}
	if err == nil {
		var jobs []JobInfo
		if jobs, err = d.client.Jobs(ctx, id); err == nil {
			return detail(info, jobs), http.StatusOK
		}
	}
	code := http.StatusInternalServerError
	if errors.Is(err, ErrNoRun) {
		code = http.StatusNotFound
	}
	return &runDetail{Jobs: []JobInfo{}, Timeline: []JobInfo{}, Error: err.Error()}, code
}

// detail cuts a run's jobs (in order of sequence) down to what its page
// shows.
func detail(info *RunInfo, jobs []JobInfo) *runDetail {
	rd := &runDetail{Run: info, Jobs: jobs[:min(len(jobs), dashboardRows)], JobCount: len(jobs), Timeline: []JobInfo{}}
	for _, j := range jobs {
		if j.State != JobQueued && !j.Start.IsZero() {
			rd.Timeline = append(rd.Timeline, j)
		}
	}
	if len(rd.Timeline) > dashboardBars {
		slices.SortFunc(rd.Timeline, func(a, b JobInfo) int { return a.Start.Compare(b.Start) })
		rd.Timeline = rd.Timeline[len(rd.Timeline)-dashboardBars:]
	}
	return rd
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func jsonError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

func (d *dashboard) serveOverview(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout)
	defer cancel()
	ov, err := d.readOverview(ctx)
	if err != nil {
		jsonError(w, http.StatusInternalServerError, err)
		return
	}
	writeJSON(w, http.StatusOK, ov)
}

func (d *dashboard) serveRun(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout)
	defer cancel()
	rd, code := d.readRun(ctx, r.PathValue("id"), nil)
	writeJSON(w, code, rd)
}

// serveCancel cancels a run (Client.Cancel). Besides the credentials
// every request needs, it wants the header X-Crew-Request, which a page
// of another site cannot send without the browser asking first (a CORS
// preflight, which this server never grants), and refuses a request
// whose Origin is another site's.
func (d *dashboard) serveCancel(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Crew-Request") == "" || !sameOrigin(r) {
		jsonError(w, http.StatusForbidden, errors.New("cluster: cancel: not from the dashboard's own page"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout)
	defer cancel()
	id := r.PathValue("id")
	before, err := d.client.Cancel(ctx, id)
	switch {
	case errors.Is(err, ErrNoRun):
		jsonError(w, http.StatusNotFound, err)
	case errors.Is(err, ErrRunCancelled), errors.Is(err, ErrRunFinished):
		jsonError(w, http.StatusConflict, err)
	case err != nil:
		jsonError(w, http.StatusInternalServerError, err)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"cancelled": id, "queued": before.Queued, "running": before.Running})
		d.poke()
	}
}

// sameOrigin reports a request without an Origin header (not a browser's
// cross-site request) or with this server's own.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	_, host, ok := strings.Cut(o, "://")
	return ok && host == r.Host
}

// serveEvents streams updates to one open page as server-sent events:
// one "update" event per interval, {"overview": ..., "run": ...} with
// "run" only for a page showing a run (?run=ID).
func (d *dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	s := &dashSub{run: r.URL.Query().Get("run"), update: make(chan []byte, 1)}
	if s.run != "" && !validKey(s.run) {
		http.Error(w, "bad run id", http.StatusBadRequest)
		return
	}
	d.subscribe(s)
	defer d.unsubscribe(s)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// Ask the browser to come back after a second if the stream breaks.
	fmt.Fprint(w, "retry: 1000\n\n")
	fl.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-d.ctx.Done():
			return
		case b := <-s.update:
			if _, err := fmt.Fprintf(w, "event: update\ndata: %s\n\n", b); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

func (d *dashboard) subscribe(s *dashSub) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.subs == nil {
		d.subs = map[*dashSub]struct{}{}
	}
	d.subs[s] = struct{}{}
	if !d.polling {
		d.polling = true
		d.polls.Go(d.poll)
	}
	d.pokeLocked()
}

func (d *dashboard) unsubscribe(s *dashSub) {
	d.mu.Lock()
	delete(d.subs, s)
	d.mu.Unlock()
}

// poke makes the poller send an update now rather than at its next tick.
func (d *dashboard) poke() {
	d.mu.Lock()
	d.pokeLocked()
	d.mu.Unlock()
}

func (d *dashboard) pokeLocked() {
	select {
	case d.pokes <- struct{}{}:
	default:
	}
}

// dashboardShare bounds the broker's time spent reading for the
// dashboard: after a read that took d, the next waits at least
// d×dashboardShare, so a large cluster's dashboard updates less often
// rather than slowing its jobs (1/20 of one core at most).
const dashboardShare = 20

// poll reads the state once per interval and sends it to every open
// page, until no page is open or the broker closes.
func (d *dashboard) poll() {
	t := time.NewTimer(d.interval)
	defer t.Stop()
	for {
		d.mu.Lock()
		if len(d.subs) == 0 || d.ctx.Err() != nil {
			d.polling = false
			d.mu.Unlock()
			return
		}
		runs := map[string][]*dashSub{}
		for s := range d.subs {
			runs[s.run] = append(runs[s.run], s)
		}
		d.mu.Unlock()
		start := time.Now()
		d.push(runs)
		t.Reset(max(d.interval, time.Since(start)*dashboardShare))
		select {
		case <-t.C:
		case <-d.pokes:
		case <-d.ctx.Done():
		}
	}
}

// push reads the overview once and each shown run once, and hands each
// page its update.
func (d *dashboard) push(runs map[string][]*dashSub) {
	ctx, cancel := context.WithTimeout(d.ctx, scrapeTimeout)
	defer cancel()
	var msg struct {
		Overview any        `json:"overview"`
		Run      *runDetail `json:"run,omitempty"`
		Error    string     `json:"error,omitempty"`
	}
	ov, err := d.readOverview(ctx)
	if err != nil {
		msg.Error = err.Error()
	} else {
		msg.Overview = ov
	}
	for id, subs := range runs {
		msg.Run = nil
		if id != "" {
			msg.Run, _ = d.readRun(ctx, id, ov)
		}
		b, err := json.Marshal(&msg)
		if err != nil {
			continue
		}
		for _, s := range subs {
			select {
			case <-s.update: // the page has not taken the last one: replace it
			default:
			}
			s.update <- b
		}
	}
}
