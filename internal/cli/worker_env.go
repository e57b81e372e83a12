package cli

import (
	"os"
	"strings"
)

// scrubJobEnv removes from crew worker's own environment, which its jobs
// inherit, what belongs to the worker and not to a job: the broker's
// credentials (read before this, never a job's business) and the
// PARALLEL_* variables of a job the worker itself may be running as
// (under crew run or GNU parallel), which would otherwise pass for the
// job's own. A job's variables come with it (--env, PARALLEL_SEQ, ...).
func scrubJobEnv() {
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case name == "CREW_NATS_TOKEN", name == "CREW_NATS_USER", name == "CREW_NATS_PASSWORD",
			name == "PARALLEL", strings.HasPrefix(name, "PARALLEL_"):
			_ = os.Unsetenv(name)
		}
	}
}
