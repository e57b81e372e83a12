//go:build !labwip

package lab

import (
	"context"
	"errors"
)

func pending(name string) Experiment {
	return Experiment{Name: name, Claim: "(not built yet)", Run: func(context.Context, Config) (*Result, error) {
		return nil, errors.New("lab: " + name + ": not built yet")
	}}
}

var (
	gilExperiment       = pending("gil")
	shareExperiment     = pending("share")
	semaphoreExperiment = pending("semaphore")
	cpuIOExperiment     = pending("cpu-vs-io")
	ipcExperiment       = pending("ipc")
	spawnExperiment     = pending("spawn")
	crashExperiment     = pending("crash")
)
