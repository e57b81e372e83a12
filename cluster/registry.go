package cluster

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nuid"
)

// registry is a worker's registration in WorkersBucket: who it is and
// which jobs it runs, refreshed every heartbeatEvery and within
// registerEvery of a job starting or ending, so crew workers, crew status
// and the dashboard see it.
type registry struct {
	id      string
	started time.Time
	mu      sync.Mutex
	running map[string]time.Time // job key -> start
	changed bool
	// cancelled are the runs cancelled while this worker ran.
	cancelled map[string]bool
}

// cancel notes that run was cancelled.
func (r *registry) cancel(run string) {
	r.mu.Lock()
	if r.cancelled == nil {
		r.cancelled = map[string]bool{}
	}
	r.cancelled[run] = true
	r.mu.Unlock()
}

// isCancelled reports whether the run of the job or batch key was
// cancelled.
func (r *registry) isCancelled(key string) bool {
	run, _, _ := strings.Cut(key, ".")
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cancelled[run]
}

// jobStarted and jobEnded keep the registry's running jobs.
func (r *registry) jobStarted(key string) {
	r.mu.Lock()
	if r.running == nil {
		r.running = map[string]time.Time{}
	}
	r.running[key] = time.Now().UTC()
	r.changed = true
	r.mu.Unlock()
}

func (r *registry) jobEnded(key string) {
	r.mu.Lock()
	delete(r.running, key)
	r.changed = true
	r.mu.Unlock()
}

// registered writes the worker's first registration, before it pulls any
// job: a write while its first jobs start was seen to slow their start (a
// fork under -race) enough to upset the run time that sizes batches.
func (w *Worker) registered() {
	r := &w.reg
	r.id, r.started = nuid.Next(), time.Now().UTC()
	w.putRegistration()
}

// register keeps the worker's registration fresh until done closes, then
// deletes it.
func (w *Worker) register(done <-chan struct{}) {
	r := &w.reg
	t := time.NewTicker(registerEvery)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-t.C:
		case <-done:
			ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
			_ = w.sp.workers.Delete(ctx, r.id)
			cancel()
			return
		}
		r.mu.Lock()
		due := r.changed || time.Since(last) >= heartbeatEvery
		r.changed = false
		r.mu.Unlock()
		if due && w.putRegistration() {
			last = time.Now()
		}
	}
}

// putRegistration writes the worker's registration as it is now.
func (w *Worker) putRegistration() bool {
	r := &w.reg
	r.mu.Lock()
	rec := workerRecord{
		ID: r.id, Host: w.cfg.Host, Slots: w.slots, Busy: len(r.running),
		Tags: w.cfg.Tags, Version: w.cfg.Version, Started: r.started, Seen: time.Now().UTC(),
	}
	for _, k := range slices.Sorted(maps.Keys(r.running)) {
		rec.Running = append(rec.Running, RunningJob{Key: k, Start: r.running[k]})
	}
	r.mu.Unlock()
	data, err := json.Marshal(&rec)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	_, err = w.sp.workers.Put(ctx, r.id, data)
	return err == nil
}

// cancelsRun reports whether a cancel message names a whole run (a run
// id has no dots) rather than one job.
func cancelsRun(k string) bool { return !strings.Contains(k, ".") }
