package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"crew/cluster"
	"crew/runner"
)

// TestServerLost: a submitter whose broker dies is told so, and either
// gets its result from the broker restarted on the same store within the
// reconnect window, or fails with ErrUnreachable when the window passes,
// instead of waiting forever.
func TestServerLost(t *testing.T) {
	cases := []struct {
		name    string
		restart bool
	}{
		{"gone", false},
		{"back", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			store := t.TempDir()
			listen := "127.0.0.1:" + strconv.Itoa(freePort(t))
			env := []string{"CREW_CLUSTER_TEST_STORE=" + store, "CREW_CLUSTER_TEST_LISTEN=" + listen}
			b := startHelper(t, "broker", env...)
			url := <-b.lines
			var mu sync.Mutex
			var events []bool
			window := 3 * time.Second
			if c.restart {
				window = 30 * time.Second
			}
			e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{
				ConnConfig: cluster.ConnConfig{URL: url}, ReconnectWindow: window,
				OnConnection: func(lost bool, u string) {
					mu.Lock()
					events = append(events, lost)
					mu.Unlock()
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			res := make(chan runner.Result, 1)
			var out bytes.Buffer
			go func() { res <- e.Exec(ctx, &runner.Job{Seq: 1, Command: "echo hi"}, &out, &bytes.Buffer{}) }()
			waitQueued(t, url, 1)
			b.kill()
			<-b.done
			if c.restart {
				startHelper(t, "broker", env...)
				startWorker(t, url, 1)
			}
			var r runner.Result
			select {
			case r = <-res:
			case <-ctx.Done():
				t.Fatal("Exec still waiting after 40s")
			}
			mu.Lock()
			got := append([]bool(nil), events...)
			mu.Unlock()
			if c.restart {
				if r.Err != nil || r.Exit != 0 || out.String() != "hi\n" {
					t.Errorf("result %+v stdout %q", r, out.String())
				}
				if len(got) < 2 || !got[0] || got[len(got)-1] {
					t.Errorf("connection events %v, want lost then back", got)
				}
				return
			}
			if !errors.Is(r.Err, cluster.ErrUnreachable) || r.Exit != -1 {
				t.Errorf("result %+v, want ErrUnreachable", r)
			}
			if len(got) != 1 || !got[0] {
				t.Errorf("connection events %v, want one loss", got)
			}
			// Later jobs fail at once.
			if r := e.Exec(ctx, &runner.Job{Seq: 2, Command: "true"}, &out, &out); !errors.Is(r.Err, cluster.ErrUnreachable) {
				t.Errorf("Exec after giving up: %+v", r)
			}
		})
	}
}
