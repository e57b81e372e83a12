// The wire protocol between submitters (Executor) and workers (Worker),
// specified here once; the rest of the package refers to it.
//
// Server objects (created by whichever side starts first, never changed
// by the others):
//
//   - JobsStream "CREW_JOBS" on subjects "crew.jobs.>": WorkQueue
//     retention, DiscardNew (a full queue refuses new jobs), file storage.
//   - WorkersConsumer "crew-workers" on it: a durable pull consumer with
//     explicit acks, shared by all workers; AckWait and the run limit are
//     the first worker's (WorkerConfig). Its MaxDeliver is -1 and its
//     metadata "crew-max-starts" holds the run limit (workers count runs,
//     below); a consumer without that entry has a server-side MaxDeliver.
//   - ResultsBucket "crew-results": a key-value bucket of results and run
//     counts, TTL the broker's retention (BrokerConfig.Retention, default
//     DefaultRetention).
//   - OutputBucket "crew-output": an object store for input and output too
//     large for a message, and runs' plans and specs; TTL the retention.
//   - RunsBucket "crew-runs": a key-value bucket of runs; TTL the
//     retention.
//   - WorkersBucket "crew-workers": a key-value bucket of worker
//     registrations, TTL one minute.
//
// The broker creates the buckets with its retention at every start (a
// create or update); every other side binds to existing buckets and
// creates a missing one with DefaultRetention, never changing a TTL.
//   - DeadStream "CREW_DEAD" on subjects "crew.dead.>": dead letters, kept
//     7 days.
//
// Keys. A run id is a NUID. A job's key is "<run>.<seq>.<attempt>" (the
// attempt counts --retries); a batch's is "<run>.b<n>". Keys use letters,
// digits, '-' and '_', in tokens separated by single dots.
//
// A job is published to "crew.jobs.<run>" with the header Nats-Msg-Id set
// to its key, so the server stores a repeated publish once. Its body is
// JSON:
//
//	{"key": "<key>", "seq": 1, "slot": 1, "command": "echo a",
//	 "argv": ["echo", "a"], "stdin": "<base64>", "stdin_object": "in.<key>",
//	 "timeout": 1000000000, "env": ["K=v"],
//	 "term_seq": [{"signal": 15, "wait": 200000000}, {"signal": 9, "wait": 25000000}]}
//
// Only key and command (or argv) are required. argv, when present, is run
// without a shell; otherwise command runs through "sh -c". stdin is the
// job's input; input too large for the message is in OutputBucket under
// stdin_object instead. Durations are nanoseconds. term_seq is the job's
// termination sequence (Linux signal numbers, each followed by a wait),
// walked when the job is cancelled or runs past its timeout; without it
// the worker uses its own.
//
// A batch is one message carrying several jobs, published the same way
// under the batch's key: {"key": "<batch key>", "jobs": [<job>, ...]},
// at most 1024 jobs.
//
// A worker heartbeats every message it holds (an InProgress ack) every
// third of the consumer's AckWait. When a message's jobs have ended, it
// stores the result under the message's key, as a create: a publish to
// "$KV.crew-results.<key>" with the header
// Nats-Expected-Last-Subject-Sequence: 0, which the server refuses when
// the key already holds a result. It acks the message only once the
// server has confirmed the result, or refused it as a duplicate (another
// run recorded first; its output objects are deleted). A job's result:
//
//	{"seq": 1, "host": "w1", "start": "<RFC 3339>", "runtime": 1000,
//	 "exit": 0, "signal": 0, "timed_out": false, "send": 0, "receive": 2,
//	 "err": "", "dead": false, "moved": false,
//	 "stdout": "<base64>", "stderr": "<base64>", "object": "out.<key>.<nuid>"}
//
// exit is -1 when a signal killed the job or it could not start (err
// says why). Output that does not fit in the message is in OutputBucket
// under object, as an 8-byte big-endian length of stdout, stdout, then
// stderr. Results and output objects stay until the retention passes
// (nobody deletes them once read: an attach reads them again). key is the
// job's key (in a batch's result, each job's own). A batch's result is
// {"results": [<result>, ...]} in the batch's order.
//
// The submitter watches ResultsBucket for "<run>.>" and reads each job's
// result under its own key or its batch's. To cancel a job it publishes an
// empty core NATS message to "crew.cancel.<job key>"; a worker holding the
// job stops it along its termination sequence, and the submitter deletes
// the message from JobsStream if no worker holds it (a batch's once all its
// jobs are cancelled).
//
// A worker that finds a job running long (PrefetchBelow) gives its
// prefetched messages back with a Nak. The jobs of a batch it has started
// that still wait for a slot it publishes again each alone, Nats-Msg-Id
// its own key; their places in the batch's result say {"moved": true},
// and their results come under their own keys.
//
// Tags (crew worker --tag, crew run --require) route jobs. A run that
// requires tags publishes to "crew.jobs.<run>.<tag>..." with its tags
// sorted, one token each, instead of "crew.jobs.<run>"; WorkersConsumer
// filters "crew.jobs.*" (a consumer of an older broker without a filter
// gets it), so it takes only the jobs of runs without tags. Each tag set
// a run requires has a durable consumer of its own, named
// "crew-tags-<20 hex digits of the SHA-256 of the tags joined by ','>",
// filtering "crew.jobs.*.<tag>...", with the tags in its metadata
// "crew-tags" and AckWait, MaxDeliver -1 and "crew-max-starts" copied from
// WorkersConsumer: the filters of a work queue's consumers must not
// overlap, and these differ in length or in a literal token. The
// submitter creates its set's consumer if missing and publishes its name
// on the core NATS subject "crew.tagsets"; a worker with tags pulls from
// WorkersConsumer and from every tag set consumer whose tags it all has,
// found at its start, on that news, and every 30 s, sharing its slots
// among the pulls. Workers advertise their tags in their registration
// (WorkersBucket, "tags"); a submitter whose tags no registered worker
// has says so (ExecutorConfig.OnServed).
//
// Files (crew run --transferfile, --return, --basefile, --cleanup,
// --workdir) travel through OutputBucket, never inside messages. A job
// that names files carries "files": {"transfer": [<ref>, ...], "base":
// [<ref>, ...], "return": ["<path>", ...], "cleanup": true, "workdir":
// "<dir>"}, a ref being {"path": "<path>", "object": "file.<sha256 hex>",
// "mode": 420}. The submitter stores each file under the SHA-256 of its
// content, unless an object of that name is there already; path is where
// the file goes on the worker, relative to the job's work dir unless
// absolute (for "dir/./rest" it is rest). The worker runs the job in
// workdir ("~/..." under its home, a relative one under its own
// directory; made if missing) or, with no workdir or "...", in a fresh
// directory; it fetches the base files, then the transfer files, there.
// After the job it stores each return path's file as
// "ret.<job key>.<i>.<nuid>" and lists them in the result as "returned":
// [<ref>, ...] in the job's order, with no object for a file the job did
// not create (the result's err then names it); with cleanup it then
// removes the files it placed and returned (a fresh directory whole). The
// submitter writes each returned file to the return path here ("dir/./rest"
// to dir/rest), whole or not at all, and deletes its object.
//
// A redelivered message (NumDelivered > 1) whose key holds a result was
// run to the end: it is acked. A redelivered batch is split: the worker
// stores {"split": true} under the batch's key, publishes each job alone
// (Nats-Msg-Id its key), then acks the batch; its jobs' results come under
// their own keys. A redelivered job counts runs: the first delivery counts
// as one, and ResultsBucket's key "runs.<key>" holds the count recorded
// (a decimal number) before each later run starts. A job whose count
// reached the consumer's run limit is dead-lettered: its message is copied
// to "crew.dead.<key>" (Nats-Msg-Id its key), a result with "dead": true,
// "exit": -1 and the reason in "err" is stored for each of its jobs, and
// the message is acked. On a consumer with a server-side MaxDeliver, the
// server's advisory
// "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.CREW_JOBS.crew-workers"
// starts the same, handled by one worker of the queue group
// "crew-dead-letter", which deletes the message instead of acking it.
//
// An SSH run's worker (crew worker --ssh, ServeSSHWorker) learns its
// server from its standard input, the SSH session's: the first line is
// JSON, {"url": "nats://127.0.0.1:<forwarded port>", "token": "<hex>",
// "slots": 4, "host": "<the login as written>", "tags": ["gpu"],
// "ack_wait": 5000000000}, and the end of the input (the session closed)
// tells it to stop its jobs and exit. Once it has read that line and
// watches its input, it writes "crew: worker ready" and a newline to its
// standard output: until then crew run treats the session as still
// logging in, which it may end at once rather than wait for the worker to
// stop. Everything else is as above.
//
// Runs. A submitter first stores its run in RunsBucket under the run id,
// as a create:
//
//	{"id": "<run>", "command": "echo {}", "host": "h", "submitted": "<RFC 3339>",
//	 "total": 3, "state": "running", "spec": true}
//
// total is -1 while the number of jobs is unknown. Before that record it
// may store, in OutputBucket, "run.<run>.jobs", a JSON array of the run's
// planned jobs [{"seq": 1, "input": "a", "command": "echo a"}, ...], and
// "run.<run>.spec" (then "spec": true), opaque bytes from which an attach
// rebuilds the run (crew run keeps its arguments and input there). State
// goes "running" → "done" or "cancelled", with "ended", the final counts
// "done" and "failed" and, once a submitter or attach knows it, "exit";
// every change is an update at the revision read, so two writers never
// lose each other's. Whoever reads a running run whose results cover its
// total may record it done. A run is cancelled by updating its state to
// "cancelled", then purging "crew.jobs.<run>" from JobsStream, then
// publishing an empty core NATS message to "crew.cancel.<run>" (a run id
// has no dots), on which a worker stops every job of the run it holds;
// submitters watch their run's record and stop waiting once cancelled.
//
// A worker registers under a NUID of its own in WorkersBucket, rewriting
// the record every 5 s and within 1 s of a job starting or ending, and
// deletes it when it stops:
//
//	{"id": "<nuid>", "host": "w1", "slots": 4, "busy": 1, "tags": ["gpu"],
//	 "version": "v1.2.0", "started": "<RFC 3339>", "seen": "<RFC 3339>",
//	 "running": [{"key": "<job key>", "start": "<RFC 3339>"}]}
//
// A record whose "seen" is more than 15 s old is a worker that died.

package cluster

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"crew/runner"
)

// Names of what crew keeps on the server. Operators granting permissions
// need them: whoever may publish to JobsSubject runs commands on workers.
const (
	// JobsStream is the work-queue stream holding jobs not yet done.
	JobsStream = "CREW_JOBS"
	// JobsSubject is the subject prefix jobs are published under
	// (JobsSubject + "." + run id).
	JobsSubject = "crew.jobs"
	// WorkersConsumer is the durable pull consumer all workers share.
	WorkersConsumer = "crew-workers"
	// ResultsBucket is the key-value bucket of results, keyed by job id.
	ResultsBucket = "crew-results"
	// OutputBucket is the object store for output and input too large
	// for one message.
	OutputBucket = "crew-output"
	// DeadStream keeps jobs that exhausted their deliveries, under
	// DeadSubject + "." + job id.
	DeadStream = "CREW_DEAD"
	// DeadSubject is the subject prefix of dead-lettered jobs.
	DeadSubject = "crew.dead"
	// CancelSubject is the core NATS subject prefix on which a submitter
	// asks workers to stop a job (CancelSubject + "." + job id).
	CancelSubject = "crew.cancel"
)

// ResultTTL is how long results, outputs and runs stay on the server
// unless the broker says otherwise (BrokerConfig.Retention).
const ResultTTL = DefaultRetention

// deadLetterTTL is how long DeadStream keeps a dead-lettered job.
const deadLetterTTL = 7 * 24 * time.Hour

// resultsPrefix is the subject of results-bucket keys: a create is a
// publish there that expects no earlier message on the key's subject.
const resultsPrefix = "$KV." + ResultsBucket + "."

// runsPrefix prefixes the results-bucket keys that count a redelivered
// job's runs; no run id starts with it, so submitters never watch them.
const runsPrefix = "runs."

// maxRunsMeta names the shared consumer's metadata entry that holds
// WorkerConfig.MaxRuns when workers enforce it by counting runs
// (consumers created since runs are counted; older ones have a
// server-side MaxDeliver instead).
const maxRunsMeta = "crew-max-starts"

func maxDeliveriesSubject() string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + JobsStream + "." + WorkersConsumer
}

// maxDeliveries is the part of the server's advisory that we need.
type maxDeliveries struct {
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries int    `json:"deliveries"`
}

// inlineLimit is the largest output or input sent inside one message;
// JSON's base64 grows bytes by a third, and headers need room.
func inlineLimit(nc *nats.Conn) int {
	return int(nc.MaxPayload())/2 - 4096
}

// space holds the server-side objects crew uses.
type space struct {
	js      jetstream.JetStream
	jobs    jetstream.Stream
	results jetstream.KeyValue
	output  jetstream.ObjectStore
	runs    jetstream.KeyValue
	workers jetstream.KeyValue
}

// setup creates (or finds) the streams and buckets; every side calls it,
// so whichever starts first prepares the server.
func setup(ctx context.Context, nc *nats.Conn) (*space, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("cluster: jetstream: %w", err)
	}
	return setupWith(ctx, js, nil)
}

// setupWith is setup on js; more, if not nil, runs in the group too, so
// that a caller's own round trip (a worker's look for its consumer)
// overlaps the others.
func setupWith(ctx context.Context, js jetstream.JetStream, more func(context.Context) error) (*space, error) {
	sp := &space{js: js}
	// Each is a round trip or two, and none waits for another: over a
	// slow link (a worker far from its broker, an SSH forward) they
	// cost one round trip's time together instead of six.
	g, gctx := errgroup.WithContext(ctx)
	if more != nil {
		g.Go(func() error { return more(gctx) })
	}
	g.Go(func() error {
		var err error
		sp.jobs, err = ensureStream(gctx, js, jetstream.StreamConfig{
			Name:      JobsStream,
			Subjects:  []string{JobsSubject + ".>"},
			Retention: jetstream.WorkQueuePolicy,
			// A full queue refuses new jobs rather than dropping old ones.
			Discard: jetstream.DiscardNew,
			Storage: jetstream.FileStorage,
		})
		if err != nil {
			return fmt.Errorf("cluster: jobs stream: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		if _, err := ensureStream(gctx, js, jetstream.StreamConfig{
			Name:     DeadStream,
			Subjects: []string{DeadSubject + ".>"},
			Storage:  jetstream.FileStorage,
			MaxAge:   deadLetterTTL,
		}); err != nil {
			return fmt.Errorf("cluster: dead-letter stream: %w", err)
		}
		return nil
	})
	sp.bindBuckets(gctx, g, 0)
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return sp, nil
}

// ensureStream binds to the stream cfg names, creating it if missing; it
// never updates one, as the protocol says: an update on every start of
// every side was needless work for the server (and raced, inside it,
// with consumers being created).
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	st, err := js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		if st, err = js.CreateStream(ctx, cfg); errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			st, err = js.Stream(ctx, cfg.Name)
		}
	}
	return st, err
}

// jobMsg is a job as it travels through the jobs stream (see the
// protocol at the top of this file). JSON keeps the format readable with
// the nats CLI and open to workers in other languages.
type jobMsg struct {
	Key     string        `json:"key"`
	Seq     int64         `json:"seq"`
	Slot    int           `json:"slot,omitempty"`
	Command string        `json:"command"`
	Argv    []string      `json:"argv,omitempty"`
	Stdin   []byte        `json:"stdin,omitempty"`
	StdinOb string        `json:"stdin_object,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"`
	Env     []string      `json:"env,omitempty"`
	TermSeq []termStep    `json:"term_seq,omitempty"`
	Files   *jobFiles     `json:"files,omitempty"`
}

// termStep is one step of a job's termination sequence (runner.TermStep).
type termStep struct {
	Signal int           `json:"signal"`
	Wait   time.Duration `json:"wait"`
}

// maxSignal is the highest signal number Linux knows.
const maxSignal = 64

func encodeTermSeq(seq []runner.TermStep) []termStep {
	if len(seq) == 0 {
		return nil
	}
	out := make([]termStep, len(seq))
	for i, s := range seq {
		out[i] = termStep{Signal: int(s.Signal), Wait: s.Wait}
	}
	return out
}

// checkTermSeq reports a step that no process could be sent or waited for.
func checkTermSeq(seq []termStep) error {
	for _, s := range seq {
		if s.Signal < 1 || s.Signal > maxSignal || s.Wait < 0 {
			return fmt.Errorf("termination step: signal %d, wait %v", s.Signal, s.Wait)
		}
	}
	return nil
}

// termSeq returns the job's termination sequence for runner.Local; nil
// when the job carries none.
func (j *jobMsg) termSeq() []runner.TermStep {
	if len(j.TermSeq) == 0 {
		return nil
	}
	seq := make([]runner.TermStep, len(j.TermSeq))
	for i, s := range j.TermSeq {
		seq[i] = runner.TermStep{Signal: syscall.Signal(s.Signal), Wait: s.Wait}
	}
	return seq
}

// resultMsg is a job's result as stored in the results bucket. Output
// too large for one message lives in the object store under Object.
type resultMsg struct {
	Key      string        `json:"key,omitempty"`
	Seq      int64         `json:"seq"`
	Host     string        `json:"host"`
	Start    time.Time     `json:"start"`
	Runtime  time.Duration `json:"runtime"`
	Exit     int           `json:"exit"`
	Signal   int           `json:"signal,omitempty"`
	TimedOut bool          `json:"timed_out,omitempty"`
	Send     int64         `json:"send,omitempty"`
	Receive  int64         `json:"receive,omitempty"`
	Err      string        `json:"err,omitempty"`
	Dead     bool          `json:"dead,omitempty"`
	// Moved marks a batch's job that its worker queued again on its own
	// (see Worker): its result is stored under its own key.
	Moved  bool   `json:"moved,omitempty"`
	Stdout []byte `json:"stdout,omitempty"`
	Stderr []byte `json:"stderr,omitempty"`
	Object string `json:"object,omitempty"`
	// Returned are the files the job sent back (--return), in its order.
	Returned []fileRef `json:"returned,omitempty"`
}

// batchMsg is several short jobs travelling as one message (see
// ExecutorConfig.Batch). The batch has a key of its own, under which the
// worker stores one batchResultMsg; each job keeps its key for
// cancellation. Its jobs are encoded once, when their Exec queues them,
// and go into the batch as they are.
type batchMsg struct {
	Key  string            `json:"key"`
	Jobs []json.RawMessage `json:"jobs"` // each an encoded jobMsg
}

// encodeBatch encodes a batch of jobs already encoded as jobMsgs.
func encodeBatch(key string, jobs [][]byte) ([]byte, error) {
	m := batchMsg{Key: key, Jobs: make([]json.RawMessage, len(jobs))}
	for i, j := range jobs {
		m.Jobs[i] = j
	}
	data, err := json.Marshal(&m)
	if err != nil {
		return nil, fmt.Errorf("cluster: encode batch: %w", err)
	}
	return data, nil
}

// batchResultMsg holds the results of a batch's jobs, in the batch's order.
// A batch that was split (see Worker) has Split set and no results: its
// jobs' results come under their own keys.
type batchResultMsg struct {
	Results []resultMsg `json:"results,omitempty"`
	Split   bool        `json:"split,omitempty"`
}

// splitMarker is what a worker stores under a batch's key when it splits
// the batch into its jobs.
var splitMarker = []byte(`{"split":true}`)

// maxBatch bounds the jobs a worker accepts in one message, whatever a
// submitter sends.
const maxBatch = 1024

// decodeJobs decodes a message of the jobs stream: one job, or a batch of
// them. key is what its result is stored under: the job's key, or the
// batch's.
func decodeJobs(data []byte) (key string, jobs []*jobMsg, batch bool, err error) {
	var m struct {
		jobMsg
		Jobs []jobMsg `json:"jobs"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return "", nil, false, fmt.Errorf("%w: job: %v", errMalformed, err)
	}
	if m.Jobs == nil {
		j, err := checkJob(&m.jobMsg)
		if err != nil {
			return "", nil, false, err
		}
		return j.Key, []*jobMsg{j}, false, nil
	}
	if !validKey(m.Key) {
		return "", nil, false, fmt.Errorf("%w: batch: bad key %q", errMalformed, m.Key)
	}
	if len(m.Jobs) == 0 || len(m.Jobs) > maxBatch {
		return "", nil, false, fmt.Errorf("%w: batch %s of %d jobs", errMalformed, m.Key, len(m.Jobs))
	}
	jobs = make([]*jobMsg, len(m.Jobs))
	for i := range m.Jobs {
		if jobs[i], err = checkJob(&m.Jobs[i]); err != nil {
			return "", nil, false, err
		}
	}
	return m.Key, jobs, true, nil
}

// decodeBatchResult decodes a batch's stored result into its n jobs'
// results; split reports a split batch's marker instead.
func decodeBatchResult(data []byte, n int) (results []resultMsg, split bool, err error) {
	var m batchResultMsg
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, false, fmt.Errorf("%w: batch result: %v", errMalformed, err)
	}
	if m.Split && len(m.Results) == 0 {
		return nil, true, nil
	}
	if len(m.Results) != n {
		return nil, false, fmt.Errorf("%w: batch result: %d results for %d jobs", errMalformed, len(m.Results), n)
	}
	for i := range m.Results {
		if err := checkResult(&m.Results[i]); err != nil {
			return nil, false, err
		}
	}
	return m.Results, false, nil
}

func checkJob(m *jobMsg) (*jobMsg, error) {
	if !validKey(m.Key) {
		return nil, fmt.Errorf("%w: job: bad key %q", errMalformed, m.Key)
	}
	if m.Command == "" && len(m.Argv) == 0 {
		return nil, fmt.Errorf("%w: job %s: no command", errMalformed, m.Key)
	}
	if err := checkTermSeq(m.TermSeq); err != nil {
		return nil, fmt.Errorf("%w: job %s: %v", errMalformed, m.Key, err)
	}
	return m, nil
}

func decodeResult(data []byte) (*resultMsg, error) {
	var m resultMsg
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: result: %v", errMalformed, err)
	}
	if err := checkResult(&m); err != nil {
		return nil, err
	}
	return &m, nil
}

func checkResult(m *resultMsg) error {
	if m.Object != "" && (len(m.Stdout) > 0 || len(m.Stderr) > 0) {
		return fmt.Errorf("%w: result has both inline output and object %q", errMalformed, m.Object)
	}
	return nil
}

func (j *jobMsg) job() *runner.Job {
	return &runner.Job{
		Seq: j.Seq, Slot: j.Slot, Command: j.Command, Argv: j.Argv,
		Stdin: j.Stdin, Timeout: j.Timeout, Env: j.Env,
	}
}

func (m *resultMsg) result() runner.Result {
	r := runner.Result{
		Seq: m.Seq, Host: m.Host, Start: m.Start, Runtime: m.Runtime,
		Exit: m.Exit, Signal: m.Signal, TimedOut: m.TimedOut,
		Send: m.Send, Receive: m.Receive,
	}
	switch {
	case m.Dead:
		r.Err = &DeadError{Seq: m.Seq, Reason: m.Err}
	case m.Err != "":
		r.Err = &RemoteError{Host: m.Host, Msg: m.Err}
	}
	return r
}

// packOutput joins stdout and stderr into one object body: an 8-byte
// big-endian length of stdout, stdout, then stderr.
func packOutput(stdout, stderr []byte) []byte {
	b := make([]byte, 8, 8+len(stdout)+len(stderr))
	binary.BigEndian.PutUint64(b, uint64(len(stdout)))
	b = append(b, stdout...)
	return append(b, stderr...)
}

func unpackOutput(b []byte) (stdout, stderr []byte, err error) {
	if len(b) < 8 {
		return nil, nil, fmt.Errorf("%w: output object of %d bytes", errMalformed, len(b))
	}
	n := binary.BigEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		return nil, nil, fmt.Errorf("%w: output object claims %d bytes of stdout in %d", errMalformed, n, len(b)-8)
	}
	return b[8 : 8+n], b[8+n:], nil
}

// validKey reports whether s can be a key in the results bucket and a
// token of a subject: letters, digits, '-', '_' and '.' between tokens.
func validKey(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	prevDot := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if prevDot {
				return false
			}
			prevDot = true
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
		prevDot = false
	}
	return true
}
