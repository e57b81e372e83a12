package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"crew/internal/report"
	"crew/runner"
)

// runReport collects what crew run --report FILE.html draws: every job's
// start, run time, slot or worker and outcome. Its file is created before
// the run, so a path that cannot be written is an error before any job
// runs rather than after all of them.
type runReport struct {
	f   *os.File
	mu  sync.Mutex
	run report.Run
}

var _ runner.Progress = (*runReport)(nil)

func newRunReport(path string, opts *runOptions) (*runReport, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--report: %w", err)
	}
	return &runReport{f: f, run: report.Run{
		Command: strings.Join(opts.command, " "),
		Start:   time.Now(),
		Slots:   opts.jobs,
	}}, nil
}

func (r *runReport) Total(int64)         {}
func (r *runReport) Started(*runner.Job) {}

func (r *runReport) Finished(j *runner.Job, res runner.Result) {
	if res.Stopped && res.Runtime == 0 {
		return // stopped before it ran (a cluster job still queued)
	}
	lane := strconv.Itoa(j.Slot)
	if res.Host != "" && res.Host != ":" {
		// A cluster or ssh worker: its name says more than crew run's
		// own slot number, and its jobs may overlap.
		lane = res.Host
	}
	r.mu.Lock()
	r.run.Jobs = append(r.run.Jobs, report.RunJob{
		Seq: j.Seq, Lane: lane, Start: res.Start, Runtime: res.Runtime,
		Failed: res.Err != nil || res.Exit != 0 || res.Signal != 0,
		Exit:   res.Exit, Signal: res.Signal, Command: j.Command,
	})
	r.mu.Unlock()
}

// write finishes the page once the run is over, whatever its outcome.
func (r *runReport) write(sum runner.Summary) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.run.End = time.Now()
	r.run.Skipped = sum.Skipped
	for _, j := range r.run.Jobs {
		if _, err := strconv.Atoi(j.Lane); err != nil {
			r.run.LaneName = "worker"
			r.run.Slots = 0 // the workers' own slots are not known here
			break
		}
	}
	err := report.RunHTML(r.f, &r.run)
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	return nil
}
