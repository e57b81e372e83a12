package cluster_test

import (
	"testing"

	"crew/cluster"
)

// FuzzParseJobKey: the keys of a run's results come from whoever writes
// to the results bucket; reading them must never panic, and a key taken
// for a job names a real sequence number and try.
func FuzzParseJobKey(f *testing.F) {
	f.Add("RUN", "RUN.1.1")
	f.Add("RUN", "RUN.b3")
	f.Add("RUN", "RUN.0.1")
	f.Add("RUN", "RUN.12.x")
	f.Add("RUN", "OTHER.1.1")
	f.Fuzz(func(t *testing.T, id, key string) {
		seq, try, ok := cluster.ParseJobKey(id, key)
		if ok && (seq < 1 || try < 1) {
			t.Errorf("ParseJobKey(%q, %q) = %d, %d, true", id, key, seq, try)
		}
	})
}
