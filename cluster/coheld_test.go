package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"crew/cluster"
	"crew/internal/natstest"
	"crew/runner"
)

// TestHeldBesideKiller: a worker holds a job that kills it beside others
// that it had not started (prefetched). Only the killer is dead-lettered:
// a job counts towards MaxDeliver only when it was started, so the others
// run once the killer is gone, however often they came back with it.
func TestHeldBesideKiller(t *testing.T) {
	s := natstest.Start(t)
	e := newExecutor(t, s.URL)
	env := []string{"CREW_CLUSTER_TEST_MAXDELIVER=3"}
	const n = 5
	jobs := make([]*runner.Job, n)
	jobs[0] = &runner.Job{Seq: 1, Command: "crash"}
	for i := 1; i < n; i++ {
		jobs[i] = &runner.Job{Seq: int64(i + 1), Command: fmt.Sprintf("echo ok %d", i+1)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// All jobs are queued before the first worker pulls, so it holds the
	// killer and the others at once (one running, four prefetched).
	res := make(chan []outcome, 1)
	go func() { res <- execAll(ctx, e, jobs) }()
	waitQueued(t, s.URL, n)
	w := startWorker(t, s.URL, 1, env...)
	crashes := 0
	var got []outcome
wait:
	for {
		select {
		case got = <-res:
			break wait
		case <-w.done:
			crashes++
			w = startWorker(t, s.URL, 1, env...)
		}
	}
	if !errors.Is(got[0].res.Err, cluster.ErrDead) {
		t.Errorf("killer: %+v, want ErrDead", got[0].res)
	}
	for i, g := range got[1:] {
		if g.res.Err != nil || g.res.Exit != 0 || g.stdout != fmt.Sprintf("ok %d\n", i+2) {
			t.Errorf("job %d, held beside the killer: %+v stdout %q", i+2, g.res, g.stdout)
		}
	}
	t.Logf("%d workers killed", crashes)
}
