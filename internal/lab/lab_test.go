package lab_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"crew/internal/lab"
	"crew/internal/testproc"
	"crew/proc"
)

func TestMain(m *testing.M) {
	proc.Main() // this test binary is also the experiments' worker process
	// Worker processes built with -race sleep a second on their way out;
	// the experiments close dozens of pools.
	os.Setenv("GORACE", testproc.QuickRaceExit(os.Getenv("GORACE")))
	goleak.VerifyTestMain(m)
}

// tiny are sizes small enough for every experiment to run in a test under
// the race detector, keyed as crew lab --set takes them.
var tiny = map[string]string{
	"race.goroutines": "8", "race.n": "2000", "race.trials": "2",
	"lock.goroutines": "8", "lock.n": "2000",
	"queue.work": "100us",
	"share.n":    "5000", "share.nmutex": "50",
	"semaphore.threads": "4", "semaphore.rounds": "2",
	// Long enough for three holders to meet inside on a loaded machine;
	// with 1ms, semaphore(3) was once seen letting in only 2.
	"semaphore.hold": "20ms",
	"gil.n":          "400000", "gil.rounds": "1", "gil.reps": "1", "gil.switch": "1ms", "gil.ceiling": "5ms",
	"cpu-vs-io.tasks": "4", "cpu-vs-io.items": "20000", "cpu-vs-io.rounds": "1", "cpu-vs-io.trips": "2",
	"cpu-vs-io.delay": "1ms", "cpu-vs-io.maxworkers": "2", "cpu-vs-io.reps": "1", "cpu-vs-io.ceiling": "5ms",
	"ipc.volume": "65536", "ipc.maxmsgs": "20",
	"spawn.goroutines": "100", "spawn.threads": "4", "spawn.processes": "1",
	"crash.tasks": "8", "crash.work": "1ms",
	"falseshare.n": "100000", "falseshare.natomic": "10000", "falseshare.rounds": "2", "falseshare.maxrounds": "4", "falseshare.ceiling": "1ms",
	"switch.trips": "2000", "switch.ktrips": "100", "switch.xtrips": "50", "switch.reps": "2", "switch.pairs": "3", "memory.goroutines": "3",
	"join.items":     "4",
	"server.clients": "4", "server.load": "10ms", "server.reps": "2", "server.cpu": "200us", "server.io": "400us", "server.ceiling": "5ms",
}

// tinyFor keeps the tiny settings of one experiment: Run refuses settings
// for experiments it was not asked to run.
func tinyFor(name string) map[string]string {
	m := map[string]string{}
	for k, v := range tiny {
		if strings.HasPrefix(k, name+".") {
			m[k] = v
		}
	}
	return m
}

func TestExperimentsTiny(t *testing.T) {
	for _, e := range lab.Experiments() {
		t.Run(e.Name, func(t *testing.T) {
			procs := runtime.GOMAXPROCS(0)
			res, err := lab.RunOne(context.Background(), e, lab.Config{Params: tiny, Workers: 2})
			if err != nil {
				t.Fatal(err)
			}
			if runtime.GOMAXPROCS(0) != procs {
				t.Errorf("GOMAXPROCS left at %d, was %d", runtime.GOMAXPROCS(0), procs)
			}
			if res.Name != e.Name || res.Claim != e.Claim || res.Verdict == "" || res.Elapsed <= 0 {
				t.Errorf("result %q: claim %q, verdict %q, elapsed %v", res.Name, res.Claim, res.Verdict, res.Elapsed)
			}
			if e.Name == "race" && lab.RaceDetector {
				if !strings.Contains(res.Verdict, "race-detector build") {
					t.Errorf("race under -race: verdict %q", res.Verdict)
				}
				return
			}
			if len(res.Rows) == 0 {
				t.Fatal("no rows")
			}
			for i, row := range res.Rows {
				missing := 0
				for _, c := range res.Columns {
					if _, ok := row[c]; !ok {
						missing++
					}
				}
				if missing == len(res.Columns) {
					t.Errorf("row %d has none of the columns %v: %v", i, res.Columns, row)
				}
			}
			for _, c := range res.Charts {
				if !hasColumn(res.Rows, c.X) || !hasColumn(res.Rows, c.Y) {
					t.Errorf("chart %q plots %s against %s, which the rows lack", c.Title, c.Y, c.X)
				}
			}
			t.Logf("holds=%v: %s", res.Holds, res.Verdict)
		})
	}
}

func hasColumn(rows []lab.Row, key string) bool {
	for _, r := range rows {
		if _, ok := r[key]; ok {
			return true
		}
	}
	return false
}

// TestExactModes checks the experiments whose outcome does not depend on
// timing: at any size they must hold.
func TestExactModes(t *testing.T) {
	for _, name := range []string{"lock", "queue", "share", "semaphore", "crash", "memory"} {
		t.Run(name, func(t *testing.T) {
			rep, err := lab.Run(context.Background(), lab.Config{Params: tinyFor(name), Workers: 2}, name)
			if err != nil {
				t.Fatal(err)
			}
			if r := rep.Experiments[0]; !r.Holds {
				t.Errorf("%s does not hold: %s", name, r.Verdict)
			}
		})
	}
}

func TestBadParam(t *testing.T) {
	_, err := lab.Run(context.Background(), lab.Config{Params: map[string]string{"lock.n": "-3"}}, "lock")
	if err == nil || !strings.Contains(err.Error(), "lock.n") && !strings.Contains(err.Error(), "n=") {
		t.Fatalf("err = %v, want a complaint about n", err)
	}
}

func TestLookupUnknown(t *testing.T) {
	_, err := lab.Run(context.Background(), lab.Config{}, "lock", "nope")
	if !errors.Is(err, lab.ErrUnknown) {
		t.Fatalf("err = %v, want ErrUnknown", err)
	}
	var ue *lab.UnknownError
	if !errors.As(err, &ue) || ue.Name != "nope" || len(ue.Known) != len(lab.Experiments()) {
		t.Fatalf("err = %#v", err)
	}
	if !strings.Contains(err.Error(), "cpu-vs-io") {
		t.Errorf("error %q does not list the names", err)
	}
}

func TestProgress(t *testing.T) {
	var b strings.Builder
	var steps []string
	step := func(name string, i, n int) { steps = append(steps, fmt.Sprintf("%s %d/%d", name, i, n)) }
	params := map[string]string{"queue.work": "100us", "crash.tasks": "4", "crash.work": "1ms"}
	if _, err := lab.Run(context.Background(), lab.Config{Params: params, Progress: &b, Step: step}, "queue", "crash"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "lab: queue: running") || !strings.Contains(b.String(), "lab: queue: done") {
		t.Errorf("progress %q", b.String())
	}
	if want := []string{"queue 0/2", "crash 1/2", " 2/2"}; !slices.Equal(steps, want) {
		t.Errorf("steps %q, want %q", steps, want)
	}
	_ = os.Stderr
}
