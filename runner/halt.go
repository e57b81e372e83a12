package runner

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// ErrBadHalt is wrapped by the error ParseHalt returns for a malformed
// --halt value.
var ErrBadHalt = errors.New("runner: bad --halt value")

// HaltWhen says what happens to running jobs when a run halts.
type HaltWhen int

const (
	// HaltNever never halts (the zero value).
	HaltNever HaltWhen = iota
	// HaltSoon starts no new jobs and lets the running ones finish.
	HaltSoon
	// HaltNow also stops the running jobs.
	HaltNow
)

// HaltOn says which jobs count towards halting.
type HaltOn int

const (
	// HaltOnFail counts failed jobs.
	HaltOnFail HaltOn = iota
	// HaltOnSuccess counts jobs that succeeded.
	HaltOnSuccess
	// HaltOnDone counts every finished job.
	HaltOnDone
)

// Halt is GNU parallel's --halt: stop the run when Count jobs (or Percent
// per cent of all jobs) have failed, succeeded or finished.
type Halt struct {
	When    HaltWhen
	On      HaltOn
	Count   int
	Percent float64
}

// ParseHalt parses a --halt value: "never", "now,fail=1", "soon,fail=10%",
// "now,success=2", "soon,done=3", or GNU parallel's old 0, 1, 2 (never,
// soon,fail=1, now,fail=1).
func ParseHalt(s string) (Halt, error) {
	switch s {
	case "never", "0":
		return Halt{}, nil
	case "1":
		return Halt{When: HaltSoon, Count: 1}, nil
	case "2":
		return Halt{When: HaltNow, Count: 1}, nil
	}
	bad := func() (Halt, error) {
		return Halt{}, badValue(ErrBadHalt, "%q (want now|soon,fail|success|done=N|N%%)", s)
	}
	when, cond, ok := strings.Cut(s, ",")
	if !ok {
		return bad()
	}
	var h Halt
	switch when {
	case "now":
		h.When = HaltNow
	case "soon":
		h.When = HaltSoon
	default:
		return bad()
	}
	on, val, ok := strings.Cut(cond, "=")
	if !ok {
		return bad()
	}
	switch on {
	case "fail":
		h.On = HaltOnFail
	case "success":
		h.On = HaltOnSuccess
	case "done":
		h.On = HaltOnDone
	default:
		return bad()
	}
	if p, ok := strings.CutSuffix(val, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || !(f > 0 && f <= 100) {
			return bad()
		}
		h.Percent = f
		return h, nil
	}
	n, err := strconv.Atoi(val)
	if err != nil || n < 1 {
		return bad()
	}
	h.Count = n
	return h, nil
}

func (h Halt) validate() error {
	if h.When == HaltNever {
		return nil
	}
	if h.Count < 1 && !(h.Percent > 0 && h.Percent <= 100) {
		return badValue(ErrBadHalt, "needs a count or a percentage")
	}
	return nil
}

// check decides, under r.mu after a job is counted, whether the run halts
// and with which exit status, as GNU parallel does.
func (h Halt) check(r *run, failed bool, res Result) (bool, int) {
	if h.When == HaltNever {
		return false, 0
	}
	var n int64
	switch {
	case h.On == HaltOnFail && failed:
		n = r.sum.Failed
	case h.On == HaltOnSuccess && !failed:
		n = r.finished - r.sum.Failed
	case h.On == HaltOnDone:
		n = r.finished
	default:
		return false, 0
	}
	limit := float64(h.Count)
	if h.Percent > 0 {
		limit = h.Percent / 100 * float64(r.total)
	}
	if float64(n) < limit {
		return false, 0
	}
	if h.On == HaltOnSuccess {
		return true, 0
	}
	status := int(min(r.sum.Failed, 101))
	if h.Percent > 0 {
		status = int(math.Ceil(float64(r.sum.Failed) / float64(max(r.total, 1)) * 100))
	}
	if h.Count == 1 {
		status = res.Exit
		if res.Signal != 0 {
			status = 128 + res.Signal
		}
		if status < 0 {
			status = 255
		}
	}
	return true, status
}
