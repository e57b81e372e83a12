package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Decoders reached by the fuzz tests.
var (
	DecodeJob    = func(b []byte) error { _, _, _, err := decodeJobs(b); return err }
	DecodeResult = func(b []byte) error { _, err := decodeResult(b); return err }
	UnpackOutput = unpackOutput
	PackOutput   = packOutput
	LoopbackOnly = loopbackOnly
	BinaryID     = binaryID
	ParseJobKey  = parseJobKey
)

// AssumeRuntime sets the run time e has learned for jobs, as if every
// job so far had taken d.
func AssumeRuntime(e *Executor, d time.Duration) {
	e.avgRuntime.Store(int64(d))
	e.runtimes.Store(8)
}

// Unfinished is how many jobs e has sent and still expects a result for.
func Unfinished(e *Executor) int64 { return e.unfinished.Load() }

// paused holds the Executors that Pause holds back.
var paused sync.Map // *Executor → struct{}

func init() {
	testHookHold = func(e *Executor) bool {
		_, ok := paused.Load(e)
		return ok
	}
}

// Pause stops e sending jobs until the returned function is called, so a
// test can queue jobs that then leave in full batches.
func Pause(e *Executor) (resume func()) {
	paused.Store(e, struct{}{})
	return func() {
		paused.Delete(e)
		e.wake()
	}
}

// Queued is how many jobs wait in e's queue, not yet sent.
func Queued(e *Executor) int {
	e.qmu.Lock()
	defer e.qmu.Unlock()
	return len(e.queue)
}

// AddFinishedRuns stores n finished runs of jobs jobs each, as a
// submitter's Finish leaves them, for the benchmarks of Client.Runs.
func AddFinishedRuns(ctx context.Context, c *Client, n, jobs int) error {
	exit := 0
	for i := range n {
		at := time.Now().Add(-time.Duration(n-i) * time.Minute).UTC()
		rec := runRecord{
			ID: fmt.Sprintf("BENCH%017d", i), Command: "echo {}", Host: "h", Submitted: at,
			Total: int64(jobs), State: RunDone, Ended: at.Add(time.Second), Done: int64(jobs), Exit: &exit, Spec: true,
		}
		if err := c.sp.putRecord(ctx, rec, 0); err != nil {
			return err
		}
	}
	return nil
}

// DashboardDetail cuts jobs down to what a run's dashboard page gets:
// the table's rows, the job count, and the timeline's bars.
func DashboardDetail(jobs []JobInfo) (rows []JobInfo, count int, bars []JobInfo) {
	d := detail(&RunInfo{}, jobs)
	return d.Jobs, d.JobCount, d.Timeline
}

// OpenPulls is how many pull requests wait on b's shared consumer.
func OpenPulls(b *Broker) int {
	nc, err := nats.Connect(b.URL())
	if err != nil {
		return 0
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return 0
	}
	c, err := js.Consumer(context.Background(), JobsStream, WorkersConsumer)
	if err != nil {
		return 0
	}
	info, err := c.Info(context.Background())
	if err != nil {
		return 0
	}
	return info.NumWaiting
}

// SetDrainTimeout sets how long SSHCluster.Close waits for a host's
// worker to exit, until the test ends. Not for parallel tests.
func SetDrainTimeout(t testing.TB, d time.Duration) {
	old := drainTimeout
	drainTimeout = d
	t.Cleanup(func() { drainTimeout = old })
}

// SetPullWait sets how long a worker's pull request waits for jobs, until
// the test ends. Not for parallel tests.
func SetPullWait(t testing.TB, d time.Duration) {
	old := pullWait
	pullWait = d
	t.Cleanup(func() { pullWait = old })
}

// MakeEphemeral marks cfg as a worker of a broker that ends with its run,
// as an SSH run's workers are.
func MakeEphemeral(cfg *WorkerConfig) { cfg.ephemeral = true }
