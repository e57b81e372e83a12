package lab_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestRaceLosesUpdates builds crew without -race (this test binary may be a
// -race build, which leaves the racy loop out) and checks that crew lab race
// reports lost updates on this machine.
func TestRaceLosesUpdates(t *testing.T) {
	if testing.Short() {
		t.Skip("builds crew")
	}
	if runtime.NumCPU() < 2 {
		t.Skip("lost updates need two CPUs to show reliably")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build crew with")
	}
	bin := filepath.Join(t.TempDir(), "crew")
	build := exec.Command(gobin, "build", "-o", bin, "crew/cmd/crew")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// A machine busy with other work (CI runs test packages side by side)
	// may run both threads on one core for a whole trial; trials ten times
	// the quick size and a few more rounds give the race more chances.
	for round := 1; ; round++ {
		lost, holds := raceRound(t, bin)
		t.Logf("round %d: lost %d updates over 10 trials", round, lost)
		if lost > 0 && holds {
			return
		}
		if round == 4 {
			t.Fatalf("no lost updates in 4 x 10 trials of 50 x 2,000,000 unsynchronised increments (holds=%v)", holds)
		}
	}
}

func raceRound(t *testing.T, bin string) (int64, bool) {
	out, err := exec.Command(bin, "lab", "-q", "--json", "--set", "race.trials=10", "--set", "race.n=2000000", "race").Output()
	if err != nil {
		t.Fatalf("crew lab race: %v", err)
	}
	var rep struct {
		Experiments []struct {
			Name  string
			Holds bool
			Rows  []struct {
				Mode     string
				Expected int64
				Actual   int64
				Lost     int64
			}
		}
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("crew lab race --json: %v\n%s", err, out)
	}
	if len(rep.Experiments) != 1 || len(rep.Experiments[0].Rows) != 10 {
		t.Fatalf("want one experiment with 10 rows, got %s", out)
	}
	var lost int64
	for _, r := range rep.Experiments[0].Rows {
		if r.Lost != r.Expected-r.Actual || r.Actual > r.Expected {
			t.Errorf("row %+v: inconsistent figures", r)
		}
		lost += r.Lost
	}
	return lost, rep.Experiments[0].Holds
}
