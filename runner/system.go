package runner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrBadJobs is wrapped by the error ParseJobs returns for a malformed -j.
var ErrBadJobs = errors.New("runner: bad -j value")

// ErrBadSize is wrapped by the error ParseSize returns for a malformed size.
var ErrBadSize = errors.New("runner: bad size")

// jobsLimit bounds -j 0 ("as many as possible"): each job costs a process
// and a few file descriptors, so the bound also follows RLIMIT_NOFILE.
const jobsLimit = 1024

// ParseJobs parses GNU parallel's -j value for a machine with ncpu CPUs:
// N, 0 (as many as possible, bounded by 1024 and the open-file limit),
// N% of the CPUs, +N or -N CPUs more or fewer. The result is at least 1.
func ParseJobs(s string, ncpu int) (int, error) {
	bad := func() (int, error) { return 0, badValue(ErrBadJobs, "%q (want N, 0, N%%, +N or -N)", s) }
	if s == "" {
		return bad()
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || !(f > 0) || f > 1e6 {
			return bad()
		}
		return max(1, int(float64(ncpu)*f/100)), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < -1e6 || n > 1e6 {
		return bad()
	}
	switch s[0] {
	case '+', '-':
		return max(1, ncpu+n), nil
	}
	if n == 0 {
		return maxJobs(), nil
	}
	return n, nil
}

func maxJobs() int {
	n := jobsLimit
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < uint64(4*n+64) {
		n = max(1, int(rl.Cur-64)/4)
	}
	return n
}

// loadAvg returns the one-minute load average, or 0 if unknown.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _, _ := bytes.Cut(b, []byte(" "))
	v, _ := strconv.ParseFloat(string(f), 64)
	return v
}

// memAvailable returns MemAvailable in bytes, or a huge value if unknown
// so that --memfree never blocks forever on a system without /proc.
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 1 << 62
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 1 << 62
}

// ParseSize parses a --memfree size: a number with an optional k, M, G or
// T suffix (powers of 1024, as GNU parallel).
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	if s != "" {
		switch s[len(s)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		case 't', 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			s = s[:len(s)-1]
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f*float64(mult) > 1<<62 {
		return 0, badValue(ErrBadSize, "%q (want a number with an optional k, M, G or T)", s)
	}
	return int64(f * float64(mult)), nil
}

// wait holds the next start back for --delay, --load and --memfree. It
// reports false when the run stopped meanwhile.
func (r *run) wait(ctx context.Context, lastStart time.Time) bool {
	if d := r.cfg.Delay - time.Since(lastStart); r.cfg.Delay > 0 && !lastStart.IsZero() && d > 0 {
		if !sleepCtx(ctx, d, r.cfg.Drain) {
			return false
		}
	}
	for r.cfg.MaxLoad > 0 || r.cfg.MemFree > 0 {
		if (r.cfg.MaxLoad <= 0 || loadAvg() <= r.cfg.MaxLoad) &&
			(r.cfg.MemFree <= 0 || memAvailable() >= r.cfg.MemFree) {
			break
		}
		if !sleepCtx(ctx, 250*time.Millisecond, r.cfg.Drain) {
			return false
		}
	}
	return !r.stopping.Load()
}

func sleepCtx(ctx context.Context, d time.Duration, drain <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-drain:
	}
	return false
}
