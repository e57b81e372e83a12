package cli

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"crew/cluster"
)

// TestWorkerFlags checks what crew worker's flags parse into.
func TestWorkerFlags(t *testing.T) {
	const url = "nats://127.0.0.1:4222"
	for _, c := range []struct {
		args []string
		want workerOptions
	}{
		{[]string{"--server", url}, workerOptions{server: url, jobs: 1, ackWait: cluster.DefaultAckWait, maxRuns: cluster.DefaultMaxRuns}},
		{[]string{"--server", url, "-j", "4", "--insecure", "--ack-wait", "90", "--max-runs", "2"},
			workerOptions{server: url, jobs: 4, insecure: true, ackWait: 90 * time.Second, maxRuns: 2}},
		{[]string{"--server=" + url, "--ack-wait=1m"}, workerOptions{server: url, jobs: 1, ackWait: time.Minute, maxRuns: cluster.DefaultMaxRuns}},
		{[]string{"--server", url, "--metrics-addr", ":9101", "--metrics-tls-cert", "c", "--metrics-tls-key", "k"},
			workerOptions{server: url, jobs: 1, ackWait: cluster.DefaultAckWait, maxRuns: cluster.DefaultMaxRuns,
				metrics: cluster.HTTPConfig{Addr: ":9101", TLSCert: "c", TLSKey: "k"}}},
		{[]string{"--server", url, "--tag", "gpu,bigmem", "--tag", "gpu"},
			workerOptions{server: url, jobs: 1, ackWait: cluster.DefaultAckWait, maxRuns: cluster.DefaultMaxRuns,
				tagLists: []string{"gpu,bigmem", "gpu"}, tags: []string{"bigmem", "gpu"}}},
	} {
		got, err := parseCmd(t, newWorkerCmd, c.args...)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if diff := cmp.Diff(c.want, *got, cmp.AllowUnexported(workerOptions{}), cmpopts.IgnoreFields(workerOptions{}, "streams")); diff != "" {
			t.Errorf("%q: options differ (-want +got):\n%s", c.args, diff)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, `required flag(s) "server" not set`},
		{[]string{"--server", url, "extra"}, "unknown command"},
		{[]string{"--server", url, "-j", "0"}, "-j must be at least 1, not 0"},
		{[]string{"--server", url, "--ack-wait", "0"}, "--ack-wait must be positive, not 0s"},
		{[]string{"--server", url, "--ack-wait", "-1s"}, "--ack-wait must be positive"},
		{[]string{"--server", url, "--max-runs", "0"}, "--max-runs must be at least 1"},
		{[]string{"--server", url, "--tag", ""}, `--tag: bad tag "" in "": a tag must not be empty`},
		{[]string{"--server", url, "--tag", "gpu,"}, `--tag: bad tag "" in "gpu,": a tag must not be empty`},
		{[]string{"--server", url, "--tag", "g.u"}, `--tag: bad tag "g.u" in "g.u": only letters, digits, '-' and '_'`},
	} {
		_, err := parseCmd(t, newWorkerCmd, c.args...)
		wantErr(t, c.args, err, c.want)
	}
}
