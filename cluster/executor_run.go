package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"crew/runner"
)

// runState is what an Executor knows of its run as the server keeps it.
type runState struct {
	// runCancelled ends when the run is cancelled (Client.Cancel).
	runCancelled context.Context
	cancelRun    context.CancelFunc
	runWatch     jetstream.KeyWatcher
	runWatched   chan struct{} // closed when the run watch's goroutine ends

	// caught closes once the results watch has delivered the results
	// stored before it started (an attach waits for that).
	caught     chan struct{}
	caughtOnce sync.Once

	// kept holds, for an attach, results that came before any Exec asked
	// for them, by job key; nil otherwise. Guarded by Executor.mu.
	kept map[string]*resultMsg
}

// openRun records a new run on the server, or finds the run to attach to.
func (e *Executor) openRun(ctx context.Context) error {
	e.runCancelled, e.cancelRun = context.WithCancel(context.Background())
	e.caught = make(chan struct{})
	if e.cfg.Attach != "" {
		rec, _, err := e.sp.record(ctx, e.cfg.Attach)
		if err != nil {
			return err
		}
		if rec.State == RunCancelled {
			return fmt.Errorf("%w: %s", ErrRunCancelled, rec.ID)
		}
		e.kept = map[string]*resultMsg{}
		return nil
	}
	e.run = nuid.Next()
	host, _ := os.Hostname()
	rec := runRecord{ID: e.run, Host: host, Submitted: time.Now().UTC(), Total: -1, State: RunActive}
	if nr := e.cfg.NewRun; nr != nil {
		rec.Command = nr.Command
		if nr.Jobs != nil {
			rec.Total = int64(len(nr.Jobs))
			data, err := json.Marshal(nr.Jobs)
			if err != nil {
				return fmt.Errorf("cluster: encode jobs: %w", err)
			}
			if _, err := e.sp.output.PutBytes(ctx, jobsObject(e.run), data); err != nil {
				return fmt.Errorf("cluster: store the run's jobs: %w", err)
			}
		}
		if nr.Spec != nil {
			if _, err := e.sp.output.PutBytes(ctx, specObject(e.run), nr.Spec); err != nil {
				return fmt.Errorf("cluster: store the run's spec: %w", err)
			}
			rec.Spec = true
		}
	}
	return e.sp.putRecord(ctx, rec, 0)
}

// follow watches the run's record, so that a cancel stops the Execs
// waiting, and for an attach waits until the results stored so far have
// arrived.
func (e *Executor) follow(ctx context.Context) error {
	w, err := e.sp.runs.Watch(context.WithoutCancel(ctx), e.run)
	if err != nil {
		return fmt.Errorf("cluster: watch run: %w", err)
	}
	e.runWatch, e.runWatched = w, make(chan struct{})
	go func() {
		defer close(e.runWatched)
		for entry := range w.Updates() {
			if entry == nil {
				continue
			}
			var rec runRecord
			if entry.Operation() != jetstream.KeyValuePut || json.Unmarshal(entry.Value(), &rec) != nil {
				continue
			}
			if rec.State == RunCancelled {
				e.cancelRun()
			}
		}
	}()
	if e.cfg.Attach == "" {
		return nil
	}
	select {
	case <-e.caught:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// unfollow stops watching the run's record.
func (e *Executor) unfollow() {
	if e.runWatch != nil {
		_ = e.runWatch.Stop()
		<-e.runWatched
	}
	e.cancelRun()
}

func (e *Executor) caughtUp() { e.caughtOnce.Do(func() { close(e.caught) }) }

// early takes an attach's result for job key k if it has come already.
func (e *Executor) early(k string) *resultMsg {
	e.mu.Lock()
	defer e.mu.Unlock()
	res := e.kept[k]
	delete(e.kept, k)
	return res
}

// keep holds, for an attach, a value nobody waits for under k: a job's
// result, or a batch's results, which go to their jobs' Execs if those
// wait under their own keys, and are kept otherwise. e.mu is held.
func (e *Executor) keep(k string, v []byte) {
	if rest := strings.TrimPrefix(k, e.run+"."); strings.HasPrefix(rest, "b") {
		var b batchResultMsg
		if json.Unmarshal(v, &b) != nil {
			return
		}
		for i := range b.Results {
			m := &b.Results[i]
			if m.Moved || m.Key == "" {
				continue
			}
			if wt, ok := e.waiters[m.Key]; ok && wt.keys == nil {
				chs := e.take(m.Key)
				for _, ch := range chs {
					ch <- answer{res: m}
				}
				e.unfinished.Add(-int64(len(chs)))
				continue
			}
			e.kept[m.Key] = m
		}
		return
	}
	if res, err := decodeResult(v); err == nil {
		e.kept[k] = res
	}
}

// submitted waits until the server has stored p's job (SubmitOnly).
func (e *Executor) submitted(ctx context.Context, job *runner.Job, p *pending) runner.Result {
	fail := func(err error) runner.Result {
		return runner.Result{Seq: job.Seq, Exit: -1, Err: err}
	}
	var sm *sentMsg
	select {
	case sm = <-p.sent:
	case a := <-p.ch:
		if a.err == nil {
			return runner.Result{Seq: job.Seq} // its result came first
		}
		return fail(fmt.Errorf("cluster: job %d: %w", job.Seq, a.err))
	case <-ctx.Done():
		p.dropped.Store(true)
		return fail(ctx.Err())
	case <-e.broken.Done():
		return fail(e.unreachable())
	}
	select {
	case <-sm.acked:
		return runner.Result{Seq: job.Seq}
	case a := <-p.ch:
		if a.err != nil {
			return fail(fmt.Errorf("cluster: job %d: %w", job.Seq, a.err))
		}
		return runner.Result{Seq: job.Seq} // its result came first
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-e.broken.Done():
		return fail(e.unreachable())
	}
}

// Finish records that the run ended with exit status exit, as the runner
// engine decided it (crew run's, or crew attach's exit status), and counts
// its jobs once for Client.Runs. A cancelled run stays cancelled.
func (e *Executor) Finish(ctx context.Context, exit int) error {
	for {
		rec, rev, err := e.sp.record(ctx, e.run)
		if err != nil {
			return err
		}
		results, err := runResults(ctx, e.sp.results, e.run)
		if err != nil {
			return err
		}
		rec.Done, rec.Failed = tally(results)
		if rec.State == RunActive {
			rec.State = RunDone
		}
		if rec.Ended.IsZero() {
			rec.Ended = time.Now().UTC()
		}
		if rec.Total < 0 {
			rec.Total = int64(len(results))
		}
		rec.Exit = &exit
		if err := e.sp.putRecord(ctx, rec, rev); !errors.Is(err, jetstream.ErrKeyExists) {
			return err
		}
	}
}

// Cancelled returns a channel closed when the run is cancelled (by
// Cancel, or by anyone through Client.Cancel), or the Executor closed.
func (e *Executor) Cancelled() <-chan struct{} { return e.runCancelled.Done() }

// Cancel cancels the Executor's run as Client.Cancel does, with its
// errors, and returns the run as it was before.
func (e *Executor) Cancel(ctx context.Context) (RunInfo, error) {
	return (&Client{nc: e.nc, sp: e.sp}).Cancel(ctx, e.run)
}
