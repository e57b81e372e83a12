package cli

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"crew/cluster"
)

// TestBrokerFlags checks what crew broker's flags parse into.
func TestBrokerFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want brokerOptions
	}{
		{nil, brokerOptions{listen: "127.0.0.1:4222"}},
		{[]string{"--sync", "always", "--store", "/s", "--listen", ":0", "--url-file", "u"},
			brokerOptions{syncAlways: true, store: "/s", listen: ":0", urlFile: "u"}},
		{[]string{"--metrics-addr", ":9100", "--http", "127.0.0.1:8222"}, brokerOptions{listen: "127.0.0.1:4222", metricsAddr: ":9100", httpAddr: "127.0.0.1:8222"}},
		{[]string{"--sync", "2"}, brokerOptions{listen: "127.0.0.1:4222", syncInterval: 2 * time.Second}},
		{[]string{"--retention", "2h"}, brokerOptions{listen: "127.0.0.1:4222", retention: 2 * time.Hour}},
		{[]string{"--token", "t", "--user", "u", "--password", "p", "--tls-cert", "c", "--tls-key", "k"},
			brokerOptions{listen: "127.0.0.1:4222", token: "t", user: "u", password: "p", tlsCert: "c", tlsKey: "k"}},
	} {
		if c.want.retention == 0 {
			c.want.retention = cluster.DefaultRetention
		}
		got, err := parseCmd(t, newBrokerCmd, c.args...)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		if diff := cmp.Diff(c.want, *got, cmp.AllowUnexported(brokerOptions{}), cmpopts.IgnoreFields(brokerOptions{}, "streams")); diff != "" {
			t.Errorf("%q: options differ (-want +got):\n%s", c.args, diff)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--sync", "0"}, "want always or a positive duration"},
		{[]string{"--sync", "never"}, `not "never"`},
		{[]string{"extra"}, "unknown command"},
		{[]string{"--retention", "-1h"}, "--retention"},
	} {
		_, err := parseCmd(t, newBrokerCmd, c.args...)
		wantErr(t, c.args, err, c.want)
	}
}
