package runner_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"crew/runner"
)

// TestRetryDelay: a failing job's tries are spaced by --retry-delay,
// doubling with jitter (each wait at least half its nominal value), and
// without it they follow one another at once.
func TestRetryDelay(t *testing.T) {
	const d = 40 * time.Millisecond
	for _, c := range []struct {
		name  string
		delay time.Duration
		// least gaps between tries 1-2, 2-3, 3-4: half of d, 2d, 4d
		least []time.Duration
	}{
		{"doubling", d, []time.Duration{d / 2, d, 2 * d}},
		{"none", 0, []time.Duration{0, 0, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			log := filepath.Join(t.TempDir(), "tries")
			_, err := runner.Run(context.Background(), runner.Config{
				Command:    []string{"date +%s%N >> " + log + "; false # {}"},
				Inputs:     []runner.Input{{Values: []string{"x"}}},
				Jobs:       1,
				Retries:    4,
				RetryDelay: c.delay,
				Executor:   runner.Local{},
			})
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			var at []time.Time
			for _, l := range strings.Fields(string(data)) {
				ns, _ := strconv.ParseInt(l, 10, 64)
				at = append(at, time.Unix(0, ns))
			}
			if len(at) != 4 {
				t.Fatalf("%d tries, want 4", len(at))
			}
			var total time.Duration
			for i, least := range c.least {
				gap := at[i+1].Sub(at[i])
				total += gap
				if gap < least {
					t.Errorf("try %d came %v after try %d, want at least %v", i+2, gap, i+1, least)
				}
			}
			if c.delay == 0 && total > time.Second {
				t.Errorf("tries without a delay took %v", total)
			}
		})
	}
}

// TestRetryDelayInterrupt: cancelling the run while a job waits for its
// next try ends the run at once, without the try.
func TestRetryDelayInterrupt(t *testing.T) {
	log := filepath.Join(t.TempDir(), "tries")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := runner.Run(ctx, runner.Config{
		Command:    []string{"echo >> " + log + "; false # {}"},
		Inputs:     []runner.Input{{Values: []string{"x"}}},
		Jobs:       1,
		Retries:    3,
		RetryDelay: time.Minute,
		Executor:   runner.Local{},
	})
	if !errors.Is(err, runner.ErrInterrupted) {
		t.Errorf("Run = %v, want ErrInterrupted", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the interrupted run took %v", d)
	}
	if data, _ := os.ReadFile(log); strings.Count(string(data), "\n") != 1 {
		t.Errorf("%d tries, want 1", strings.Count(string(data), "\n"))
	}
}

// TestLocalFiles: on this machine a job runs in its --workdir (expanded
// per job; "..." a fresh directory that --cleanup removes), and
// --transferfile and --return leave the files where they are.
func TestLocalFiles(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"a", "b"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func(cfg runner.Config) string {
		t.Helper()
		var out strings.Builder
		cfg.Inputs = []runner.Input{{Values: []string{"a", "b"}}}
		cfg.Jobs, cfg.KeepOrder, cfg.Executor, cfg.Stdout = 1, true, runner.Local{}, &out
		sum, err := runner.Run(context.Background(), cfg)
		if err != nil || sum.Failed != 0 {
			t.Fatalf("Run: %v, %d failed", err, sum.Failed)
		}
		return out.String()
	}
	if got, want := run(runner.Config{Command: []string{"pwd"}, WorkDir: dir + "/{}"}),
		dir+"/a\n"+dir+"/b\n"; got != want {
		t.Errorf("--workdir DIR/{}: jobs ran in\n%swant\n%s", got, want)
	}
	for _, cleanup := range []bool{false, true} {
		got := run(runner.Config{Command: []string{"pwd; touch made # {}"}, WorkDir: runner.UniqueWorkDir, Cleanup: cleanup})
		dirs := strings.Fields(got)
		if len(dirs) != 2 || dirs[0] == dirs[1] || dirs[0] == dir {
			t.Fatalf("--workdir ...: jobs ran in %q, want two fresh directories", dirs)
		}
		for _, d := range dirs {
			_, err := os.Stat(filepath.Join(d, "made"))
			if cleanup != os.IsNotExist(err) {
				t.Errorf("cleanup %v: %s/made: %v", cleanup, d, err)
			}
			if !cleanup {
				os.RemoveAll(d)
			}
		}
	}
	// Locally the files are already where the job looks for them.
	in := filepath.Join(dir, "a", "in")
	if err := os.WriteFile(in, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(runner.Config{Command: []string{"cat {}/in > {}/out || touch {}/out"}, WorkDir: dir,
		TransferFiles: []string{"{}/in"}, ReturnFiles: []string{"{}/out"}, Cleanup: true})
	if b, err := os.ReadFile(filepath.Join(dir, "a", "out")); err != nil || string(b) != "data" {
		t.Errorf("a/out = %q, %v; want the job's output left in place", b, err)
	}
	if _, err := os.Stat(in); err != nil {
		t.Errorf("--cleanup removed a file on this machine: %v", err)
	}
}

// TestFilesBadInput: an empty file name or a negative retry delay is a
// usage error before any job runs.
func TestFilesBadInput(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  runner.Config
		want error
	}{
		{"empty transfer", runner.Config{TransferFiles: []string{""}}, runner.ErrBadFileName},
		{"empty return", runner.Config{ReturnFiles: []string{"x", ""}}, runner.ErrBadFileName},
		{"empty basefile", runner.Config{BaseFiles: []string{""}}, runner.ErrBadFileName},
		{"negative delay", runner.Config{RetryDelay: -time.Second}, runner.ErrBadRetryDelay},
	} {
		t.Run(c.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "ran")
			c.cfg.Command = []string{"touch " + marker + " # {}"}
			c.cfg.Inputs = []runner.Input{{Values: []string{"x"}}}
			c.cfg.Jobs, c.cfg.Executor = 1, runner.Local{}
			_, err := runner.Run(context.Background(), c.cfg)
			var ue *runner.UsageError
			if !errors.Is(err, c.want) || !errors.As(err, &ue) {
				t.Errorf("Run = %v, want a UsageError wrapping %v", err, c.want)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("a job ran")
			}
		})
	}
}
