package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
)

// Names of the server objects that keep runs and workers (see the protocol
// at the top of protocol.go).
const (
	// RunsBucket is the key-value bucket of runs, keyed by run id.
	RunsBucket = "crew-runs"
	// WorkersBucket is the key-value bucket where each connected worker
	// keeps its registration, keyed by worker id.
	WorkersBucket = "crew-workers"
)

// DefaultRetention is how long a broker keeps runs, their results and
// their output unless BrokerConfig.Retention says otherwise: long enough
// to attach the morning after.
const DefaultRetention = 24 * time.Hour

// Worker registrations: a worker writes its own every heartbeatEvery (and
// within registerEvery of a change in its running jobs); a registration
// older than workerGone is a worker that died without saying goodbye.
const (
	registerEvery  = time.Second
	heartbeatEvery = 5 * time.Second
	workerGone     = 3 * heartbeatEvery
	// workersTTL lets the server drop registrations of dead workers.
	workersTTL = time.Minute
)

var (
	// ErrNoRun reports a run id the server does not know: mistyped, or
	// older than the retention.
	ErrNoRun = errors.New("cluster: no such run (unknown, or past the broker's retention)")
	// ErrRunCancelled reports a run that was cancelled (Client.Cancel):
	// cancelling it again, or attaching to it.
	ErrRunCancelled = errors.New("cluster: run was cancelled")
	// ErrRunFinished reports a request to cancel a run whose jobs have all
	// ended.
	ErrRunFinished = errors.New("cluster: run has finished")
)

// RunState is what became of a run as a whole.
type RunState string

// The states of a run.
const (
	// RunActive: jobs are queued or running, or results are awaited.
	RunActive RunState = "running"
	// RunDone: every job has a result.
	RunDone RunState = "done"
	// RunCancelled: Client.Cancel (crew cancel) stopped it.
	RunCancelled RunState = "cancelled"
)

// JobState is where one job of a run is.
type JobState string

// The states of a job.
const (
	JobQueued    JobState = "queued"    // waiting in the queue (or not yet submitted)
	JobRunning   JobState = "running"   // a worker runs it
	JobDone      JobState = "done"      // ended with exit status 0
	JobFailed    JobState = "failed"    // ended otherwise, or dead-lettered
	JobCancelled JobState = "cancelled" // its run was cancelled before it ended
)

// RunInfo describes one run as the server keeps it.
type RunInfo struct {
	ID string `json:"id"`
	// Command is the run's command as its submitter showed it.
	Command string `json:"command"`
	// Host is the machine that submitted the run.
	Host      string    `json:"host,omitempty"`
	Submitted time.Time `json:"submitted"`
	// Ended is when the run was seen finished or was cancelled; zero while
	// it is active.
	Ended time.Time `json:"ended,omitzero"`
	State RunState  `json:"state"`
	// Total is the number of jobs, -1 while unknown (a run whose input
	// was too large to keep). Queued is Total less the jobs running and
	// ended (-1 when Total is); for a cancelled run, the jobs that will
	// never run.
	Total   int64 `json:"total"`
	Queued  int64 `json:"queued"`
	Running int64 `json:"running"`
	Done    int64 `json:"done"`
	Failed  int64 `json:"failed"`
	// Exit is the exit status the run's submitter or a later attach
	// reported, -1 while none has.
	Exit int `json:"exit"`
	// Attachable reports that the server keeps what attaching needs
	// (the submitter's spec; see NewRun.Spec).
	Attachable bool `json:"attachable"`
}

// JobInfo describes one job of a run. For a job that ran several times
// (--retries) it describes the latest try.
type JobInfo struct {
	Seq int64 `json:"seq"`
	// Input is the job's arguments, as {} shows them; Command its command
	// line. Both are empty for a job the server has no plan of.
	Input   string   `json:"input"`
	Command string   `json:"command"`
	State   JobState `json:"state"`
	// Worker is the host that runs or ran it.
	Worker string `json:"worker,omitempty"`
	// Start is when it started; Runtime how long it ran (so far, while
	// running).
	Start   time.Time     `json:"start,omitzero"`
	Runtime time.Duration `json:"runtime"`
	// Exit is its exit status once ended (-1: killed by Signal, or could
	// not start); Try is which try of the job this was.
	Exit   int `json:"exit"`
	Signal int `json:"signal,omitempty"`
	Try    int `json:"try"`
}

// WorkerInfo describes one connected worker, from the registration it
// refreshes every few seconds.
type WorkerInfo struct {
	ID      string    `json:"id"`
	Host    string    `json:"host"`
	Slots   int       `json:"slots"`
	Busy    int       `json:"busy"`
	Tags    []string  `json:"tags"`
	Version string    `json:"version,omitempty"`
	Started time.Time `json:"started"`
	// LastSeen is the worker's last heartbeat.
	LastSeen time.Time `json:"last_seen"`
	// Running are the jobs it runs, by job key ("<run>.<seq>.<try>").
	Running []RunningJob `json:"running,omitempty"`
}

// RunningJob is one job a worker runs.
type RunningJob struct {
	Key   string    `json:"key"`
	Start time.Time `json:"start"`
}

// NewRun describes a run for the server to keep (ExecutorConfig.NewRun).
type NewRun struct {
	// Command is shown by Client.Runs (crew runs).
	Command string
	// Jobs lists every job of the run when known in advance; then Total
	// is known and Client.Jobs can show queued jobs. Nil: unknown.
	Jobs []PlannedJob
	// Spec is kept for whoever attaches to the run later, opaque to the
	// cluster: crew run keeps its arguments and input there. Nil: the run
	// cannot be attached to.
	Spec []byte
}

// PlannedJob is one job of a run as planned by its submitter.
type PlannedJob struct {
	Seq     int64  `json:"seq"`
	Input   string `json:"input"`
	Command string `json:"command"`
}

// runRecord is a run as RunsBucket keeps it (see protocol.go).
type runRecord struct {
	ID        string    `json:"id"`
	Command   string    `json:"command"`
	Host      string    `json:"host,omitempty"`
	Submitted time.Time `json:"submitted"`
	Total     int64     `json:"total"`
	State     RunState  `json:"state"`
	Ended     time.Time `json:"ended,omitzero"`
	Done      int64     `json:"done,omitempty"`
	Failed    int64     `json:"failed,omitempty"`
	Exit      *int      `json:"exit,omitempty"`
	Spec      bool      `json:"spec,omitempty"`
}

// workerRecord is a worker's registration in WorkersBucket.
type workerRecord struct {
	ID      string       `json:"id"`
	Host    string       `json:"host"`
	Slots   int          `json:"slots"`
	Busy    int          `json:"busy"`
	Tags    []string     `json:"tags,omitempty"`
	Version string       `json:"version,omitempty"`
	Started time.Time    `json:"started"`
	Seen    time.Time    `json:"seen"`
	Running []RunningJob `json:"running,omitempty"`
}

func specObject(run string) string { return "run." + run + ".spec" }
func jobsObject(run string) string { return "run." + run + ".jobs" }

// buckets binds the key-value buckets and the object store, creating the
// missing ones with DefaultRetention. A retention above zero is the
// broker's setting: it creates or updates them with that TTL, which a
// later bind leaves alone.
func (sp *space) buckets(ctx context.Context, retention time.Duration) error {
	g, gctx := errgroup.WithContext(ctx)
	sp.bindBuckets(gctx, g, retention)
	return g.Wait()
}

// bindBuckets does buckets' work in g, one bucket a goroutine; each sets
// its own field of sp.
func (sp *space) bindBuckets(ctx context.Context, g *errgroup.Group, retention time.Duration) {
	kv := func(name string, ttl time.Duration) (jetstream.KeyValue, error) {
		cfg := jetstream.KeyValueConfig{Bucket: name, TTL: ttl, Storage: jetstream.FileStorage}
		if retention > 0 {
			return sp.js.CreateOrUpdateKeyValue(ctx, cfg)
		}
		b, err := sp.js.KeyValue(ctx, name)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			if b, err = sp.js.CreateKeyValue(ctx, cfg); errors.Is(err, jetstream.ErrBucketExists) {
				b, err = sp.js.KeyValue(ctx, name)
			}
		}
		return b, err
	}
	ttl := retention
	if ttl <= 0 {
		ttl = DefaultRetention
	}
	bind := func(field *jetstream.KeyValue, name string, ttl time.Duration, what string) {
		g.Go(func() error {
			b, err := kv(name, ttl)
			if err != nil {
				return fmt.Errorf("cluster: %s bucket: %w", what, err)
			}
			*field = b
			return nil
		})
	}
	bind(&sp.results, ResultsBucket, ttl, "results")
	bind(&sp.runs, RunsBucket, ttl, "runs")
	bind(&sp.workers, WorkersBucket, workersTTL, "workers")
	g.Go(func() error {
		ocfg := jetstream.ObjectStoreConfig{Bucket: OutputBucket, TTL: ttl, Storage: jetstream.FileStorage}
		var err error
		if retention > 0 {
			sp.output, err = sp.js.CreateOrUpdateObjectStore(ctx, ocfg)
		} else if sp.output, err = sp.js.ObjectStore(ctx, OutputBucket); errors.Is(err, jetstream.ErrBucketNotFound) {
			if sp.output, err = sp.js.CreateObjectStore(ctx, ocfg); errors.Is(err, jetstream.ErrBucketExists) {
				sp.output, err = sp.js.ObjectStore(ctx, OutputBucket)
			}
		}
		if err != nil {
			return fmt.Errorf("cluster: output bucket: %w", err)
		}
		return nil
	})
}

// A Client reads and steers the runs and workers a server keeps: what
// crew runs, crew status, crew cancel and crew workers show, and what the
// broker's dashboard serves. Create one with Dial and release it with
// Close; the zero value is not usable. Its methods are safe for concurrent
// use; each is a few round trips to the server (Runs reads one record per
// run, and counts the results of active runs only).
type Client struct {
	nc *nats.Conn
	sp *space
}

// Dial connects to the server at cfg.URL, preparing the streams and
// buckets if they are missing. It fails at once with ErrUnreachable when
// no server answers and ErrUnauthorized when it refuses the credentials.
func Dial(ctx context.Context, cfg ConnConfig) (*Client, error) {
	nc, err := cfg.connect(nats.Timeout(dialTimeout))
	if err != nil {
		return nil, err
	}
	// Only the buckets: a reader need not set up the job streams (Cancel
	// finds the jobs stream when it needs it), and every round trip
	// counts in crew runs' time.
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	sp := &space{js: js}
	if err := sp.buckets(ctx, 0); err != nil {
		nc.Close()
		return nil, err
	}
	return &Client{nc: nc, sp: sp}, nil
}

// Close closes the client's connection. It is idempotent.
func (c *Client) Close() error {
	c.nc.Close()
	return nil
}

// Runs returns every run the server keeps, newest first, with its jobs
// counted. A run found with all its jobs ended is recorded as done on the
// way (its submitter may be gone), so later calls need not count it again.
func (c *Client) Runs(ctx context.Context) ([]RunInfo, error) {
	recs, err := c.records(ctx)
	if err != nil {
		return nil, err
	}
	var running map[string][]runningOn
	out := make([]RunInfo, 0, len(recs))
	for _, r := range recs {
		if r.rec.State == RunActive && running == nil {
			if running, err = c.runningByRun(ctx); err != nil {
				return nil, err
			}
		}
		info, err := c.info(ctx, r.rec, r.rev, running)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	slices.SortStableFunc(out, func(a, b RunInfo) int { return b.Submitted.Compare(a.Submitted) })
	return out, nil
}

// Run returns one run, with its jobs counted; ErrNoRun when the server
// does not keep it.
func (c *Client) Run(ctx context.Context, id string) (RunInfo, error) {
	rec, rev, err := c.record(ctx, id)
	if err != nil {
		return RunInfo{}, err
	}
	var running map[string][]runningOn
	if rec.State == RunActive {
		if running, err = c.runningByRun(ctx); err != nil {
			return RunInfo{}, err
		}
	}
	return c.info(ctx, rec, rev, running)
}

// Jobs returns the jobs of run id in order of their sequence numbers:
// every planned job (NewRun.Jobs), and any other that has a result.
// ErrNoRun when the server does not keep the run.
func (c *Client) Jobs(ctx context.Context, id string) ([]JobInfo, error) {
	rec, _, err := c.record(ctx, id)
	if err != nil {
		return nil, err
	}
	plan, err := c.plan(ctx, id)
	if err != nil {
		return nil, err
	}
	results, err := runResults(ctx, c.sp.results, id)
	if err != nil {
		return nil, err
	}
	running, err := c.runningByRun(ctx)
	if err != nil {
		return nil, err
	}
	// By index, not pointer: a job with a result but no plan is appended,
	// which may move the others, and rebuilding a map of pointers after
	// each made a run without a plan quadratic (seconds at 10,000 jobs,
	// every second a dashboard page showed it).
	bySeq := make(map[int64]int, len(plan))
	jobs := make([]JobInfo, 0, len(plan))
	for _, p := range plan {
		bySeq[p.Seq] = len(jobs)
		jobs = append(jobs, JobInfo{Seq: p.Seq, Input: p.Input, Command: p.Command, State: JobQueued, Exit: -1, Try: 1})
	}
	get := func(seq int64) *JobInfo {
		i, ok := bySeq[seq]
		if !ok {
			i = len(jobs)
			bySeq[seq] = i
			jobs = append(jobs, JobInfo{Seq: seq, State: JobQueued, Exit: -1, Try: 1})
		}
		return &jobs[i]
	}
	now := time.Now()
	for _, rj := range running[id] {
		seq, try, ok := parseJobKey(id, rj.Key)
		if !ok {
			continue
		}
		j := get(seq)
		j.State, j.Start, j.Runtime, j.Try = JobRunning, rj.Start, now.Sub(rj.Start), try
		j.Worker = rj.worker
	}
	for seq, r := range results {
		j := get(seq)
		if j.State == JobRunning && j.Try > r.try {
			continue // a later try runs
		}
		j.State, j.Worker, j.Start, j.Runtime = JobDone, r.res.Host, r.res.Start, r.res.Runtime
		j.Exit, j.Signal, j.Try = r.res.Exit, r.res.Signal, r.try
		if r.failed() {
			j.State = JobFailed
		}
	}
	if rec.State == RunCancelled {
		for i := range jobs {
			if jobs[i].State == JobQueued || jobs[i].State == JobRunning {
				jobs[i].State = JobCancelled
			}
		}
	}
	slices.SortFunc(jobs, func(a, b JobInfo) int { return int(a.Seq - b.Seq) })
	return jobs, nil
}

// Workers returns the workers that sent a heartbeat lately, by host.
func (c *Client) Workers(ctx context.Context) ([]WorkerInfo, error) {
	recs, err := c.workerRecords(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]WorkerInfo, 0, len(recs))
	for _, r := range recs {
		tags := r.Tags
		if tags == nil {
			tags = []string{}
		}
		out = append(out, WorkerInfo{
			ID: r.ID, Host: r.Host, Slots: r.Slots, Busy: r.Busy, Tags: tags, Version: r.Version,
			Started: r.Started, LastSeen: r.Seen, Running: r.Running,
		})
	}
	slices.SortFunc(out, func(a, b WorkerInfo) int {
		if c := strings.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Cancel cancels run id: it records the run as cancelled, deletes its
// queued jobs from the queue, and asks every worker to stop the run's
// jobs it runs, along each job's termination sequence. A submitter or an
// attach waiting for the run's results stops waiting (their Execs return
// ErrRunCancelled). Cancel returns the run as it was just before, so the
// caller can say how many jobs were queued and running. It returns
// ErrNoRun for a run the server does not keep, ErrRunCancelled for one
// cancelled already and ErrRunFinished for one whose jobs have all ended;
// none of these changes anything.
func (c *Client) Cancel(ctx context.Context, id string) (RunInfo, error) {
	for {
		before, err := c.Run(ctx, id)
		if err != nil {
			return RunInfo{}, err
		}
		switch before.State {
		case RunCancelled:
			return before, ErrRunCancelled
		case RunDone:
			return before, ErrRunFinished
		}
		rec, rev, err := c.record(ctx, id)
		if err != nil {
			return RunInfo{}, err
		}
		if rec.State != RunActive {
			continue
		}
		rec.State, rec.Ended = RunCancelled, time.Now().UTC()
		rec.Done, rec.Failed = before.Done, before.Failed
		if err := c.sp.putRecord(ctx, rec, rev); errors.Is(err, jetstream.ErrKeyExists) {
			continue // changed meanwhile: look again
		} else if err != nil {
			return RunInfo{}, err
		}
		jobs, err := c.sp.js.Stream(ctx, JobsStream)
		if err == nil {
			err = jobs.Purge(ctx, jetstream.WithPurgeSubject(JobsSubject+"."+id))
		}
		if err == nil {
			// A run that requires tags queues under its tags (tags.go).
			err = jobs.Purge(ctx, jetstream.WithPurgeSubject(JobsSubject+"."+id+".>"))
		}
		if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return before, fmt.Errorf("cluster: cancel %s: unqueue jobs: %w", id, err)
		}
		if err := c.nc.Publish(CancelSubject+"."+id, nil); err != nil {
			return before, fmt.Errorf("cluster: cancel %s: %w", id, err)
		}
		if err := c.nc.FlushTimeout(storeTimeout); err != nil {
			return before, fmt.Errorf("cluster: cancel %s: %w", id, err)
		}
		return before, nil
	}
}

// Spec returns what the submitter of run id kept for attaching
// (NewRun.Spec); ErrNoRun when the server keeps no such run, and an
// error wrapping ErrNoSpec when the run kept none.
func (c *Client) Spec(ctx context.Context, id string) ([]byte, error) {
	rec, _, err := c.record(ctx, id)
	if err != nil {
		return nil, err
	}
	if !rec.Spec {
		return nil, fmt.Errorf("%w: run %s", ErrNoSpec, id)
	}
	b, err := c.sp.output.GetBytes(ctx, specObject(id))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: run %s", ErrNoRun, id)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: run %s: %w", id, err)
	}
	return b, nil
}

// ErrNoSpec reports a run whose submitter kept nothing to attach with.
var ErrNoSpec = errors.New("cluster: run cannot be attached to (its submitter kept no spec)")

// info completes a run's record with its counts; an active run found with
// every job ended is recorded as done.
func (c *Client) info(ctx context.Context, rec runRecord, rev uint64, running map[string][]runningOn) (RunInfo, error) {
	info := RunInfo{
		ID: rec.ID, Command: rec.Command, Host: rec.Host, Submitted: rec.Submitted, Ended: rec.Ended,
		State: rec.State, Total: rec.Total, Done: rec.Done, Failed: rec.Failed, Exit: -1, Attachable: rec.Spec,
	}
	if rec.Exit != nil {
		info.Exit = *rec.Exit
	}
	if rec.State == RunActive {
		results, err := runResults(ctx, c.sp.results, rec.ID)
		if err != nil {
			return RunInfo{}, err
		}
		info.Done, info.Failed = tally(results)
		for _, rj := range running[rec.ID] {
			if seq, try, ok := parseJobKey(rec.ID, rj.Key); ok {
				if r, ok := results[seq]; !ok || r.try < try {
					info.Running++
				}
			}
		}
		if rec.Total >= 0 && info.Done+info.Failed >= rec.Total {
			info.State, info.Ended = RunDone, time.Now().UTC()
			rec.State, rec.Ended, rec.Done, rec.Failed = info.State, info.Ended, info.Done, info.Failed
			// Another reader may have done it first; either is right.
			_ = c.sp.putRecord(ctx, rec, rev)
		}
	}
	switch {
	case rec.Total < 0:
		info.Queued = -1
	case info.State == RunActive || info.State == RunCancelled:
		info.Queued = max(rec.Total-info.Done-info.Failed-info.Running, 0)
	}
	return info, nil
}

type keptRecord struct {
	rec runRecord
	rev uint64
}

// records reads every run record with one watch of the bucket: a few
// milliseconds for a thousand runs, where a Get per key would take a
// round trip each.
func (c *Client) records(ctx context.Context) ([]keptRecord, error) {
	var out []keptRecord
	err := watchAll(ctx, c.sp.runs, ">", func(e jetstream.KeyValueEntry) {
		var r runRecord
		if json.Unmarshal(e.Value(), &r) == nil && r.ID != "" {
			out = append(out, keptRecord{r, e.Revision()})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: read runs: %w", err)
	}
	return out, nil
}

func (c *Client) record(ctx context.Context, id string) (runRecord, uint64, error) {
	return c.sp.record(ctx, id)
}

func (sp *space) record(ctx context.Context, id string) (runRecord, uint64, error) {
	if !validKey(id) || strings.Contains(id, ".") {
		return runRecord{}, 0, fmt.Errorf("%w: %q", ErrNoRun, id)
	}
	e, err := sp.runs.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return runRecord{}, 0, fmt.Errorf("%w: %s", ErrNoRun, id)
	}
	if err != nil {
		return runRecord{}, 0, fmt.Errorf("cluster: run %s: %w", id, err)
	}
	var r runRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return runRecord{}, 0, fmt.Errorf("%w: run %s: %v", errMalformed, id, err)
	}
	return r, e.Revision(), nil
}

// putRecord stores rec: created when rev is 0, else updated if the
// record is still at rev (ErrKeyExists when it is not).
func (sp *space) putRecord(ctx context.Context, rec runRecord, rev uint64) error {
	data, err := json.Marshal(&rec)
	if err != nil {
		return fmt.Errorf("cluster: encode run: %w", err)
	}
	if rev == 0 {
		_, err = sp.runs.Create(ctx, rec.ID, data)
	} else {
		_, err = sp.runs.Update(ctx, rec.ID, data, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || resultExists(err) {
			err = jetstream.ErrKeyExists
		}
	}
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("cluster: store run %s: %w", rec.ID, err)
	}
	return err
}

// plan reads run id's planned jobs; none when it has no plan.
func (c *Client) plan(ctx context.Context, id string) ([]PlannedJob, error) {
	b, err := c.sp.output.GetBytes(ctx, jobsObject(id))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: run %s: jobs: %w", id, err)
	}
	var plan []PlannedJob
	if err := json.Unmarshal(b, &plan); err != nil {
		return nil, fmt.Errorf("%w: run %s: jobs: %v", errMalformed, id, err)
	}
	return plan, nil
}

func (c *Client) workerRecords(ctx context.Context) ([]workerRecord, error) {
	var out []workerRecord
	now := time.Now()
	err := watchAll(ctx, c.sp.workers, ">", func(e jetstream.KeyValueEntry) {
		var r workerRecord
		if json.Unmarshal(e.Value(), &r) == nil && now.Sub(r.Seen) < workerGone {
			out = append(out, r)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: read workers: %w", err)
	}
	return out, nil
}

// runningOn is a RunningJob with the host of the worker running it.
type runningOn struct {
	RunningJob
	worker string
}

// runningByRun returns the jobs the live workers run, by run id.
func (c *Client) runningByRun(ctx context.Context) (map[string][]runningOn, error) {
	ws, err := c.workerRecords(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]runningOn{}
	for _, w := range ws {
		for _, rj := range w.Running {
			run, _, _ := strings.Cut(rj.Key, ".")
			out[run] = append(out[run], runningOn{rj, w.Host})
		}
	}
	return out, nil
}

// watchAll calls f with the current value of every key matching keys.
func watchAll(ctx context.Context, kv jetstream.KeyValue, keys string, f func(jetstream.KeyValueEntry)) error {
	w, err := kv.Watch(ctx, keys, jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("watch ended")
			}
			if e == nil {
				return nil
			}
			f(e)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// jobResult is the latest result of one job of a run.
type jobResult struct {
	try int
	res resultMsg
}

func (r jobResult) failed() bool {
	return r.res.Exit != 0 || r.res.Signal != 0 || r.res.Err != "" || r.res.Dead
}

// tally counts the jobs of results that ended well and those that failed.
func tally(results map[int64]jobResult) (done, failed int64) {
	for _, r := range results {
		if r.failed() {
			failed++
		} else {
			done++
		}
	}
	return done, failed
}

// runResults reads the results of run id, the latest try of each job.
func runResults(ctx context.Context, results jetstream.KeyValue, id string) (map[int64]jobResult, error) {
	out := map[int64]jobResult{}
	add := func(key string, m resultMsg) {
		seq, try, ok := parseJobKey(id, key)
		if !ok {
			seq, try = m.Seq, 1 // a result of a worker that names no key
		}
		if r, ok := out[seq]; !ok || r.try <= try {
			m.Stdout, m.Stderr = nil, nil
			out[seq] = jobResult{try, m}
		}
	}
	err := watchAll(ctx, results, id+".>", func(e jetstream.KeyValueEntry) {
		rest := strings.TrimPrefix(e.Key(), id+".")
		if strings.HasPrefix(rest, "b") {
			var b batchResultMsg
			if json.Unmarshal(e.Value(), &b) != nil {
				return
			}
			for _, m := range b.Results {
				if !m.Moved {
					add(m.Key, m)
				}
			}
			return
		}
		if m, err := decodeResult(e.Value()); err == nil {
			add(e.Key(), *m)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: read results of run %s: %w", id, err)
	}
	return out, nil
}

// parseJobKey splits a job key "<run>.<seq>.<try>" of run id.
func parseJobKey(id, key string) (seq int64, try int, ok bool) {
	rest, found := strings.CutPrefix(key, id+".")
	if !found {
		return 0, 0, false
	}
	s, t, found := strings.Cut(rest, ".")
	if !found {
		return 0, 0, false
	}
	seq, err1 := strconv.ParseInt(s, 10, 64)
	try, err2 := strconv.Atoi(t)
	if err1 != nil || err2 != nil || seq < 1 || try < 1 {
		return 0, 0, false
	}
	return seq, try, true
}
