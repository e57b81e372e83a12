// Package cluster runs crew jobs on many machines through NATS JetStream.
//
// When one machine is not enough, the same jobs that runner.Local runs here
// can run on workers elsewhere. Three parts take part:
//
//   - a NATS server with JetStream: your own cluster, or a Broker embedded
//     in this process (crew broker);
//   - workers on every machine (crew worker, or a Worker in your program),
//     each running jobs with a runner.Executor, normally runner.Local;
//   - a submitter: an Executor, which implements runner.Executor, so the
//     runner engine (crew run --server) drives it like the local one.
//
// A minimal program, all in one process (errors left out). A program that
// runs a Worker with runner.Local calls runner.Main first thing in main,
// as crew itself does: it is what kills the jobs' leftover processes if
// the program dies, even by SIGKILL (see runner.Main).
//
//	func main() {
//		runner.Main()
//		ctx := context.Background()
//		b, _ := cluster.StartBroker(cluster.BrokerConfig{Listen: "127.0.0.1:0"})
//		defer b.Close()
//		conn := cluster.ConnConfig{URL: b.URL()}
//		w, _ := cluster.NewWorker(cluster.WorkerConfig{ConnConfig: conn, Executor: runner.Local{}, Concurrency: 4})
//		go w.Run(ctx)
//		e, _ := cluster.NewExecutor(ctx, cluster.ExecutorConfig{ConnConfig: conn})
//		defer e.Close()
//		res := e.Exec(ctx, &runner.Job{Seq: 1, Command: "hostname"}, os.Stdout, os.Stderr)
//		fmt.Println(res.Exit)
//	}
//
// # How a job travels
//
// Exec publishes the job to the work-queue stream JobsStream without
// waiting for the server in between, under a message id that makes a
// repeated publish harmless. Once jobs are known to be short, several that
// are waiting at the same moment travel as one message, a batch (see
// Executor and ExecutorConfig.Batch); a batch is delivered, run, recorded
// and acknowledged as a unit, and each job's result still reaches its own
// Exec. All workers share one durable pull consumer, WorkersConsumer,
// whose settings are the first worker's; a worker pulls only as many jobs
// as it has free slots, plus a few prefetched ones while its jobs are
// short (see Worker), and heartbeats every job it holds. When a job ends
// the worker stores the result in the key-value bucket ResultsBucket,
// where the first stored result wins, and acknowledges the job only once
// the server has it. The submitter watches the bucket for its run's
// results. A job carries its timeout and termination sequence, so a
// worker stops it as runner.Local would stop it here.
//
// The wire protocol (subjects, streams, buckets, the messages' JSON and
// the order of writes) is specified once, in the comment at the top of
// protocol.go, for anyone writing a worker or a submitter in another
// language.
//
// # Runs over SSH (crew run -S)
//
// StartSSH gives a run a cluster of its own with nothing installed on the
// hosts but sshd, as GNU parallel's -S does, with the queue's guarantees
// below. It starts a Broker on this machine's loopback (a free port) with
// a fresh random token, and for every host (a Login: GNU parallel's
// [@tags/][N/][user@]host, ":" for this machine) opens one SSH connection:
// a control master (OpenSSH's ControlMaster, with its socket in a private
// directory; other ssh commands get plain sessions), made while the broker
// starts, through which runs the worker's session. On a host that lacks
// this crew build, that session says so with the host's uname -sm instead;
// crew then copies its binary there, in a session of its own, and starts
// the worker again, or refuses a host of another OS or architecture
// (ErrArch) rather than send it a binary it cannot run. A host whose
// system cannot load the binary (a cgo build on an older glibc, or on
// musl) fails with ErrCannotRun, which says to build crew with
// CGO_ENABLED=0. The copy lands in
// ${XDG_CACHE_HOME:-~/.cache}/crew/<build>/crew, mode 0700, named by the
// binary's Go build ID (hashed) and renamed into place only once the
// host's sha256sum of it agrees with crew's, so a host keeps one binary per
// crew build and never runs a partial copy; the slots default to -j, else
// the host's CPU count, which the worker counts there.
//
// The worker's session carries a reverse port forward, bound to the
// host's loopback, to the broker, and runs `crew worker --ssh` there
// (ServeSSHWorker), which reads the forwarded address and the token from
// the session's standard input: the token never appears on a command line,
// in an environment or in a log, and the broker, on loopback, refuses
// anyone without it. ":" runs a Worker in this process. Jobs then travel
// as they do for any cluster. A host that fails to come up, or goes away
// mid-run, is reported (SSHConfig.OnHost); its jobs are redelivered to the
// others after SSHConfig.AckWait; if no host is left, the run's jobs fail
// with ErrNoHosts rather than wait.
//
// No worker outlives its session: every ssh process is started with
// SIGKILL as its parent-death signal (internal/child), so it dies with
// crew even on kill -9, the session then closes, and a worker whose
// standard input ends stops its jobs and exits. Close does the same on
// purpose once the run is over: it ends the workers' input, waits for
// their sessions to close, and stops the broker. A session whose worker
// has not yet said it is ready (a host still logging in) holds no jobs
// and is ended at once, and the worker of ":" leaves its open pull
// request rather than wait for it to expire, so a short run ends as soon
// as its last result is in.
//
// # Runs live in the server
//
// Every Executor records its run in RunsBucket: a command to show, and
// (ExecutorConfig.NewRun) the run's planned jobs and an opaque spec from
// which a later attach rebuilds it; results and output stay until the
// broker's retention (BrokerConfig.Retention, default DefaultRetention)
// passes, read or not. An Executor made with ExecutorConfig.Attach serves
// that run's stored results to the runner engine again, and submits what
// is missing, so a submitter may leave (ExecutorConfig.SubmitOnly) or die
// without losing a job; crew attach is built on it. Workers register in
// WorkersBucket with the jobs they run. A Client (Dial) reads all of it:
// Runs, Run, Jobs and Workers for crew runs, crew status, crew workers and
// the broker's dashboard, and Cancel, which deletes a run's queued jobs and
// has the workers stop its running ones from any machine.
//
// # Tags and files
//
// A Worker with WorkerConfig.Tags (crew worker --tag) also runs the jobs
// of an Executor whose ExecutorConfig.Require it has all of; such jobs
// wait in a queue of their own per tag set, which no other worker pulls
// from, and ExecutorConfig.OnServed hears within seconds when no
// registered worker has the tags. ParseTags reads tags as users type
// them. A runner.Job with Files travels with its files: the Executor
// stores each input once by its content in OutputBucket, the worker runs
// the job in a fresh directory (or the job's WorkDir) holding them, and
// the files the job returns are written back on the submitter's machine
// under the same path. Retries (runner's Retries and RetryDelay) are new
// messages, so a retry may run on another worker.
//
// # Watching: metrics and the dashboard
//
// A Broker with BrokerConfig.MetricsAddr, and a Worker with
// WorkerConfig.Metrics, serve Prometheus metrics at /metrics, each from a
// registry of its own (MetricsHandler serves the same for a program's own
// HTTP server). The broker counts the cluster's jobs as their results are
// stored (crew_jobs_started_total, _succeeded_total, _failed_total,
// _retried_total, _dead_lettered_total, the crew_job_run_seconds
// histogram) and reads, per scrape, the queue (crew_queue_depth, in
// messages) and the workers' registrations (crew_workers_connected,
// crew_slots, crew_busy_slots); a worker counts its own jobs under
// crew_worker_*.
//
// A Broker with BrokerConfig.HTTPAddr serves a dashboard: one page
// embedded in the binary, and its data as JSON from the Client above:
// GET /api/overview (runs, workers, queue), GET /api/runs/{id} (a run,
// its first 500 jobs, its latest 1,000 started for the timeline),
// GET /api/events[?run=ID] (the same as server-sent events, once per
// DashboardInterval, read once however many pages are open), and
// POST /api/runs/{id}/cancel, which also wants the header X-Crew-Request
// and no foreign Origin, so another site's page cannot post it. Both follow
// HTTPConfig's rules: loopback unless credentials are set, and then every
// request presents them; HTTPS with the broker's TLS; no job's
// environment and no secret in any answer.
//
// # Guarantees
//
// A submitter that loses the server reconnects and tells
// ExecutorConfig.OnConnection; if no server is back within
// ExecutorConfig.ReconnectWindow, its jobs fail with ErrUnreachable.
//
// Execution is at least once: a worker that dies or loses its connection
// stops heartbeating, and after AckWait its jobs go to another worker,
// which runs them again. Recording is once: the first stored result wins
// and later ones are dropped, so the submitter sees one result per job.
// Jobs that must not run twice must be made idempotent by their authors.
//
// A job that ran WorkerConfig.MaxRuns times without a result (it kills
// its workers, say) is copied to DeadStream, removed from the queue, and its Exec
// returns a *DeadError. Workers count runs, not deliveries: the jobs a
// dying worker held without starting them (prefetched, or queued behind
// its slots) come back with no run counted, so a job that kills its
// workers takes none of them to the dead letters. Jobs running on the same
// worker when it dies do count a run each, since nothing tells which of
// them killed it. A batch that comes back is split into its jobs, each
// queued alone. (A consumer created by crew before runs were counted has
// a server-side MaxDeliver, and the server counts deliveries instead.)
//
// Accepted jobs survive a crash of the broker process: JetStream has
// written them before acknowledging. They survive power loss only with
// BrokerConfig.SyncAlways (crew broker --sync always); by default
// JetStream syncs to disk every 2 minutes.
//
// # Security
//
// Anyone who can publish to JobsSubject runs commands as the workers'
// user. The broker listens on loopback unless told otherwise, and refuses
// other addresses without a token or user and password (ErrAuthRequired);
// a Worker refuses a non-loopback server when no credentials are
// configured, unless WorkerConfig.Insecure is set (ErrInsecure). Give the
// broker TLS certificates when the network is not trusted.
//
// # Costs
//
// A message is two writes stored by JetStream (the message, its result)
// and three deliveries or acks (message to worker, the worker's ack,
// result to submitter), against one stored message and one ack for a bare
// work queue. Batching spreads that over the jobs of a batch: short jobs
// submitted many at a time cost a fraction of a message each. Neither
// side waits for a round trip per job: the submitter publishes
// asynchronously, workers pull in batches sized to their free slots and
// ack on the server's confirmation of the result. A worker spends no
// goroutine per job, and a job writes its output straight into memory
// files. Output is delivered when the job ends (a batch's when its last
// job ends), not streamed.
package cluster
