//go:build labwip

package lab

import (
	"context"
	"os"
	"time"

	"crew/proc"
)

// The functions lab runs in worker processes. They are registered at package
// level, so that a crew binary started as a worker (proc.Main) knows them.

// sumTask asks a worker process for the sum of a range.
type sumTask struct {
	A, B   uint64
	Rounds int
}

// sumOut is a worker process's sum and when, in Unix nanoseconds, it ran.
type sumOut struct {
	Total      uint64
	Start, End int64
	PID        int
}

var procSum = proc.Register("lab.sum", func(ctx context.Context, in sumTask) (sumOut, error) {
	start := time.Now()
	t := sumRange(in.A, in.B, in.Rounds)
	return sumOut{Total: t, Start: start.UnixNano(), End: time.Now().UnixNano(), PID: os.Getpid()}, nil
})
