package cluster_test

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"crew/cluster"
	"crew/internal/wait"
	"crew/runner"
)

var screenshot = flag.String("screenshot", "", "TestDashboardBrowser saves its screenshot of a run's page here too (the README shows ../docs/dashboard.png)")

// chromium returns the path of Debian's chromium, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (apt-get install chromium; .ci/run does): the dashboard's browser test needs a real browser")
	return ""
}

// browser starts a headless chromium that sends the broker's credentials
// with every request, and returns its context.
func browser(t *testing.T, user, password string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-gpu", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// text reads the text of the page's element sel, "" when it is missing.
func text(ctx context.Context, sel string) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel)))
	if err != nil {
		return ""
	}
	return s
}

// submit starts a run of n jobs through e, recorded with its plan, and
// returns the run's id and a channel that yields its summary.
func submit(t *testing.T, url, token, command string, n int, joblog string) (string, <-chan runner.Summary) {
	t.Helper()
	var plan []cluster.PlannedJob
	var inputs []string
	for i := 1; i <= n; i++ {
		inputs = append(inputs, strconv.Itoa(i))
		plan = append(plan, cluster.PlannedJob{Seq: int64(i), Input: strconv.Itoa(i), Command: strings.ReplaceAll(command, "{}", strconv.Itoa(i))})
	}
	e, err := cluster.NewExecutor(context.Background(), cluster.ExecutorConfig{
		ConnConfig: cluster.ConnConfig{URL: url, Credentials: cluster.Credentials{Token: token}},
		NewRun:     &cluster.NewRun{Command: command, Jobs: plan},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	done := make(chan runner.Summary, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		sum, _ := runner.Run(ctx, runner.Config{
			Command: []string{command}, Inputs: []runner.Input{{Values: inputs}},
			Jobs: 2 * n, Executor: e, JobLog: joblog,
		})
		_ = e.Finish(ctx, sum.ExitStatus())
		done <- sum
	}()
	return e.RunID(), done
}

// TestDashboardBrowser drives headless Chromium against a broker with
// two worker processes: the counts on a run's page reach the run's
// totals (checked against its joblog), its timeline shows every job on
// the workers that ran it, the overview lists the run and both workers,
// and the cancel button (behind the broker's token) cancels a running
// run: its running jobs stop, its queued ones never start.
func TestDashboardBrowser(t *testing.T) {
	const token = "s3cret-dashboard-token"
	b, err := cluster.StartBroker(cluster.BrokerConfig{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ctx := browser(t, "crew", token)
	startWorker(t, b.URL(), 2, "CREW_NATS_TOKEN="+token)
	startWorker(t, b.URL(), 2, "CREW_NATS_TOKEN="+token)

	// A run of short jobs, every fifth failing.
	const n = 24
	joblog := filepath.Join(t.TempDir(), "joblog")
	id, done := submit(t, b.URL(), token, "sleep 0.1; test $(({} % 5)) -ne 0", n, joblog)
	if err := chromedp.Do(ctx, chromedp.Navigate(b.DashboardURL()+"#/run/"+id)); err != nil {
		t.Fatal(err)
	}
	sum := <-done
	ok, failed := joblogCounts(t, joblog)
	if ok+failed != n || int64(failed) != sum.Failed {
		t.Fatalf("joblog: %d ok, %d failed; summary %+v", ok, failed, sum)
	}
	want := map[string]string{"#run-total": strconv.Itoa(n), "#run-done": strconv.Itoa(ok), "#run-failed": strconv.Itoa(failed),
		"#run-running": "0", "#run-queued": "0"}
	got := map[string]string{}
	wait.Within(t, 15*time.Second, "the run's page to show the run's totals", func() bool {
		for sel, v := range want {
			if got[sel] = text(ctx, sel); got[sel] != v {
				return false
			}
		}
		return true
	})
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#timeline rect.job").length`))
	if err != nil || bars != n {
		t.Errorf("timeline shows %d jobs (%v), want %d", bars, err, n)
	}
	lanes, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#timeline text.lane")].map(e => e.textContent).join(",")`))
	if strings.Count(lanes, "w") < 2 {
		t.Errorf("timeline lanes %q, want both workers", lanes)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG, not JPEG
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "dashboard.png")
	if *screenshot != "" {
		shot = *screenshot
	}
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the run's page: %s", shot)

	// The overview lists the run as done, and both workers.
	if err := chromedp.Do(ctx, chromedp.Navigate(b.DashboardURL()+"#/")); err != nil {
		t.Fatal(err)
	}
	wait.Within(t, 10*time.Second, "the overview to list the run and both workers", func() bool {
		return text(ctx, "#ov-workers") == "2" && strings.Contains(text(ctx, `#runs tr[data-run="`+id+`"]`), "done")
	})
	if *screenshot != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(strings.TrimSuffix(*screenshot, ".png")+"-runs.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A run of long jobs, cancelled from its page: two clicks.
	id2, done2 := submit(t, b.URL(), token, "sleep 30 # {}", 10, "")
	if err := chromedp.Do(ctx, chromedp.Navigate(b.DashboardURL()+"#/run/"+id2)); err != nil {
		t.Fatal(err)
	}
	wait.Within(t, 15*time.Second, "the run's page to show its four slots' jobs running", func() bool {
		return text(ctx, "#run-running") == "4"
	})
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Click("#cancel"), chromedp.Click("#cancel")); err != nil {
		t.Fatal(err)
	}
	wait.Within(t, 10*time.Second, "the page to say the run was cancelled", func() bool {
		return strings.Contains(text(ctx, "#message"), "Cancelled") || text(ctx, ".runhead .badge") == "cancelled"
	})
	select {
	case <-done2:
	case <-time.After(15 * time.Second):
		t.Fatal("the cancelled run's jobs still run 15 s after the cancel")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("cancel took %v", d)
	}
	c, err := cluster.Dial(context.Background(), cluster.ConnConfig{URL: b.URL(), Credentials: cluster.Credentials{Token: token}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.Run(context.Background(), id2)
	// No job of 30 s ran to its end: the running ones were stopped, the
	// queued ones (and those the workers held ready) never ran.
	if err != nil || info.State != cluster.RunCancelled || info.Done != 0 {
		t.Errorf("after the cancel button: %+v, %v; want cancelled with no job done", info, err)
	}
	wait.Within(t, 10*time.Second, "the page to show the run cancelled", func() bool {
		return text(ctx, ".runhead .badge") == "cancelled"
	})
}
