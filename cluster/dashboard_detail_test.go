package cluster_test

import (
	"testing"
	"time"

	"crew/cluster"
)

// TestDashboardDetail: a run's page gets its first 500 jobs for the
// table and its latest 1,000 started ones for the timeline, however
// large the run.
func TestDashboardDetail(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name                    string
		jobs, started           int
		rows, bars, firstBarSeq int
	}{
		{"empty", 0, 0, 0, 0, 0},
		{"small, half started", 10, 5, 10, 5, 1},
		{"large, none started", 20000, 0, 500, 0, 0},
		{"large, all started", 20000, 20000, 500, 1000, 19001},
		{"large, some started", 20000, 1500, 500, 1000, 501},
	} {
		jobs := make([]cluster.JobInfo, c.jobs)
		for i := range jobs {
			jobs[i] = cluster.JobInfo{Seq: int64(i + 1), State: cluster.JobQueued}
			if i < c.started {
				jobs[i].State, jobs[i].Start = cluster.JobDone, t0.Add(time.Duration(i)*time.Millisecond)
			}
		}
		rows, count, bars := cluster.DashboardDetail(jobs)
		if len(rows) != c.rows || count != c.jobs || len(bars) != c.bars {
			t.Errorf("%s: %d rows, count %d, %d bars; want %d, %d, %d", c.name, len(rows), count, len(bars), c.rows, c.jobs, c.bars)
			continue
		}
		if len(rows) > 0 && rows[0].Seq != 1 {
			t.Errorf("%s: table starts at job %d, want 1", c.name, rows[0].Seq)
		}
		if len(bars) > 0 && bars[0].Seq != int64(c.firstBarSeq) {
			t.Errorf("%s: timeline starts at job %d, want %d (the latest started)", c.name, bars[0].Seq, c.firstBarSeq)
		}
		for _, b := range bars {
			if b.State == cluster.JobQueued {
				t.Errorf("%s: queued job %d on the timeline", c.name, b.Seq)
			}
		}
	}
}
