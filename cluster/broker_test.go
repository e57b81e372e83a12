package cluster_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crew/cluster"
)

// TestBrokerStartErrors: a broker that cannot start says why at once,
// instead of "did not start listening" after a wait.
func TestBrokerStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  cluster.BrokerConfig
		want string
	}{
		{"busy port", cluster.BrokerConfig{Listen: busy.Addr().String(), StoreDir: t.TempDir()}, "address already in use"},
		{"store under a file", cluster.BrokerConfig{Listen: "127.0.0.1:0", StoreDir: filepath.Join(file, "store")}, "not a directory"},
		{"store in /proc", cluster.BrokerConfig{Listen: "127.0.0.1:0", StoreDir: "/proc/nope"}, "/proc/nope"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := cluster.StartBroker(c.cfg)
			if err == nil {
				b.Close()
				t.Fatal("broker started")
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "cluster: ") {
				t.Errorf("error %q, want it to name %q", err, c.want)
			}
		})
	}
}

// TestBrokerEverywhere: a broker on every interface announces a URL that
// works, not nats://0.0.0.0:port.
func TestBrokerEverywhere(t *testing.T) {
	b, err := cluster.StartBroker(cluster.BrokerConfig{Listen: "0.0.0.0:0", StoreDir: t.TempDir(), Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.HasPrefix(b.URL(), "nats://127.0.0.1:") || !b.ListensEverywhere() {
		t.Errorf("URL %s, everywhere %v", b.URL(), b.ListensEverywhere())
	}
	e := newExecutorCreds(t, b.URL(), cluster.Credentials{Token: "t"})
	_ = e.Close()
}
